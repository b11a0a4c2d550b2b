"""The attacks of the adversarial core: perturbation geometry, analytic worst cases on linear
models, nested restarts, and no recompilation for a new radius."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import data, models
from jaxlab.adversarial import attacks


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", seed=0)


def _linear(w, b):
  """A linear classifier `apply_fn(params, x) -> (N, C)` with params `(W (d, C), b (C,))`."""

  def apply_fn(params, x):
    return jnp.reshape(x, (x.shape[0], -1)) @ params[0] + params[1][None, :]

  return apply_fn, (w, b)


def test_fgsm_rs_fgsm_n_fgsm_perturbation_norms():
  kx, kw, ka = jax.random.split(jax.random.key(0), 3)
  x = jax.random.uniform(kx, (64, 5, 5, 1))
  apply_fn, params = _linear(jax.random.normal(kw, (25, 3)), jnp.zeros(3))
  y = jnp.arange(64) % 3
  eps = 0.1
  delta = attacks.fgsm(apply_fn, params, x, y, eps, box=None) - x
  np.testing.assert_allclose(attacks.lp_norm(delta, "linf"), eps, rtol=1e-6)
  np.testing.assert_allclose(jnp.abs(delta), eps, rtol=1e-6)  # every pixel moves by eps
  delta2 = attacks.fgsm(apply_fn, params, x, y, eps, norm="l2", box=None) - x
  np.testing.assert_allclose(attacks.lp_norm(delta2, "l2"), eps, rtol=1e-5)
  x_box = attacks.fgsm(apply_fn, params, x, y, eps)  # with the data range: in [0, 1]
  assert float(x_box.min()) >= 0.0 and float(x_box.max()) <= 1.0
  assert float(attacks.lp_norm(x_box - x, "linf").max()) <= eps + 1e-6
  rs = attacks.rs_fgsm(apply_fn, params, x, y, ka, eps, box=None) - x
  assert float(attacks.lp_norm(rs, "linf").max()) <= eps + 1e-6
  norms = attacks.lp_norm(attacks.n_fgsm(apply_fn, params, x, y, ka, eps, box=None) - x, "linf")
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
  y = jnp.zeros(8, int)  # the default integer type, as argmax's (strict dtype promotion)
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
  traces = []

  def counting_apply(p, z):  # runs once per compilation that calls the model
    traces.append(z.shape)
    return model.apply(p, z)

  one = attacks.correct(model.apply, params,
                        attacks.pgd(counting_apply, params, x, y, key, 0.1, 0.025, steps=3), y)
  compiled = len(traces)
  assert compiled >= 1
  many = attacks.correct(model.apply, params, attacks.pgd(counting_apply, params, x, y, key, 0.1,
                                                          0.025, steps=3, restarts=4), y)
  assert bool(jnp.all(many <= one))  # nested restarts: a broken example stays broken
  attacks.pgd(counting_apply, params, x, y, key, 0.2, 0.05, steps=3)  # a new radius and step
  assert len(traces) == compiled


def test_fgsm_and_pgd_share_one_compiled_iteration_and_fgsm_is_unprojected(digits):
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), digits.train.x[:1])
  x, y = digits.test.x[:32], digits.test.y[:32]
  traces = []

  def counting_apply(p, z):  # runs once per compilation that calls the model
    traces.append(z.shape)
    return model.apply(p, z)

  attacks.pgd(counting_apply, params, x, y, jax.random.key(1), 0.1, 0.025, steps=2)
  after_pgd = len(traces)
  x_fgsm = attacks.fgsm(counting_apply, params, x, y, 0.1)
  assert len(traces) == after_pgd  # the same `_iteration` program (keep_best, project traced)
  # the value is FGSM's: x + eps sign(grad), clipped to [0, 1], no best-iterate selection
  grad = jax.grad(lambda z: jnp.sum(attacks.cross_entropy(model.apply(params, z), y)))(x)
  np.testing.assert_array_equal(np.asarray(x_fgsm),
                                np.clip(x + 0.1 * np.sign(np.asarray(grad)), 0.0, 1.0))
