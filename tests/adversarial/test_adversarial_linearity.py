"""ELLE's local-linearity error and the GradAlign cosine against closed forms (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.adversarial import attacks, linearity


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
