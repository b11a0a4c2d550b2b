"""The adversarial core: attacks, local linearity, ELLE-A's lambda, the AT train step, the
evaluation battery and the CO experiment (paper 9)."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import data, models
from jaxlab.adversarial import (attacks, catastrophic_overfitting, evaluation, lambda_schedule,
                                linearity, training)
from jaxlab.config import ConfigError
from jaxlab.training import loop, steps

from conftest import REPO


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", seed=0)


def _linear(w, b):
  """A linear classifier `apply_fn(params, x) -> (N, C)` with params `(W (d, C), b (C,))`."""

  def apply_fn(params, x):
    return jnp.reshape(x, (x.shape[0], -1)) @ params[0] + params[1][None, :]

  return apply_fn, (w, b)


# Perturbation geometry ----------------------------------------------------------------------------
def test_fgsm_rs_fgsm_n_fgsm_perturbation_norms():
  key = jax.random.key(0)
  kx, kw, ka = jax.random.split(key, 3)
  x = jax.random.uniform(kx, (64, 5, 5, 1))
  apply_fn, params = _linear(jax.random.normal(kw, (25, 3)), jnp.zeros(3))
  y = jnp.arange(64) % 3
  eps = 0.1
  delta = attacks.fgsm(apply_fn, params, x, y, eps, box=None) - x
  np.testing.assert_allclose(attacks.lp_norm(delta, "linf"), eps, rtol=1e-6)
  np.testing.assert_allclose(jnp.abs(delta), eps, rtol=1e-6)  # every pixel moves by eps
  # L2 FGSM moves exactly eps in L2.
  delta2 = attacks.fgsm(apply_fn, params, x, y, eps, norm="l2", box=None) - x
  np.testing.assert_allclose(attacks.lp_norm(delta2, "l2"), eps, rtol=1e-5)
  # With the data range, points stay in [0, 1] and within eps.
  x_box = attacks.fgsm(apply_fn, params, x, y, eps)
  assert float(x_box.min()) >= 0.0 and float(x_box.max()) <= 1.0
  assert float(attacks.lp_norm(x_box - x, "linf").max()) <= eps + 1e-6
  rs = attacks.rs_fgsm(apply_fn, params, x, y, ka, eps, box=None) - x
  assert float(attacks.lp_norm(rs, "linf").max()) <= eps + 1e-6
  nf = attacks.n_fgsm(apply_fn, params, x, y, ka, eps, box=None) - x
  norms = attacks.lp_norm(nf, "linf")
  assert float(norms.max()) <= 3 * eps + 1e-6
  assert float(norms.min()) > eps  # the noise (2 eps) plus the step leave the eps-ball
  nf2 = attacks.n_fgsm(apply_fn, params, x, y, ka, eps, norm="l2", box=None) - x
  assert float(attacks.lp_norm(nf2, "l2").max()) <= 3 * eps + 1e-5


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_the_data_range(digits, norm):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  x, y = digits.test.x[:48], digits.test.y[:48]
  eps = 0.3 if norm == "linf" else 1.5
  x_adv = attacks.pgd(model.apply, params, x, y, jax.random.key(1), eps, eps / 4, steps=5,
                      restarts=2, norm=norm)
  assert float(attacks.lp_norm(x_adv - x, norm).max()) <= eps * (1 + 1e-5)
  assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
  assert float(attacks.accuracy(model.apply, params, x_adv, y)) <= float(
      attacks.accuracy(model.apply, params, x, y))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_on_a_linear_model_finds_the_analytic_worst_case(x64, norm):
  # Two classes, logits (0, w.x + b): for label 0 the loss grows with w.x, so the worst case
  # in the ball is x + eps sign(w) (L-inf) or x + eps w / |w| (L2).
  kx, kw = jax.random.split(jax.random.key(3))
  x = jax.random.uniform(kx, (8, 6), minval=0.3, maxval=0.7)
  w = jax.random.normal(kw, (6,))
  apply_fn, params = _linear(jnp.stack([jnp.zeros(6), w], 1), jnp.zeros(2))
  y = jnp.zeros(8, jnp.int32)
  eps = 0.2
  worst = x + eps * (jnp.sign(w) if norm == "linf" else w / jnp.linalg.norm(w))[None, :]
  for loss_pgd in (attacks.pgd, attacks.margin_pgd):
    x_adv = loss_pgd(apply_fn, params, x, y, jax.random.key(0), eps, eps, steps=30,
                     norm=norm, box=None)
    np.testing.assert_allclose(x_adv, worst, atol=1e-5)
  # With the data range the optimum is the clipped corner (L-inf), here reached as well.
  x_edge = x.at[:, 0].set(0.95)
  corner = jnp.clip(x_edge + eps * jnp.sign(w)[None, :], 0.0, 1.0)
  x_adv = attacks.pgd(apply_fn, params, x_edge, y, jax.random.key(0), eps, eps / 2, steps=20)
  np.testing.assert_allclose(x_adv, corner, atol=1e-5)


def test_margin_loss_closed_form():
  logits = jnp.array([[3.0, 1.0, 2.5], [0.0, 4.0, 1.0]])
  np.testing.assert_allclose(attacks.margin_loss(logits, jnp.array([0, 0])), [-0.5, 4.0])


def test_more_restarts_never_raise_pgd_accuracy_and_eps_does_not_recompile(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  x, y = digits.test.x[:64], digits.test.y[:64]
  key = jax.random.key(5)
  one = attacks.correct(model.apply, params,
                        attacks.pgd(model.apply, params, x, y, key, 0.1, 0.025, steps=3), y)
  size = attacks._iteration._cache_size()  # pylint: disable=protected-access
  many = attacks.correct(model.apply, params, attacks.pgd(model.apply, params, x, y, key, 0.1,
                                                          0.025, steps=3, restarts=4), y)
  assert bool(jnp.all(many <= one))  # nested restarts: a broken example stays broken
  attacks.pgd(model.apply, params, x, y, key, 0.2, 0.05, steps=3)
  assert attacks._iteration._cache_size() == size  # pylint: disable=protected-access


# Local linearity ----------------------------------------------------------------------------------
def test_local_linearity_error_is_zero_for_an_affine_loss(x64):
  kx, kg, kt = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (32, 4, 4, 1), jnp.float64)
  g = jax.random.normal(kg, (3, 16), jnp.float64)
  y = jnp.arange(32) % 3
  loss_fn = lambda z, labels: jnp.sum(jnp.reshape(z, (z.shape[0], -1)) * g[labels], -1) + 1.0
  e_lin, e = jax.jit(lambda k: linearity.local_linearity_error(loss_fn, x, y, k, 0.5))(kt)
  assert e.shape == (32,)
  assert float(jnp.max(jnp.abs(e))) < 1e-12 and float(e_lin) < 1e-24
  cos, _ = linearity.gradient_alignment(loss_fn, x, y, kt, 0.5)
  np.testing.assert_allclose(cos, 1.0, atol=1e-12)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_local_linearity_error_matches_the_quadratic_closed_form(x64, norm):
  kx, kh, kg, kt = jax.random.split(jax.random.key(1), 4)
  d = 12
  x = jax.random.normal(kx, (16, d), jnp.float64)
  a = jax.random.normal(kh, (d, d), jnp.float64)
  h = a + a.T
  g = jax.random.normal(kg, (d,), jnp.float64)
  loss_fn = lambda z, labels: 0.5 * jnp.einsum("ni,ij,nj->n", z, h, z) + z @ g
  y = jnp.zeros(16, jnp.int32)
  e_lin, e = linearity.local_linearity_error(loss_fn, x, y, kt, 0.3, norm=norm)
  x_a, x_b, _, alpha = linearity.triplets(kt, x, 0.3, norm=norm)
  diff = x_b - x_a
  expected = -(alpha * (1 - alpha) / 2) * jnp.einsum("ni,ij,nj->n", diff, h, diff)
  np.testing.assert_allclose(e, expected, rtol=1e-10, atol=1e-10)
  np.testing.assert_allclose(e_lin, np.mean(np.square(expected)), rtol=1e-10)
  assert float(jnp.abs(e).max()) > 1e-3  # the check is not vacuous
  assert float(attacks.lp_norm(x_a - x, norm).max()) <= 0.3 + 1e-12


# ELLE-A's lambda ----------------------------------------------------------------------------------
def _reference_elle_a(values, lam_max, decay=0.99, num_std=2.0, window=0):
  """The reference code's loop (numpy mean / population std of the history)."""
  lam, history, lams, triggers = 0.0, [], [], []
  for v in values:
    past = history[-window:] if window else history
    trigger = len(past) > 2 and v > np.mean(past) + num_std * np.std(past)
    lam = lam_max if trigger else decay * lam
    history.append(v)
    lams.append(lam)
    triggers.append(trigger)
  return np.array(lams), np.array(triggers)


@pytest.mark.parametrize("window", [0, 4])
def test_adaptive_lambda_on_a_scripted_error_sequence(x64, window):
  values = np.array([5.0, 0.5, 9.0,            # the first three steps never trigger
                     1.0, 1.1, 0.9, 1.0, 3.0,    # a spike only against the last 4 values
                     1.0, 1.0, 1.2, 0.8, 1.0, 1.05, 500.0, 1.0])
  sched = lambda_schedule.adaptive(100.0, window=window)

  def body(state, v):
    state = sched.update(v, state)
    return state, (state.lam, state.triggered)

  _, (lams, triggers) = jax.jit(lambda v: jax.lax.scan(body, sched.init(), v))(values)
  expected_lams, expected_triggers = _reference_elle_a(values, 100.0, window=window)
  np.testing.assert_array_equal(triggers, expected_triggers)
  np.testing.assert_allclose(lams, expected_lams, rtol=1e-12)
  assert not triggers[:3].any() and triggers[14]
  assert np.flatnonzero(triggers).tolist() == ([7, 14] if window else [14])
  np.testing.assert_allclose(lams[15], 99.0)  # decays by 0.99 after a trigger
  assert float(lams[13]) == (100.0 * 0.99 ** 6 if window else 0.0)


def test_lambda_state_statistics_are_the_history_mean_and_population_std(x64):
  sched = lambda_schedule.constant(3.0)
  state = sched.init()
  values = [0.5, 2.0, 1.5, 7.0]
  for v in values:
    state = sched.update(jnp.asarray(v), state)
  n, mean, std = lambda_schedule.history_stats(state)
  assert int(n) == 4 and float(state.lam) == 3.0
  np.testing.assert_allclose([mean, std], [np.mean(values), np.std(values)], rtol=1e-12)


# The adversarial training step --------------------------------------------------------------------
@pytest.mark.parametrize("name", training.METHODS)
def test_each_method_takes_exactly_one_optimizer_update_per_batch(digits, name):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  m = training.method(name, 0.1, lam=2.0, steps=2 if name == "pgd" else 1)
  tx = optax.sgd(0.5)
  batch = {"x": digits.train.x[:16], "y": digits.train.y[:16]}
  state = training.init_state(params, tx, m)
  key = jax.random.key(7)
  new_state, metrics = training.make_train_step(model.apply, tx, m)(state, batch, key)
  loss_fn = training.adversarial_loss(model.apply, m)
  grads = jax.jit(jax.grad(
      lambda p: loss_fn(p, batch, jax.random.fold_in(key, 0), state.loss_state)[0]))(params)
  expected = jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads)
  for a, b in zip(jax.tree_util.tree_leaves(new_state.params), jax.tree_util.tree_leaves(expected)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
  assert int(new_state.step) == 1 and int(new_state.loss_state.step) == 1
  assert 0.0 <= float(metrics["adv_accuracy"]) <= 1.0
  if m.regularizer == "elle":
    assert float(metrics["lin_err"]) > 0.0
    assert int(new_state.loss_state.lam.count) == 1
    assert float(metrics["lam"]) == (0.0 if m.adaptive else 2.0)
  if m.regularizer == "gradalign":
    assert -1.0 <= float(metrics["grad_cos"]) <= 1.0


def test_eps_warmup_ramps_the_training_radius():
  m = training.method("fgsm", 0.3, eps_warmup_steps=4)
  np.testing.assert_allclose([training.radius(m, jnp.asarray(s)) for s in range(6)],
                             [0.075, 0.15, 0.225, 0.3, 0.3, 0.3], rtol=1e-6)


def test_method_validation():
  with pytest.raises(ValueError, match="unknown method 'fgsm2'"):
    training.method("fgsm2", 0.1)
  with pytest.raises(ValueError, match="needs a regularizer"):
    training.method("fgsm", 0.1, adaptive=True)
  with pytest.raises(ValueError, match="unknown norm"):
    training.method("pgd", 0.1, norm="l1")


def test_fit_with_an_adaptive_lambda_resumes_exactly(digits, tmp_path):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  m = training.method("elle_a", 0.1, lam=100.0)
  tx = optax.sgd(0.1, momentum=0.9)
  step = training.make_train_step(model.apply, tx, m)

  def fit(checkpoint_dir=None, log_fn=None):
    return loop.fit(training.init_state(params, tx, m), step, digits.train,
                    key=jax.random.key(1), num_epochs=2, batch_size=256,
                    checkpoint_dir=checkpoint_dir, log_fn=log_fn)

  reference, history = fit()
  assert "train_lam" in history[0] and "train_lin_err" in history[0]

  class Stop(Exception):
    pass

  def interrupt(epoch, metrics):
    if epoch == 1:
      raise Stop()

  with pytest.raises(Stop):
    fit(str(tmp_path), interrupt)
  resumed, rest = fit(str(tmp_path))
  assert [h["epoch"] for h in rest] == [2]
  for a, b in zip(jax.tree_util.tree_leaves(resumed), jax.tree_util.tree_leaves(reference)):
    np.testing.assert_array_equal(a, b)


def test_stateless_train_state_is_backwards_compatible():
  state = steps.TrainState(jnp.zeros((), jnp.int32), {"w": jnp.ones(2)}, ())
  assert state.loss_state is None and len(jax.tree_util.tree_leaves(state)) == 2


# Evaluation ---------------------------------------------------------------------------------------
def test_attacked_correct_pads_batches_exactly(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  x, y = digits.test.x[:50], digits.test.y[:50]
  clean = lambda p, xb, yb, kb: xb
  expected = np.asarray(attacks.correct(model.apply, params, x, y))
  for batch_size in (7, 50, 64):
    got = evaluation.attacked_correct(model.apply, clean, params, x, y, jax.random.key(0),
                                      batch_size)
    np.testing.assert_array_equal(got, expected)


def test_robust_accuracies_and_masking_checks(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  state = steps.TrainState.create(params, optax.adam(1e-2))
  train_step = steps.make_train_step(steps.classification_loss(model.apply), optax.adam(1e-2))
  state, _ = loop.fit(state, train_step, digits.train, key=jax.random.key(0), num_epochs=3,
                      batch_size=64)
  accs = evaluation.robust_accuracies(model.apply, state.params, digits.test.x[:100],
                                      digits.test.y[:100], jax.random.key(2), 0.1, steps=6,
                                      restarts=2, step_scale=0.5, short_steps=2)
  assert accs["clean"] > 0.8
  assert accs["worst"] <= min(accs["pgd"], accs["margin_pgd"])
  assert accs["pgd"] < accs["noise"]
  checks = evaluation.masking_checks(accs, 100)
  assert all(checks.values()), (accs, checks)
  # Too few small steps make PGD weaker than FGSM on a nearly linear model: the check sees it.
  weak = evaluation.robust_accuracies(model.apply, state.params, digits.test.x[:100],
                                      digits.test.y[:100], jax.random.key(2), 0.1, steps=2,
                                      restarts=1, step_scale=0.25, short_steps=1)
  assert not evaluation.masking_checks(weak, 100)["fgsm_ge_pgd"], weak
  bad = dict(accs, noise=accs["pgd"] - 0.05)
  assert not evaluation.masking_checks(bad, 100)["noise_ge_pgd"]
  assert evaluation.is_catastrophic(0.0, 0.9)
  assert not evaluation.is_catastrophic(0.3, 0.9)
  assert not evaluation.is_catastrophic(0.0, 0.1)  # a dead model is not CO


# The experiment ----------------------------------------------------------------------------------
TINY = dict(methods=("fgsm", "elle_a"), eps=(0.1, 0.2), seeds=(0,), image_size=8, width=8,
            depth=1, num_epochs=2, eps_warmup_epochs=1, batch_size=128, curve_examples=32,
            curve_pgd_steps=2,
            probe_examples=32, eval_steps=2, eval_restarts=2, eval_short_steps=1)


def test_experiment_results_contract_and_resume(tmp_path):
  config = catastrophic_overfitting.Config(**TINY)
  results = catastrophic_overfitting.run(config, str(tmp_path))
  assert {"eps", "runs", "summary", "step_cost_ratio"} <= set(results)
  assert results["eps"] == [0.1, 0.2] and len(results["runs"]) == 4
  required = {"method", "eps", "seed", "clean_acc", "pgd_acc", "best_pgd_acc", "co", "step_ms"}
  for r in results["runs"]:
    assert required <= set(r)
    assert 0.0 <= r["pgd_acc"] <= r["attacks"]["pgd_1"] + 1e-9
  assert set(results["summary"]) == {"fgsm", "elle_a"}
  assert set(results["summary"]["fgsm"]) == {"0.1", "0.2"}
  assert {"pgd_acc_mean", "co_rate"} <= set(results["summary"]["fgsm"]["0.1"])
  assert set(results["step_cost_ratio"]) == {"elle/fgsm", "gradalign/elle", "pgd10/elle"}
  assert results["step_cost_ratio"]["gradalign/elle"] is None  # not in the grid
  stored = json.loads((tmp_path / "results.json").read_text())
  assert stored["summary"] == results["summary"]
  lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
  assert len(lines) == 4 * 2  # runs x epochs
  assert {"method", "eps", "seed", "pgd_acc", "lin_err", "fgsm_acc"} <= set(json.loads(lines[0]))
  for name in ("pgd_acc_vs_eps", "co_run"):
    assert (tmp_path / "plots" / f"{name}.png").exists()
  # Resuming a finished grid reruns nothing and reproduces the results.
  again = catastrophic_overfitting.run(config, str(tmp_path), resume=True)
  assert again["runs"] == results["runs"]
  assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 8


def test_config_errors_name_the_field():
  with pytest.raises(ConfigError, match="methods: got 'fgsm2'"):
    catastrophic_overfitting.Config(methods=("fgsm2",))
  with pytest.raises(ConfigError, match="eps"):
    catastrophic_overfitting.Config(eps=(0.0,))
  with pytest.raises(ConfigError, match="eps_warmup_epochs"):
    catastrophic_overfitting.Config(num_epochs=2, eps_warmup_epochs=3)


@pytest.mark.parametrize("flag, message", [
    ("--methods=fgsm,foo", "--methods: got 'foo', expected one of: fgsm, rs_fgsm, n_fgsm, pgd"),
    ("--eps=0.3,abc", "--eps: expected a comma-separated list of float"),
    ("--eps_warmup_epochs=30", "--eps_warmup_epochs: must be <= num_epochs (20), got 30"),
])
def test_cli_rejects_bad_flags_before_any_work(tmp_path, flag, message):
  smoke = os.path.join(REPO, "experiments", "flags", "elle_smoke.flags")
  proc = subprocess.run([sys.executable, "-m", "experiments.elle", f"--flagfile={smoke}", flag,
                         f"--workdir={tmp_path / 'w'}"], cwd=REPO, capture_output=True,
                        text=True, timeout=120, check=False)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
  assert not (tmp_path / "w" / "results.json").exists()
