"""Robust evaluation: padded batches, the attack battery, gradient-masking checks, the CO
flag."""

import jax
import numpy as np
import optax
import pytest

from jaxlab import data, models
from jaxlab.adversarial import attacks, evaluation
from jaxlab.training import loop, steps


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", seed=0)


@pytest.fixture(scope="module")
def trained(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  state = steps.TrainState.create(params, optax.adam(1e-2))
  train_step = steps.make_train_step(steps.classification_loss(model.apply), optax.adam(1e-2))
  state, _ = loop.fit(state, train_step, digits.train, key=jax.random.key(0), num_epochs=3,
                      batch_size=64)
  return model, state.params


def test_attacked_correct_pads_batches_exactly(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  x, y = digits.test.x[:50], digits.test.y[:50]
  expected = np.asarray(attacks.correct(model.apply, params, x, y))
  keys = []

  def clean(p, xb, yb, kb):
    del p, yb
    keys.append(kb)
    return xb

  for batch_size in (7, 50, 64):
    got = evaluation.attacked_correct(model.apply, clean, params, x, y, jax.random.key(0),
                                      batch_size)
    np.testing.assert_array_equal(got, expected)
  keys.clear()  # a deterministic attack gets no key
  got = evaluation.attacked_correct(model.apply, clean, params, x, y, None, 7)
  np.testing.assert_array_equal(got, expected)
  assert keys == [None] * 8


def test_robust_accuracies_and_masking_checks(digits, trained):
  model, params = trained
  x, y = digits.test.x[:100], digits.test.y[:100]
  accs = evaluation.robust_accuracies(model.apply, params, x, y, jax.random.key(2), 0.1,
                                      steps=6, restarts=2, step_scale=0.5, short_steps=2)
  assert accs["clean"] > 0.8
  # The deterministic attacks (no key) equal their direct evaluation.
  assert accs["clean"] == pytest.approx(float(attacks.accuracy(model.apply, params, x, y)))
  assert accs["fgsm"] == pytest.approx(float(attacks.accuracy(
      model.apply, params, attacks.fgsm(model.apply, params, x, y, 0.1), y)))
  assert accs["worst"] <= min(accs["pgd"], accs["margin_pgd"])
  assert accs["pgd"] < accs["noise"]
  checks = evaluation.masking_checks(accs, 100)
  assert all(checks.values()), (accs, checks)
  # Too few small steps make PGD weaker than FGSM on a nearly linear model: the check sees it.
  weak = evaluation.robust_accuracies(model.apply, params, x, y, jax.random.key(2), 0.1,
                                      steps=2, restarts=1, step_scale=0.25, short_steps=1)
  assert not evaluation.masking_checks(weak, 100)["fgsm_ge_pgd"], weak
  bad = dict(accs, noise=accs["pgd"] - 0.05)
  assert not evaluation.masking_checks(bad, 100)["noise_ge_pgd"]


def test_catastrophic_overfitting_flag():
  assert evaluation.is_catastrophic(0.0, 0.9)
  assert not evaluation.is_catastrophic(0.3, 0.9)
  assert not evaluation.is_catastrophic(0.0, 0.1)  # a dead model is not CO
  assert not evaluation.is_catastrophic(0.05, 0.9, max_pgd_acc=0.05)  # strictly below
