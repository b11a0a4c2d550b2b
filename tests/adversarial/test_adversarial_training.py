"""The adversarial train step: one optimiser update per batch for every method, the typed
regulariser records, the eps warm-up, validation and exact resume."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import data, models
from jaxlab.adversarial import linearity, training
from jaxlab.training import guard, loop, steps


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", seed=0)


def _mlp(ds):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  return model, models.init(model, jax.random.key(0), ds.train.x[:1])


@pytest.mark.parametrize("name", training.METHODS)
def test_each_method_takes_exactly_one_optimizer_update_per_batch(digits, name):
  model, params = _mlp(digits)
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
  for a, b in zip(jax.tree_util.tree_leaves(new_state.params),
                  jax.tree_util.tree_leaves(expected)):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
  assert int(new_state.step) == 1 and int(new_state.loss_state.step) == 1
  assert 0.0 <= float(metrics["adv_accuracy"]) <= 1.0
  if m.penalty is training.ELLE:
    assert float(metrics["lin_err"]) > 0.0
    assert int(new_state.loss_state.lam.count) == 1
    assert float(metrics["lam"]) == (0.0 if m.adaptive else 2.0)
  if m.penalty is training.GRADALIGN:
    assert -1.0 <= float(metrics["grad_cos"]) <= 1.0


@pytest.mark.parametrize("name, metric, measure", [
    ("elle", "lin_err", linearity.local_linearity_error),
    ("gradalign", "grad_cos", linearity.gradient_alignment)])
def test_the_regularizer_record_reports_what_linearity_computes(digits, name, metric, measure):
  model, params = _mlp(digits)
  m = training.method(name, 0.1, lam=2.0)
  assert m.penalty.name == name and m.penalty.metric == metric
  batch = {"x": digits.train.x[:16], "y": digits.train.y[:16]}
  key = jax.random.key(3)
  state = training.init_state(params, optax.sgd(0.1), m)
  _, (aux, _) = training.adversarial_loss(model.apply, m)(params, batch, key, state.loss_state)
  _, reg_key = jax.random.split(key)  # the loss splits (attack, regulariser)
  expected, _ = measure(linearity.example_losses(model.apply, params), batch["x"], batch["y"],
                        reg_key, 0.1)
  np.testing.assert_allclose(aux[metric], expected, rtol=1e-5)
  assert training.method("fgsm", 0.1).penalty is None
  assert "lin_err" not in aux or name == "elle"


def test_method_records_and_labels():
  assert training.REGULARIZERS == ("none", "gradalign", "elle")
  assert training.method("elle_a", 0.3).label == "ELLE-A"
  assert training.method("pgd", 0.3, steps=7).label == "PGD-7"
  assert training.method("n_fgsm_elle_a", 0.3).penalty is training.ELLE


def test_eps_warmup_ramps_the_training_radius():
  m = training.method("fgsm", 0.3, eps_warmup_steps=4)
  np.testing.assert_allclose([training.radius(m, jnp.asarray(s)) for s in range(6)],
                             [0.075, 0.15, 0.225, 0.3, 0.3, 0.3], rtol=1e-6)


@pytest.mark.parametrize("after_warmup", [False, True])
def test_elle_a_after_warmup_freezes_the_schedule_while_the_radius_ramps(digits, after_warmup):
  model, params = _mlp(digits)
  m = training.method("elle_a", 0.3, lam=100.0, eps_warmup_steps=4,
                      adaptive_after_warmup=after_warmup)
  tx = optax.sgd(0.1)
  loss = training.adversarial_loss(model.apply, m)
  state = training.init_state(params, tx, m)
  step = jax.jit(steps.make_train_step(loss, tx, stateful=True, jit=False))
  batch = {"x": digits.train.x[:32], "y": digits.train.y[:32]}
  counts, lam_used = [], []
  for i in range(6):
    state, metrics = step(state, batch, jax.random.key(i))
    counts.append(int(state.loss_state.lam.count))
    lam_used.append(float(metrics["lam"]))
  if after_warmup:   # radius 0.075, 0.15, 0.225 at steps 0-2: nothing recorded, lambda 0
    assert counts == [0, 0, 0, 1, 2, 3] and lam_used[:4] == [0.0] * 4
  else:
    assert counts == [1, 2, 3, 4, 5, 6]
  assert all(np.isfinite(lam_used))


def test_method_validation():
  with pytest.raises(ValueError, match="unknown method 'fgsm2'"):
    training.method("fgsm2", 0.1)
  with pytest.raises(ValueError, match="needs a regularizer"):
    training.method("fgsm", 0.1, adaptive=True)
  with pytest.raises(ValueError, match="unknown norm"):
    training.method("pgd", 0.1, norm="l1")
  with pytest.raises(ValueError, match="unknown regularizer 'llr'"):
    training.method("fgsm", 0.1, regularizer="llr")


def test_fit_with_an_adaptive_lambda_resumes_exactly(digits, tmp_path):
  model, params = _mlp(digits)
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
    del metrics
    if epoch == 2:  # epoch 1 is checkpointed; epoch 2 is interrupted before its checkpoint
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


def test_diverging_adversarial_training_stops_at_the_guard(digits):
  model, params = _mlp(digits)
  m = training.method("elle_a", 0.1, lam=100.0)
  tx = optax.sgd(1e6)  # diverges within the first epoch
  step = training.make_train_step(model.apply, tx, m)
  with pytest.raises(guard.NonFiniteError,
                     match=r"(non-finite|exploding) loss at step \d+ \(epoch 1"):
    loop.fit(training.init_state(params, tx, m), step, digits.train, key=jax.random.key(1),
             num_epochs=2, batch_size=256)
