"""The degree-1 arc-cosine kernel: closed form against Monte Carlo, against jaxlab.ntk.stax's
ReLU NNGP up to the stated scale, clipping. (Its use in the KRR core is tested by the
path-norm study's tests, tests/papers/path_norm.)"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.kernels import arccos
from jaxlab.models import two_layer
from jaxlab.ntk import stax


def _unit(key, n, d):
  x = jax.random.normal(key, (n, d), jnp.float64)
  return x / jnp.linalg.norm(x, axis=1, keepdims=True)


def test_closed_form_matches_monte_carlo_within_4_standard_errors(x64):
  """k(x, x') = 2 E_{w ~ N(0, I)}[relu(w.x) relu(w.x')], 10^6 Gaussian w (spec E3.5)."""
  x = two_layer.with_bias_coordinate(_unit(jax.random.key(0), 6, 4))
  x = jnp.concatenate([x, -x[:1], 1.7 * x[1:2]])        # t = -1 and a non-unit input too
  k = arccos.arc_cosine()(x)
  w = jax.random.normal(jax.random.key(1), (1_000_000, x.shape[1]), jnp.float64)
  feats = jax.nn.relu(w @ x.T)                          # (10^6, 8)
  num = w.shape[0]
  mean = 2.0 * feats.T @ feats / num                    # E[2 relu relu'] per pair
  second = 4.0 * (feats**2).T @ feats**2 / num          # E[(2 relu relu')^2]
  se = jnp.sqrt(jnp.maximum(second - mean**2, 0.0) * num / (num - 1)) / math.sqrt(num)
  z = jnp.abs(mean - k) / jnp.maximum(se, 1e-300)
  exact = se == 0                                       # relu(w.x) relu(-w.x) = 0 always
  assert float(jnp.max(jnp.where(exact, 0.0, z))) < 4.0
  np.testing.assert_array_equal(jnp.where(exact, k, 0.0), 0.0)


def test_profile_values_and_clipping(x64):
  np.testing.assert_allclose(arccos.profile(jnp.array([1.0, -1.0, 0.0])),
                             [1.0, 0.0, 1.0 / math.pi], rtol=1e-15, atol=1e-16)
  # cosines a rounding error outside [-1, 1] are clipped, not NaN
  out = arccos.profile(jnp.array([1.0 + 1e-15, -1.0 - 1e-15]))
  np.testing.assert_allclose(out, [1.0, 0.0], atol=1e-15)
  x = two_layer.with_bias_coordinate(_unit(jax.random.key(2), 50, 3))
  g = arccos.arc_cosine()(x)
  assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.all(g == g.T))
  np.testing.assert_allclose(jnp.diag(g), 1.0, rtol=1e-14)
  assert float(jnp.linalg.eigvalsh(g)[0]) > -1e-12            # positive semi-definite


def test_equals_the_stax_relu_nngp_up_to_scale(x64):
  """k = (2 D / W_std^2) * nngp of serial(Dense(1, W_std), Relu()) (NT parameterisation)."""
  x1 = 1.3 * two_layer.with_bias_coordinate(_unit(jax.random.key(3), 9, 4))
  x2 = two_layer.with_bias_coordinate(_unit(jax.random.key(4), 5, 4))
  w_std = 1.5
  kernel_fn = jax.jit(stax.serial(stax.Dense(1, W_std=w_std), stax.Relu())[2],
                      static_argnums=2)
  scale = 2 * x1.shape[1] / w_std**2
  k = arccos.arc_cosine()
  np.testing.assert_allclose(k(x1), scale * kernel_fn(x1, None, "nngp"), rtol=1e-12,
                             atol=1e-14)
  np.testing.assert_allclose(k(x1, x2), scale * kernel_fn(x1, x2, "nngp"), rtol=1e-12,
                             atol=1e-14)
