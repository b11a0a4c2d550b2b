"""Adversarial training of a BatchNorm model through the shared core (`train_apply_fn`): the
attack runs in eval mode on the running statistics, the loss in train mode, whose statistics
replace the old ones; without `train_apply_fn` the loss state carries no model state."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab.adversarial import attacks, training
from jaxlab.data.dataset import Split
from jaxlab.models import model_state
from jaxlab.nas import networks, search_space as ss
from jaxlab.training import loop, steps
from jaxlab.training.supervised import fit_classifier

# One convolution in the cell: BatchNorm in the stem, the cell, the reductions and the head.
CELL = ss.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")


TX = optax.sgd(0.5)
METHOD = training.method("pgd", 0.1, steps=1, box=(0.0, 1.0))


@pytest.fixture(scope="module")
def setup():
  """A BatchNorm network (NB201, C = 2, N = 1), its variables, a batch of 8, and its jitted
  adversarial train step (one compilation shared by the tests)."""
  model = networks.TinyNetwork(CELL, 2, 1, 10)
  x = jax.random.uniform(jax.random.key(0), (8, 8, 8, 1))
  y = jnp.arange(8, dtype=jnp.int32) % 10
  variables = model.init(jax.random.key(1), x)
  step = training.make_train_step(model.apply, TX, METHOD,
                                  train_apply_fn=model_state.train_apply(model))
  return model, variables, x, y, step


def test_one_step_matches_eval_mode_attack_and_train_mode_loss(setup):
  model, v, x, y, step = setup
  params, state = v["params"], {"batch_stats": v["batch_stats"]}
  m, apply_train = METHOD, model_state.train_apply(model)
  key = jax.random.key(2)
  new, metrics = step(training.init_state(params, TX, m, model_state=state), {"x": x, "y": y},
                      key)
  # What the step should do: PGD in eval mode from the step's attack key, then the loss and
  # the new statistics in train mode at the adversarial points.
  attack_key, _ = jax.random.split(jax.random.fold_in(key, 0))
  delta, _ = attacks.perturb(model.apply, v, x, y, attack_key, training.attack_step(m), 1)
  assert float(jnp.max(jnp.abs(delta))) > 0.05                  # the attack moved the points

  def loss(p):
    logits, new_state = apply_train({"params": p, **state}, x + delta)
    return jnp.mean(steps.cross_entropy(logits, y)), new_state

  (want_loss, want_state), grads = jax.value_and_grad(loss, has_aux=True)(params)
  np.testing.assert_allclose(metrics["adv_loss"], want_loss, rtol=1e-5)
  jax.tree_util.tree_map(functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
                         new.loss_state.model_state, want_state)
  jax.tree_util.tree_map(
      functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-6), new.params,
      jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads))
  assert set(training.variables(new)) == {"params", "batch_stats"}
  assert int(new.loss_state.step) == 1


def test_without_train_apply_fn_the_state_has_no_model_state():
  w = jnp.ones((4, 3)) * 0.1
  apply_fn = lambda p, x: x @ p  # noqa: E731
  m = training.method("fgsm", 0.1)
  tx = optax.sgd(0.1)
  state = training.init_state(w, tx, m)
  assert state.loss_state.model_state is None
  new, metrics = training.make_train_step(apply_fn, tx, m)(
      state, {"x": jnp.ones((2, 4)) * 0.5, "y": jnp.array([0, 1])}, jax.random.key(0))
  assert new.loss_state.model_state is None and np.isfinite(float(metrics["loss"]))


def test_fit_classifier_trains_and_evaluates_the_variables(setup):
  model, v, _, _, step = setup
  rng = np.random.default_rng(0)
  train = Split(rng.uniform(size=(16, 8, 8, 1)).astype(np.float32),
                (np.arange(16) % 10).astype(np.int32))
  val = Split(train.x[:8], train.y[:8])
  params, state = v["params"], {"batch_stats": v["batch_stats"]}
  fit = fit_classifier(params, model.apply, TX, train, key=jax.random.key(3), num_epochs=2,
                       batch_size=8, val=val, train_step=step,
                       loss_state=training.init_state(params, TX, METHOD,
                                                      model_state=state).loss_state,
                       variables_fn=training.variables, checkpoint=False)
  assert set(fit.params) == {"params", "batch_stats"}
  assert not np.allclose(fit.params["batch_stats"]["stem_bn"]["mean"],
                         v["batch_stats"]["stem_bn"]["mean"])
  direct = loop.evaluate(steps.make_eval_step(model.apply), fit.params, val)
  assert fit.val == direct
  assert len(fit.history) == 2 and fit.history[-1]["val_acc"] == direct["acc"]
