"""The inverse-problem simulator of paper 2 (arXiv 2406.09194): closed forms, the spec's
numerical traps, the kernel-matrix path and the deterministic equivalent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.kernels import ridge
from jaxlab.papers.krr_inverse import inverse, torus


def test_ridgeless_variance_is_two_thirds_sigma2_in_plain_regression(x64):
  """E1.0: b = 1, rho = gamma = 0, u* = 0: the interpolant is nearly piecewise linear, whose
  squared L2 norm has mean 2 sigma^2 / 3 whatever the spacing."""
  modes = 4096
  w = inverse.error_weights(modes, 0.0, 0.0)[None]
  sims = [inverse.simulate(jax.random.key(s), 256, b=1, design="iid", lams=jnp.zeros(1),
                           targets=jnp.zeros((0, modes + 1, 2)), weights=w, num_noise=16,
                           noise_std=0.5) for s in range(6)]
  var = float(np.mean([s.variance[0, 0] for s in sims]))
  assert var == pytest.approx(2 / 3 * 0.25, rel=0.03)
  assert sims[0].bias2.shape == (0, 1, 1)
  assert not any(bool(s.ill_conditioned[0]) for s in sims)


def test_near_coincident_points_do_not_corrupt_the_error(x64):
  """Spec pitfall 1: with a pair 1e-9 apart |alpha| ~ 1e9, yet the error computed in coefficient
  space stays at the piecewise-linear value; a quadratic form alpha^T Q alpha with Q off by
  1e-11 (an FFT or band-limited Q) would be off by O(|alpha|^2 1e-11)."""
  n, modes = 128, 8192
  x = torus.design(jax.random.key(0), n, "jittered").at[1].set(
      torus.design(jax.random.key(0), n, "jittered")[0] + 1e-9)
  p = ridge.path(torus.sobolev_gram(x, order=1))
  noise = jax.random.normal(jax.random.key(1), (n, 64))
  alpha = ridge.coefficients(p, noise, jnp.zeros(1))[0]
  assert float(jnp.abs(alpha).max()) > 1e6
  mu = inverse.kernel_eigenvalues(modes, 1)
  err = torus.weighted_errors(x, alpha, mu, jnp.zeros((1, modes + 1, 2)), -jnp.ones(64, int),
                              inverse.error_weights(modes, 0.0, 0.0)[None])
  assert float(err.mean()) == pytest.approx(2 / 3, rel=0.05)
  # The same error as a quadratic form with a 1e-11-perturbed Q is garbage.
  z = jnp.arange(4096, dtype=jnp.float64) / 4096
  k_u = torus.sobolev_gram(z, x, order=1)
  q = k_u.T @ k_u / 4096                                   # grid quadrature Q (approximate)
  q_pert = q * (1 + 1e-11 * jax.random.normal(jax.random.key(2), q.shape))
  quad = jnp.einsum("ic,ij,jc->c", alpha[:, :4], q_pert, alpha[:, :4])
  assert float(jnp.max(jnp.abs(quad - err[0, :4]))) > 1.0


def test_ill_conditioned_ridgeless_designs_are_reported(x64):
  """Spec pitfall 3: iid b = 2 ridgeless is singular at working precision (flagged); jittered
  designs and ridges >= 1e-10 are not."""
  modes = 2048
  w = inverse.error_weights(modes, 0.25, 0.0)[None]
  lams = jnp.array([0.0, 1e-10])
  none = jnp.zeros((0, modes + 1, 2))
  iid = inverse.simulate(jax.random.key(0), 1024, b=2, design="iid", lams=lams, targets=none,
                         weights=w, num_noise=1)
  assert bool(iid.ill_conditioned[0]) and not bool(iid.ill_conditioned[1])
  jit = inverse.simulate(jax.random.key(0), 1024, b=2, design="jittered", lams=lams,
                         targets=none, weights=w, num_noise=1)
  assert not bool(jit.ill_conditioned.any())
  assert float(jit.condition[0]) < float(iid.condition[0])


def test_simulator_equals_the_kernel_matrix_path(x64):
  modes, n = 2048, 48
  u = torus.random_phase_coefficients(jax.random.key(3), modes, 1.5)
  lams = jnp.array([0.0, 1e-6, 1e-3])
  for rho in (0.0, 2.0):
    v = inverse.operator_coefficients(u, rho)
    key = jax.random.key(4)
    sim = inverse.simulate(key, n, b=1, design="iid", lams=lams, targets=v[None],
                           weights=inverse.error_weights(modes, rho, 0.0)[None], num_noise=3)
    x, noise = inverse.design_and_noise(key, n, "iid", 3, 1.0)
    z = jnp.arange(4 * modes, dtype=jnp.float64) / (4 * modes)
    bias = inverse.kernel_path_l2(x, torus.synthesize(x, v), lams, b=1, rho=rho,
                                  u_grid=torus.synthesize(z, u))
    var = inverse.kernel_path_l2(x, noise, lams, b=1, rho=rho, u_grid=jnp.zeros(4 * modes))
    np.testing.assert_allclose(bias, sim.bias2[0, 0], rtol=1e-4)
    np.testing.assert_allclose(var.mean(-1), sim.variance[0], rtol=1e-4)
  with pytest.raises(ValueError, match="integer"):
    inverse.kernel_path_l2(x, noise, lams, b=1, rho=0.5, u_grid=jnp.zeros(8))


def test_weights_depend_on_gamma_minus_rho_only_and_estimate(x64):
  np.testing.assert_array_equal(inverse.error_weights(64, 2.0, 1.75),
                                inverse.error_weights(64, 0.25, 0.0))
  # `estimate` returns the coefficients whose error `simulate` reports (noise-free fit).
  modes, n, rho = 512, 40, 1.0
  u = torus.random_phase_coefficients(jax.random.key(0), modes, 2.0)
  v = inverse.operator_coefficients(u, rho)
  key = jax.random.key(5)
  sim = inverse.simulate(key, n, b=1, design="iid", lams=jnp.array([0.0, 1e-4]),
                         targets=v[None], weights=inverse.error_weights(modes, rho, 0.0)[None],
                         num_noise=0)
  x, _ = inverse.design_and_noise(key, n, "iid", 0, 1.0)
  for i, lam in enumerate((0.0, 1e-4)):
    uhat = inverse.estimate(x, torus.synthesize(x, v), lam, b=1, rho=rho, modes=modes)
    assert float(jnp.sum((uhat - u) ** 2)) == pytest.approx(float(sim.bias2[0, 0, i]),
                                                           rel=1e-8)
  np.testing.assert_array_equal(sim.variance, 0.0)


def test_deterministic_equivalent_tracks_the_ridge_error(x64):
  modes, n = 4096, 256
  u = torus.random_phase_coefficients(jax.random.key(0), modes, 1.5)
  v = inverse.operator_coefficients(u, 0.25)
  lams = jnp.array([1e-4, 1e-3, 1e-2])   # ridge >> kappa_0 ~ pi^2 / n^2 (pitfall 9)
  w = inverse.error_weights(modes, 0.25, 0.0)[None]
  sims = [inverse.simulate(jax.random.key(s), n, b=1, design="iid", lams=lams, targets=v[None],
                           weights=w, num_noise=4) for s in range(3)]
  total = np.mean([s.bias2[0, 0] + s.variance[0] for s in sims], 0)
  de = inverse.deterministic_equivalent(n, b=1, rho=0.25, gamma=0.0, v_star=v, noise_std=1.0,
                                        lams=lams)
  np.testing.assert_allclose(total, de.risk, rtol=0.2)
