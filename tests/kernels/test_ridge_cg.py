"""Matrix-free kernel ridge regression (`jaxlab.kernels.ridge_cg`: CG with a Nystrom
preconditioner over tiled kernel-vector products) against the direct Cholesky solve
`jaxlab.kernels.ridge.kernel_ridge`, and the CG / Nystrom pieces against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.kernels import cg, kernel_fns, nystrom, ridge, ridge_cg, tiled

LAMS = [1e-4, 1e-2, 1e-3]   # deliberately unsorted: solved largest first, returned as given


def _data(n, d=3):
  kx, ke = jax.random.split(jax.random.key(0))
  x = jax.random.normal(kx, (n, d), jnp.float64)
  y = jnp.sin(2.0 * x[:, 0]) * x[:, 1] + 0.1 * jax.random.normal(ke, (n,), jnp.float64)
  return x, y


def _relative(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def path_case():
  """Solved in float64, returned as host values: a module fixture must not yield inside
  `jax.enable_x64`, which would keep float64 on for whatever test runs next."""
  with jax.enable_x64(True):
    k = kernel_fns.rbf(1.0)
    x, y = _data(300)
    key = jax.random.key(1)
    warm = ridge_cg.solve_path(k, x, y, LAMS, key=key, num_centres=60)
    cold = ridge_cg.solve_path(k, x, y, LAMS, key=key, num_centres=60, warm_start=False)
    direct = [ridge.kernel_ridge(k(x), y, lam) for lam in LAMS]
    case = jax.device_get((warm, cold, direct))
  return case


def test_ridge_path_equals_the_direct_solve_in_float64(path_case):
  warm, _, direct = path_case
  assert [s.lam for s in warm] == LAMS
  for sol, exact in zip(warm, direct):
    err = _relative(sol.alpha, exact)
    assert err <= 1e-6, (sol.lam, err)
    assert err <= sol.error_bound <= 1e-6                # the certificate holds and is tight
    assert sol.residual <= ridge_cg.default_rtol(jnp.float64) * 10


def test_warm_starts_begin_nearer_the_solution(path_case):
  warm, cold, _ = path_case
  by_lam = {s.lam: s for s in cold}
  # the largest ridge starts from zero either way; each smaller one starts at the previous
  # solution, its initial residual well below the cold start's ||y|| (0.21 and 0.50 here). With
  # this preconditioner that saves about one iteration: CG converges geometrically from there.
  assert warm[1].iterations == by_lam[1e-2].iterations
  assert warm[1].residuals[0] == pytest.approx(1.0)
  for s in (warm[0], warm[2]):
    assert s.residuals[0] < 0.75, s.residuals[0]
    assert by_lam[s.lam].residuals[0] == pytest.approx(1.0)
  # the preconditioner works: far fewer iterations than n = 300 at every ridge
  assert max(s.iterations for s in warm) < 80


def test_sharded_nystrom_and_solve_on_8_devices(x64):
  del x64
  k = kernel_fns.matern(1.5, 1.0)
  x, y = _data(44)                                       # 44 rows: uneven over 8 devices
  mesh = tiled.row_mesh()
  # every point a centre: K_nys = K exactly (up to round-off), F orthogonal, Woodbury exact
  ny = nystrom.build(k, x, key=jax.random.key(3), num_centres=44, tile_size=3, mesh=mesh)
  gram = np.asarray(k(x))
  f = np.asarray(ny.factor)
  np.testing.assert_allclose(f @ f.T, gram, atol=1e-8)
  np.testing.assert_allclose(f.T @ f, np.diag(np.asarray(ny.values)), atol=1e-8)
  v = jnp.asarray(np.linspace(-1, 1, 44))
  np.testing.assert_allclose(np.asarray(nystrom.preconditioner(ny, 0.5)(v)),
                             np.linalg.solve(gram + 0.5 * np.eye(44), np.asarray(v)), atol=1e-8)
  # the sharded solve, two right-hand sides sharing each kernel pass
  ys = jnp.stack([y, jnp.cos(x[:, 2])], axis=1)
  sol = ridge_cg.solve(k, x, ys, 1e-3, approx=ny, mesh=mesh, tile_size=3)
  exact = ridge.kernel_ridge(k(x), ys, 1e-3)
  assert _relative(sol.alpha, exact) <= 1e-6
  assert sol.iterations <= 3                            # an exact preconditioner
  x_test = x[:7] + 0.1
  np.testing.assert_allclose(
      np.asarray(ridge_cg.predict(k, x_test, x, sol.alpha, mesh=mesh, tile_size=3)),
      np.asarray(k(x_test, x) @ exact), rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(ys))))


def test_cg_solves_spd_systems_and_names_its_failures(x64):
  del x64
  rng = np.random.default_rng(0)
  q = rng.normal(size=(30, 30))
  a = jnp.asarray(q @ q.T + 30 * np.eye(30))
  b = jnp.asarray(rng.normal(size=(30, 2)))
  x, stats = cg.solve(lambda v: a @ v, b, rtol=1e-12)
  np.testing.assert_allclose(np.asarray(x), np.linalg.solve(np.asarray(a), np.asarray(b)),
                             rtol=1e-10)
  assert int(stats.iterations) <= 30 and float(stats.residual) <= 1e-11
  with pytest.raises(cg.NotPositiveDefiniteError, match="not positive definite"):
    cg.solve(lambda v: -(a @ v), b, rtol=1e-12)
  with pytest.raises(cg.ConvergenceError, match="max_iter = 2"):
    cg.solve(lambda v: a @ v, b, rtol=1e-12, max_iter=2)
  with pytest.raises(ValueError, match="rtol"):
    cg.solve(lambda v: a @ v, b, rtol=0.0)


def test_bad_arguments_are_named_before_any_work():
  k = kernel_fns.rbf(1.0)
  x, y = jnp.ones((10, 2)), jnp.ones(10)
  with pytest.raises(ValueError, match="lam"):
    ridge_cg.solve(k, x, y, 0.0, key=jax.random.key(0))
  with pytest.raises(ValueError, match="y:"):
    ridge_cg.solve(k, x, jnp.ones(9), 1e-3, key=jax.random.key(0))
  with pytest.raises(ValueError, match="num_centres"):
    ridge_cg.solve(k, x, y, 1e-3, key=jax.random.key(0), num_centres=11)
  with pytest.raises(ValueError, match="key"):
    ridge_cg.solve(k, x, y, 1e-3)
  with pytest.raises(ValueError, match="x:"):
    ridge_cg.solve(k, x.at[0, 0].set(jnp.nan), y, 1e-3, key=jax.random.key(0))
