"""The torus Fourier calculus, the inverse-problem simulator (closed forms, the spec's numerical
traps) and the krr_inverse experiment contract."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from conftest import REPO
from jaxlab.config import ConfigError
from jaxlab.kernels import inverse, krr_inverse, ridge, torus
from test_cli import run_module

SMOKE = os.path.join(REPO, "experiments", "flags", "krr_inverse_smoke.flags")


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


def test_config_validation_names_the_field():
  with pytest.raises(ConfigError, match="modes: must be >= 8 x the largest n"):
    krr_inverse.Config(modes=1024)
  with pytest.raises(ConfigError, match="studies: got 'nope'"):
    krr_inverse.Config(studies=("nope",))
  with pytest.raises(ConfigError, match="ns: needs >= 3 increasing"):
    krr_inverse.Config(ns=(256, 128, 512))
  with pytest.raises(ConfigError, match="slope_tol_scale"):
    krr_inverse.Config(slope_tol_scale=0.5)


def test_cli_small_run_writes_the_contract(tmp_path):
  out = tmp_path / "run"
  proc = run_module("experiments.krr_inverse", f"--flagfile={SMOKE}",
                    "--studies=phase,saturation", "--ns=64,128,256",
                    "--ns_independence=64,128,256", "--b2_max_n=256", "--saturation_n=256",
                    "--saturation_min_exp=-4", "--bias_variance_n=64", "--modes=2048",
                    "--num_designs=2", "--num_noise=4", "--saturation_designs=1",
                    f"--workdir={out}", timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((out / "results.json").read_text())
  assert {"curves", "slopes", "checks"} <= set(results)
  for s in results["slopes"]:
    assert set(s) >= {"name", "predicted", "measured", "tol", "pass"}
    assert s["pass"] == (abs(s["measured"] - s["predicted"]) <= s["tol"])
  for c in results["checks"].values():
    assert set(c) >= {"value", "target", "pass"}
  names = [s["name"] for s in results["slopes"]]
  assert any("(rho, gamma) = (0, 0.25)" in n for n in names)
  phase = {s["name"]: s for s in results["slopes"]}
  tempered = phase["E1.1 ridgeless variance slope, (rho, gamma) = (0, 0)"]
  catastrophic = phase["E1.1 ridgeless variance slope, (rho, gamma) = (0, 0.25)"]
  assert abs(tempered["measured"]) < 0.1 and abs(catastrophic["measured"] - 0.5) < 0.1
  assert (out / "plots" / "phase_diagram.png").exists()
  assert (out / "plots" / "bias_variance.png").exists()
  lines = (out / "metrics.jsonl").read_text().splitlines()
  # phase: one line per n; saturation: 3 b x 2 designs, plus the aliasing row's grid
  assert len(lines) == 3 + 2 * 3 + 1 and json.loads(lines[0])["study"] == "phase"
  config = json.loads((out / "config.json").read_text())
  assert config["config"]["ns"] == [64, 128, 256] and config["x64"]

  bad = run_module("experiments.krr_inverse", f"--flagfile={SMOKE}", "--modes=100",
                   f"--workdir={tmp_path / 'bad'}", timeout=120)
  assert bad.returncode == 2 and "--modes: must be >= 8 x the largest n" in bad.stderr
