"""Mean-field ResNet (paper 7) model: the symmetric head, Gram closed forms against Jacobians,
the function-space step, group-scaled rates, depth as an Euler discretisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.data import synthetic
from jaxlab.kernels import spectral
from jaxlab.papers.meanfield_resnet import resnet
from jaxlab.papers.meanfield_resnet.data import target


def _data(n=6, d=5, seed=1):
  x = synthetic.sphere(jax.random.key(seed), n, d, dtype=jnp.float64)
  return x, target(x)


def _moved(params, scale=0.3):
  """Params off the initial law (asymmetric head), so that G1 != 0."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [v + scale * jax.random.normal(k, v.shape, v.dtype)
                                   for v, k in zip(leaves, keys)])


def test_symmetric_head_gives_zero_output_and_zero_resnet_gram(x64):
  x, y = _data(n=9, d=7)
  params = resnet.init(jax.random.key(0), dim=7, depth=3, width=11, head_width=64,
                       dtype=jnp.float64)
  f, loss, (g1, g2) = jax.jit(lambda p: (resnet.apply(p, x, alpha=1.0, beta=8.0),
                                         resnet.risk(p, x, y, alpha=1.0, beta=8.0),
                                         resnet.gram(p, x, alpha=1.0)))(params)
  np.testing.assert_allclose(f, 0.0, atol=1e-14)
  np.testing.assert_allclose(loss, 0.5 * np.mean(np.asarray(y) ** 2), rtol=1e-12)
  # df/dz_L = beta/K sum_k a_k tanh'(b_k z) b_k cancels in mirror pairs: G1(0) = 0 exactly.
  np.testing.assert_allclose(g1, 0.0, atol=1e-14)
  assert spectral.lambda_min(g2) > 0.01
  with pytest.raises(ValueError, match="head_width must be even"):
    resnet.init_head(jax.random.key(0), dim=3, head_width=5)


@pytest.mark.parametrize("depth, width, head_width", [(1, 3, 4), (4, 6, 10)])
def test_gram_closed_form_equals_jacobian_form(x64, depth, width, head_width):
  x, _ = _data(n=6, d=5)
  params = _moved(resnet.init(jax.random.key(2), dim=5, depth=depth, width=width,
                              head_width=head_width, dtype=jnp.float64))
  closed = jax.jit(lambda p: resnet.gram(p, x, alpha=1.3))(params)
  jacobian = jax.jit(lambda p: resnet.gram_jacobian(p, x, alpha=1.3))(params)
  for c, j in zip(closed, jacobian):
    assert np.abs(c).max() > 1e-3
    np.testing.assert_allclose(c, j, rtol=0, atol=1e-10)
    np.testing.assert_allclose(c, c.T, atol=1e-14)                        # symmetric
    assert spectral.eigvalsh(c)[0] > -1e-12                               # PSD


def test_one_small_step_moves_f_by_the_gram_kernel(x64):
  """f(theta - eta grad) - f(theta) = -(eta/n) beta^2 (G1 + G2) r to first order."""
  x, y = _data(n=7, d=5)
  beta, eta = 2.0, 1e-6

  @jax.jit
  def step_and_prediction(params):
    f0 = resnet.apply(params, x, alpha=1.0, beta=beta)
    new, _ = resnet.gd_step(params, x, y, alpha=1.0, beta=beta, learning_rate=eta)
    g1, g2 = resnet.gram(params, x, alpha=1.0)
    return (resnet.apply(new, x, alpha=1.0, beta=beta) - f0,
            -(eta / len(y)) * beta ** 2 * (g1 + g2) @ (f0 - y))

  for depth, width, head_width in [(2, 4, 6), (6, 16, 64)]:
    params = _moved(resnet.init(jax.random.key(3), dim=5, depth=depth, width=width,
                                head_width=head_width, dtype=jnp.float64))
    df, predicted = step_and_prediction(params)
    assert np.linalg.norm(df - predicted) / np.linalg.norm(predicted) < 1e-4


def test_group_scaled_rates_make_the_function_step_size_independent(x64):
  """The per-unit-rate kernel is a particle average, so it converges as L, M, K grow; with the
  group-scaled rates one GD step moves f by the same amount for every size (to Monte-Carlo
  error), whereas a plain optimizer step on the raw parameters shrinks like 1/K."""
  x, y = _data(n=8, d=6)
  big = resnet.init(jax.random.key(4), dim=6, depth=1, width=2048, head_width=4096,
                    dtype=jnp.float64)
  big = big._replace(head=big.head._replace(a=jnp.abs(big.head.a)))  # asymmetric: G1 != 0

  @jax.jit
  def function_steps(params):
    f = lambda p: resnet.apply(p, x, alpha=1.0, beta=1.0)
    new, _ = resnet.gd_step(params, x, y, alpha=1.0, beta=1.0, learning_rate=1e-4)
    grads = jax.grad(resnet.risk)(params, x, y, alpha=1.0, beta=1.0)
    raw = jax.tree.map(lambda p, g: p - 1e-4 * g, params, grads)  # plain GD on raw params
    return f(new) - f(params), f(raw) - f(params)

  steps, plain = [], []
  # The base size, each of L, M, K alone raised to the reference's, and the reference.
  sizes = [(8, 256, 512), (32, 256, 512), (8, 2048, 512), (8, 256, 4096), (32, 2048, 4096)]
  for depth, width, head_width in sizes:
    params = resnet.shared_layers(big, depth=depth, width=width)
    params = params._replace(head=jax.tree.map(lambda v: v[:head_width], params.head))
    scaled, raw = function_steps(params)
    steps.append(scaled)
    plain.append(raw)
  for size, step in zip(sizes[:-1], steps[:-1]):
    assert np.linalg.norm(step - steps[-1]) / np.linalg.norm(steps[-1]) < 0.15, size
  assert np.linalg.norm(plain[0]) / np.linalg.norm(plain[-1]) > 5.0


def test_shared_layers_is_an_euler_discretisation(x64):
  """Models from one draw: the feature error against a deep reference halves with depth."""
  x, _ = _data(n=5, d=4)
  base = resnet.init(jax.random.key(5), dim=4, depth=1, width=256, head_width=4,
                     dtype=jnp.float64)
  features = jax.jit(lambda r: resnet.features(r, x, alpha=4.0))
  feats = {l: features(resnet.shared_layers(base, depth=l, width=256).resnet)
           for l in (2, 4, 8, 256)}
  errors = [np.abs(feats[l] - feats[256]).max() for l in (2, 4, 8)]
  ratios = np.array(errors[:-1]) / np.array(errors[1:])
  np.testing.assert_allclose(ratios, 2.0, rtol=0.15)
  with pytest.raises(ValueError, match="width must be in"):
    resnet.shared_layers(base, depth=2, width=257)


def test_particle_gd_is_an_optax_transformation(x64):
  x, y = _data()
  params = resnet.init(jax.random.key(0), dim=5, depth=2, width=3, head_width=4,
                       dtype=jnp.float64)
  opt = resnet.particle_gd(0.1)
  grads = jax.grad(resnet.risk)(params, x, y, alpha=1.0, beta=1.0)
  updates, _ = jax.jit(opt.update)(grads, opt.init(params))
  np.testing.assert_allclose(updates.resnet.u, -0.1 * 6 * grads.resnet.u, rtol=1e-14)
  np.testing.assert_allclose(updates.head.b, -0.1 * 4 * grads.head.b, rtol=1e-14)
