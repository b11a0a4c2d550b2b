"""Shallow Transformer (paper 10) model code: attention invariants, NTK = J J^T, the GD
linearisation, the initialisation schemes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxlab.kernels import spectral
from jaxlab.papers.shallow_transformer import transformer
from jaxlab.papers.shallow_transformer.data import sequences

D, WIDTH = 5, 12


def _setup(scheme="lecun", tau0="inv_sqrt", n=6, seq_len=3, width=WIDTH):
  x, y = sequences(jax.random.key(0), n, seq_len, D)
  params = transformer.init(jax.random.key(1), dim=D, width=width, scheme=scheme,
                            dtype=jnp.float64)
  return x, y, params, transformer.scaling(scheme, tau0, dim=D, width=width)


@pytest.mark.parametrize("scheme", transformer.INITS)
@pytest.mark.parametrize("tau0", transformer.TAU0)
def test_attention_rows_sum_to_one(x64, scheme, tau0):
  x, _, params, scale = _setup(scheme, tau0)
  a = jax.jit(transformer.attention)(params, x, scale)
  assert a.shape == (6, 3, 3) and np.all(np.asarray(a) > 0)
  np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-14)


def test_zero_logit_scale_is_mean_pooling_of_values(x64):
  x, _, params, scale = _setup()
  scale = scale._replace(tau0=0.0)
  v = x @ params.w_v.T                                           # (N, d_s, d_m)
  out = transformer.attention(params, x, scale) @ v
  assert transformer.attention_uniformity(params, x, scale) == 0.0   # weights exactly 1/d_s
  np.testing.assert_allclose(out, jnp.broadcast_to(v.mean(1, keepdims=True), v.shape),
                             rtol=0, atol=1e-15)


def test_lecun_and_ntk_inits_compute_the_same_function(x64):
  """N(0, 1/fan_in) weights equal N(0, 1) weights times 1/sqrt(fan_in) multipliers."""
  x, _, lecun, s_lecun = _setup("lecun")
  _, _, ntk_params, s_ntk = _setup("ntk")
  np.testing.assert_allclose(transformer.apply(lecun, x, s_lecun),
                             transformer.apply(ntk_params, x, s_ntk), rtol=1e-12)
  np.testing.assert_allclose(ntk_params.w_h, lecun.w_h * np.sqrt(WIDTH), rtol=1e-14)
  he = transformer.init(jax.random.key(1), dim=D, width=WIDTH, scheme="he", dtype=jnp.float64)
  np.testing.assert_allclose(he.w_q, lecun.w_q * np.sqrt(2.0), rtol=1e-14)
  big = transformer.init(jax.random.key(2), dim=64, width=512, scheme="lecun",
                         dtype=jnp.float64)
  assert np.std(np.asarray(big.w_h)) == pytest.approx(512 ** -0.5, rel=0.01)
  assert np.std(np.asarray(big.w_q)) == pytest.approx(64 ** -0.5, rel=0.02)


@pytest.mark.parametrize("scheme, tau0", [("lecun", "inv_sqrt"), ("ntk", "inv")])
def test_ntk_equals_explicit_jacobian_product(x64, scheme, tau0):
  x, _, params, scale = _setup(scheme, tau0)
  kernel = jax.jit(transformer.ntk)(params, x, scale)
  flat, unravel = ravel_pytree(params)
  jac = jax.jacrev(lambda v: transformer.apply(unravel(v), x, scale))(flat)   # (N, P)
  np.testing.assert_allclose(kernel, jac @ jac.T, rtol=0, atol=1e-10 * np.abs(kernel).max())
  np.testing.assert_allclose(kernel, kernel.T, atol=1e-12)
  assert spectral.eigvalsh(kernel)[0] > 0


def test_small_gd_step_follows_the_linearised_residual_update(x64):
  x, y, params, scale = _setup(width=16)

  @jax.jit
  def residuals(params):
    kernel = transformer.ntk(params, x, scale)
    gamma = 1e-6 / spectral.lambda_max(kernel)
    r0 = transformer.apply(params, x, scale) - y
    new, _ = transformer.gd_step(params, x, y, scale, gamma)
    return transformer.apply(new, x, scale) - y, r0 - gamma * kernel @ r0, r0

  r1, predicted, r0 = residuals(params)
  assert np.linalg.norm(r1 - predicted) / np.linalg.norm(r1 - r0) < 1e-4


def test_scaling_and_helpers():
  s = transformer.scaling("ntk", "inv", dim=16, width=64)
  assert (s.tau0, s.q, s.h, s.o) == (1 / 64, 0.25, 0.125, 0.125)
  assert transformer.scaling("he", "inv_sqrt", dim=16, width=64).tau0 == 0.125
  with pytest.raises(ValueError, match="tau0 must be one of"):
    transformer.scaling("lecun", "sqrt", dim=4, width=4)
  with pytest.raises(ValueError, match="init must be one of"):
    transformer.init(jax.random.key(0), dim=4, width=4, scheme="xavier")
