"""APGD-CE, APGD-T and the DLR loss (Croce & Hein 2020, arXiv 2003.01690): the checkpoint
schedule of the reference code, DLR's invariances, closed-form optima on linear models, the
step-size rule, one compiled step, and never weaker than PGD on trained models."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import data, models
from jaxlab.adversarial import apgd, attacks, evaluation
from jaxlab.training import loop, steps


def _linear(w, b):
  """A linear classifier `apply_fn(params, x) -> (N, C)` with params `(W (d, C), b (C,))`."""

  def apply_fn(params, x):
    return jnp.reshape(x, (x.shape[0], -1)) @ params[0] + params[1][None, :]

  return apply_fn, (w, b)


def _box_corner(x, d, eps):
  """argmax of d . x' over the L-inf ball of radius eps around x intersected with [0, 1]^n."""
  return np.where(d > 0, np.minimum(x + eps, 1.0), np.maximum(x - eps, 0.0))


def test_checkpoint_schedule_is_the_reference_codes():
  # The package's loop: counter3 counts iterations, a check fires when it reaches k, then
  # k <- max(k - size_decr, n_iter_min).
  for n_iter in (1, 5, 10, 100, 1000):
    k, k_min, decr = max(int(0.22 * n_iter), 1), max(int(0.06 * n_iter), 1), max(
        int(0.03 * n_iter), 1)
    want, counter = {}, 0
    for i in range(n_iter):
      counter += 1
      if counter == k:
        want[i] = k
        k, counter = max(k - decr, k_min), 0
    check, window = apgd.checkpoint_schedule(n_iter)
    assert {int(i): int(window[i]) for i in np.flatnonzero(check)} == want
  check, window = apgd.checkpoint_schedule(100)
  assert list(np.flatnonzero(check)) == [21, 40, 56, 69, 79, 86, 92, 98]


def test_dlr_losses_invariances_and_sign():
  rng = np.random.default_rng(0)
  z = jnp.asarray(rng.normal(size=(64, 10)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, 64), jnp.int32)
  t = jnp.asarray((np.asarray(y) + 1 + rng.integers(0, 9, 64)) % 10, jnp.int32)
  a = jnp.asarray(rng.uniform(0.1, 10.0, (64, 1)), jnp.float32)
  b = jnp.asarray(rng.normal(size=(64, 1)) * 100, jnp.float32)
  for loss in (lambda z_: apgd.dlr_loss(z_, y), lambda z_: apgd.dlr_targeted_loss(z_, y, t)):
    np.testing.assert_allclose(loss(a * z + b), loss(z), rtol=2e-4, atol=2e-5)
  perm = rng.permutation(10)  # relabelling the classes consistently changes nothing
  inv = jnp.asarray(np.argsort(perm), jnp.int32)
  zp, y_p, t_p = z[:, perm], inv[y], inv[t]
  np.testing.assert_allclose(apgd.dlr_loss(zp, y_p), apgd.dlr_loss(z, y), rtol=1e-6)
  np.testing.assert_allclose(apgd.dlr_targeted_loss(zp, y_p, t_p),
                             apgd.dlr_targeted_loss(z, y, t), rtol=1e-6)
  wrong = np.asarray(jnp.argmax(z, -1) != y)
  np.testing.assert_array_equal(np.asarray(apgd.dlr_loss(z, y)) > 0, wrong)
  # the closed form on one example: z = (3, 1, 0, -2), y = 1: -(1 - 3) / (3 - 0)
  z1 = jnp.asarray([[3.0, 1.0, 0.0, -2.0]])
  np.testing.assert_allclose(apgd.dlr_loss(z1, jnp.asarray([1])), [2.0 / 3.0], rtol=1e-6)
  np.testing.assert_allclose(apgd.dlr_targeted_loss(z1, jnp.asarray([0]), jnp.asarray([2])),
                             [-(3.0 - 0.0) / (3.0 - 0.5 * (0.0 - 2.0))], rtol=1e-6)
  with pytest.raises(ValueError, match="at least 3 classes"):
    apgd.dlr_loss(z[:, :2], jnp.zeros(64, jnp.int32))
  with pytest.raises(ValueError, match="at least 4 classes"):
    apgd.dlr_targeted_loss(z[:, :3], jnp.zeros(64, jnp.int32), jnp.ones(64, jnp.int32))


def test_apgd_ce_reaches_the_closed_form_optimum_on_a_two_class_linear_model():
  # Two classes: CE is increasing in the margin (w_1 - w_0) . x', which is linear, so the
  # L-inf optimum within the box is a corner, coordinate by coordinate.
  rng = np.random.default_rng(1)
  d, n, eps = 20, 32, 0.1
  w = rng.normal(size=(d, 2)).astype(np.float32)
  x = rng.uniform(size=(n, d)).astype(np.float32)
  y = rng.integers(0, 2, n).astype(np.int32)
  apply_fn, params = _linear(jnp.asarray(w), jnp.zeros(2, jnp.float32))
  s = apgd.run(apply_fn, params, jnp.asarray(x), jnp.asarray(y), jax.random.key(0), eps,
               n_iter=20)
  direction = np.where(y[:, None] == 0, w[:, 1] - w[:, 0], w[:, 0] - w[:, 1])
  x_opt = _box_corner(x, direction, eps)
  want = steps.cross_entropy(apply_fn(params, jnp.asarray(x_opt)), jnp.asarray(y))
  np.testing.assert_allclose(s.best_loss, want, rtol=1e-5)
  np.testing.assert_allclose(s.x_best, x_opt, atol=1e-6)
  # The loss stops rising at the optimum, so every checkpoint halves the step (condition 1).
  checks = int(apgd.checkpoint_schedule(20)[0].sum())
  assert checks == 14  # windows 4, 3, 2, then 1 from iteration 9 on
  np.testing.assert_allclose(s.step, 2 * eps / 2 ** checks, rtol=1e-6)


def test_apgd_l2_converges_to_the_l2_optimum_of_a_linear_margin():
  rng = np.random.default_rng(2)
  d, n, eps = 16, 16, 0.5
  w = rng.normal(size=(d, 2)).astype(np.float32)
  x = rng.normal(size=(n, d)).astype(np.float32)
  y = np.zeros(n, np.int32)
  apply_fn, params = _linear(jnp.asarray(w), jnp.zeros(2, jnp.float32))
  s = apgd.run(apply_fn, params, jnp.asarray(x), jnp.asarray(y), jax.random.key(3), eps,
               n_iter=100, norm="l2", box=None)
  g = w[:, 1] - w[:, 0]
  x_opt = x + eps * g / np.linalg.norm(g)
  want = steps.cross_entropy(apply_fn(params, jnp.asarray(x_opt)), jnp.asarray(y))
  np.testing.assert_allclose(s.best_loss, want, rtol=1e-3)
  assert float(attacks.lp_norm(s.x_best - x, "l2").max()) <= eps * (1 + 1e-5)


def test_autoattack_gradient_finds_exactly_the_non_robust_points_of_a_linear_model():
  # Multi-class linear model: an example is robust iff for every t != y the maximum of
  # (w_t - w_y) . x' + b_t - b_y over the ball and the box (a corner) stays below 0.
  rng = np.random.default_rng(3)
  d, c, n, eps = 12, 5, 200, 0.05
  w = rng.normal(size=(d, c)).astype(np.float32)
  b = rng.normal(size=c).astype(np.float32) * 0.1
  x = rng.uniform(size=(n, d)).astype(np.float32)
  y = np.argmax(x @ w + b, -1).astype(np.int32)  # all clean points correct
  y[:10] = (y[:10] + 1) % c                      # ... but 10
  worst = np.full(n, -np.inf)
  for t in range(c):
    dt = w[:, t][None, :] - w[:, y].T                         # (n, d)
    corner = _box_corner(x, dt, eps)
    gap = np.sum(dt * corner, -1) + b[t] - b[y]
    worst = np.where(y == t, worst, np.maximum(worst, gap))
  robust = worst < 0
  margin = np.abs(worst)
  assert margin.min() > 1e-3 and 0.2 < robust.mean() < 0.9  # no example on the boundary
  apply_fn, params = _linear(jnp.asarray(w), jnp.asarray(b))
  accs = evaluation.autoattack_gradient(apply_fn, params, x, y, jax.random.key(4), eps,
                                        n_iter=20, n_target_classes=c - 1, batch_size=64)
  assert accs["clean"] == pytest.approx(1 - 10 / n)
  assert accs["autoattack_gradient"] == pytest.approx(robust.mean())
  assert accs["apgd_ce"] >= accs["autoattack_gradient"]


def test_attack_stays_in_the_ball_and_box_and_compiles_one_step():
  rng = np.random.default_rng(5)
  w = jnp.asarray(rng.normal(size=(25, 10)), jnp.float32)
  apply_fn, params = _linear(w, jnp.zeros(10, jnp.float32))
  x = jnp.asarray(rng.uniform(size=(8, 5, 5, 1)), jnp.float32)
  y = jnp.arange(8, dtype=jnp.int32) % 10
  traces = []

  def counting_apply(p, z):  # runs once per trace (compilation) that calls the model
    traces.append(z.shape)
    return apply_fn(p, z)

  counts = []
  for eps in (0.03, 0.1):  # a new radius is a traced argument: no new compilation
    x_adv, _ = apgd.apgd_t(counting_apply, params, x, y, jax.random.key(0), eps, n_iter=12,
                           n_target_classes=3)
    counts.append(len(traces))
    assert float(attacks.lp_norm(x_adv - x, "linf").max()) <= eps + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
  assert counts[0] >= 1 and counts[1] == counts[0], counts
  logits = apply_fn(params, x)
  np.testing.assert_array_equal(apgd.target_classes(apply_fn, params, x, 2),
                                jnp.argsort(logits, -1)[:, -2])
  with pytest.raises(ValueError, match="n_target_classes"):
    apgd.apgd_t(apply_fn, params, x, y, jax.random.key(0), 0.1, n_target_classes=10)
  with pytest.raises(ValueError, match="restarts"):
    apgd.apgd_ce(apply_fn, params, x, y, jax.random.key(0), 0.1, restarts=0)


def test_apgd_is_never_weaker_than_pgd_on_the_studys_cnn():
  ds = data.load("digits", seed=0)
  model = models.build("cnn", outputs=10, width=16, depth=1)
  tx = optax.adam(3e-3)

  def loss_fn(p, batch, key):
    del key
    return jnp.mean(steps.cross_entropy(model.apply(p, batch["x"]), batch["y"])), {}

  s = steps.TrainState.create(models.init(model, jax.random.key(0), ds.train.x[:1]), tx)
  s, _ = loop.fit(s, steps.make_train_step(loss_fn, tx), ds.train, key=jax.random.key(1),
                  num_epochs=4, batch_size=64)
  x, y, eps = ds.test.x[:96], ds.test.y[:96], 0.1
  clean = float(attacks.accuracy(model.apply, s.params, x, y))
  assert clean > 0.7
  x_pgd = attacks.pgd(model.apply, s.params, x, y, jax.random.key(2), eps, eps / 4, steps=25,
                      restarts=1)
  pgd = float(attacks.accuracy(model.apply, s.params, x_pgd, y))
  aa = evaluation.autoattack_gradient(model.apply, s.params, x, y, jax.random.key(3), eps,
                                      n_iter=25, n_target_classes=3, batch_size=96)
  assert aa["autoattack_gradient"] <= aa["apgd_ce"] <= aa["clean"] == clean
  assert aa["autoattack_gradient"] <= pgd < clean, (aa, pgd)
