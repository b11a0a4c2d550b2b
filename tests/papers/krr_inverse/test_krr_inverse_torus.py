"""The torus Fourier calculus of paper 2 (arXiv 2406.09194): exact Bernoulli Grams, the
synthesis / analysis sums, designs, and the torus kernels as Grams of the KRR core."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from jaxlab.kernels import equivalent, ridge
from jaxlab.papers.krr_inverse import torus


@pytest.mark.parametrize("order", [1, 2, 3])
def test_bernoulli_gram_equals_the_fourier_series(x64, order):
  x = jnp.array([0.0, 0.013, 0.25, 0.5, 0.77, 0.999])
  gram = np.asarray(torus.sobolev_gram(x, order=order))
  assert gram[0, 0] == pytest.approx(1 + 2 * scipy.special.zeta(2 * order), rel=1e-13)
  k = np.arange(1, 200001)
  t = np.asarray(x)[:, None] - np.asarray(x)[None, :]
  series = 1 + 2 * np.einsum("ijk,k->ij", np.cos(2 * np.pi * k * t[..., None]), k**(-2.0 * order))
  np.testing.assert_allclose(gram, series, atol={1: 1e-5, 2: 1e-12, 3: 1e-12}[order])
  with pytest.raises(ValueError, match="integer order"):
    torus.sobolev_gram(x, order=1.5)


def test_synthesize_and_analyze_are_adjoint_and_exact(x64):
  modes, grid = 40, 128
  coef = torus.random_phase_coefficients(jax.random.key(0), modes, 1.0).at[0, 0].set(0.3)
  z = jnp.arange(grid, dtype=jnp.float64) / grid
  values = torus.synthesize(z, coef, chunk=16)         # several chunks, padded
  direct = (coef[0, 0] + np.sqrt(2) * sum(
      coef[k, 0] * np.cos(2 * np.pi * k * z) + coef[k, 1] * np.sin(2 * np.pi * k * z)
      for k in range(1, modes + 1)))
  np.testing.assert_allclose(values, direct, atol=1e-12)
  # Uniform grid: the quadrature (1/G) sum_j u(z_j) phi_k(z_j) returns the coefficients.
  np.testing.assert_allclose(torus.analyze(z, values / grid, modes), coef, atol=1e-12)
  # weighted_errors = the same sum computed from analyze.
  x = torus.design(jax.random.key(1), 30, "iid")
  alpha = jax.random.normal(jax.random.key(2), (30, 3))
  scale = torus.multiplier(modes, -2.0)
  weights = jnp.stack([torus.multiplier(modes, 0.0), torus.multiplier(modes, 1.0)])
  errs = torus.weighted_errors(x, alpha, scale, coef[None], jnp.array([0, -1, 0]), weights,
                               chunk=16)
  a = scale[:, None, None] * torus.analyze(x, alpha, modes)            # (M + 1, 2, 3)
  target = jnp.stack([coef, jnp.zeros_like(coef), coef], -1)
  direct = jnp.einsum("wk,kpc->wc", weights, (a - target) ** 2)
  np.testing.assert_allclose(errs, direct, rtol=1e-11)


def test_designs():
  x = torus.design(jax.random.key(0), 100, "jittered")
  spacing = np.diff(np.asarray(x))
  assert spacing.min() >= 0.5 / 100 - 1e-12 and x.max() < 1
  with pytest.raises(ValueError, match="design must be one of"):
    torus.design(jax.random.key(0), 10, "grid")


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("seed", range(2))
def test_sobolev_kernel_is_symmetric_psd(x64, order, seed):
  """Property test over seeded random designs with a near-duplicate pair (as the core's
  kernels in tests/kernels)."""
  rng = np.random.default_rng(seed)
  n = int(rng.integers(5, 40))
  x = np.mod(rng.normal(size=(n, 1)) * rng.uniform(0.1, 3.0), 1.0)
  x[1] = np.mod(x[0] + 1e-7, 1.0)
  k = torus.sobolev_kernel(order)
  g = np.asarray(k(jnp.asarray(x)))
  assert g.shape == (n, n)
  np.testing.assert_array_equal(g, g.T)
  assert np.linalg.eigvalsh(g).min() >= -1e-10 * np.abs(g).max()
  cross = np.asarray(k(jnp.asarray(x[:3]), jnp.asarray(x)))
  np.testing.assert_allclose(cross, g[:3], rtol=1e-12, atol=1e-12)


def test_singular_ridgeless_torus_systems_are_detected_not_silently_wrong(x64):
  # b = 2 Sobolev Gram with a near-coincident pair: singular at working precision.
  x = torus.design(jax.random.key(0), 64, "jittered").at[0].set(1e-9).at[1].set(0.0)
  gram = torus.sobolev_gram(x, order=2)
  y = jnp.ones(64)
  with pytest.raises(ridge.IllConditionedError, match="singular at working precision"):
    ridge.ridgeless(gram, y)
  cond, ill = ridge.conditioning(ridge.path(gram), jnp.array([0.0, 1e-6]))
  assert bool(ill[0]) and not bool(ill[1])
  assert float(cond[0]) > 1e13
  ridge.ridgeless(gram, y, check=False)         # accepted when asked for explicitly
  # A well-spread b = 1 design is fine.
  ok = torus.sobolev_gram(torus.design(jax.random.key(1), 64, "jittered"), order=1)
  assert not bool(ridge.conditioning(ridge.path(ok), 0.0)[1][0])
  # float32 on a moderately conditioned system: detected too.
  g32 = torus.sobolev_gram(torus.design(jax.random.key(2), 256, "iid"), order=1
                           ).astype(jnp.float32)
  assert bool(ridge.conditioning(ridge.path(g32), 0.0)[1][0])


def test_ridgeless_effective_ridge_of_the_b1_torus_spectrum(x64):
  """kappa_0 ~ pi^2 / n^2 for mu_k = k^-2 with multiplicities (`expand`)."""
  mu = torus.expand(torus.multiplier(20000, -2.0))
  assert mu.shape == (40001,) and float(mu[1]) == float(mu[2]) == 1.0
  kappa0 = float(equivalent.effective_ridge(mu, 0.0, 512))
  assert kappa0 * 512**2 == pytest.approx(np.pi**2, rel=0.02)
