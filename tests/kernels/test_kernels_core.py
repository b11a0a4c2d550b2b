"""The KRR core: kernels, the one-eigendecomposition ridge path, ridgeless and importance-weighted
estimators, exact bias/variance, the deterministic equivalent and the learning-curve tools."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.kernels import equivalent, kernel_fns, learning_curve, ridge, spectral
from jaxlab.ntk import stax


def stax_relu_kernel_fn(w_std=1.5, b_std=0.1):
  """serial(Dense, Relu, Dense) from jaxlab's NTK engine (neural-tangents' API)."""
  return stax.serial(stax.Dense(512, W_std=w_std, b_std=b_std), stax.Relu(),
                     stax.Dense(1, W_std=w_std, b_std=b_std))[2]


# A closed-form arc-cosine kernel_fn in neural-tangents' convention, for
# serial(Dense(W_std, b_std), Relu(), Dense(W_std, b_std)) with NT parameterisation
# (Cho & Saul 2009; Jacot et al. 2018). Written here, not in jaxlab: jaxlab takes arc-cosine
# kernels from its NTK engine (jaxlab.ntk.stax) through kernel_fns.from_kernel_fn.
def reference_relu_kernel_fn(w_std=1.5, b_std=0.1):

  def kernel_fn(x1, x2=None, get=("nngp", "ntk")):
    x2 = x1 if x2 is None else x2
    d = x1.shape[1]
    s12 = w_std**2 * x1 @ x2.T / d + b_std**2
    s11 = w_std**2 * jnp.sum(x1**2, 1) / d + b_std**2
    s22 = w_std**2 * jnp.sum(x2**2, 1) / d + b_std**2
    norm = jnp.sqrt(s11[:, None] * s22[None, :])
    cos = jnp.clip(s12 / norm, -1.0, 1.0)
    theta = jnp.arccos(cos)
    relu = norm * (jnp.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi)
    relu_dot = (math.pi - theta) / (2 * math.pi)
    nngp = w_std**2 * relu + b_std**2
    ntk = nngp + w_std**2 * relu_dot * s12
    out = {"nngp": nngp, "ntk": ntk}
    return out[get] if isinstance(get, str) else tuple(out[g] for g in get)
  return kernel_fn


def all_kernels():
  return {
      "rbf": kernel_fns.rbf(0.7, 2.0),
      "laplace": kernel_fns.laplace(1.3),
      "matern_0.5": kernel_fns.matern(0.5, 0.8),
      "matern_1.5": kernel_fns.matern(1.5, 0.8),
      "matern_2.5": kernel_fns.matern(2.5, 0.8),
      "polynomial": kernel_fns.polynomial(3, 1.0),
      "dot_product_exp": kernel_fns.dot_product(jnp.exp),
      "mercer_cosines": kernel_fns.mercer(
          1.0 / (1.0 + jnp.arange(6.0)) ** 2,
          lambda x: jnp.cos(jnp.pi * jnp.arange(6.0)[None, :] * x[:, :1])),
      "arc_cosine_ntk": kernel_fns.from_kernel_fn(reference_relu_kernel_fn(), "ntk"),
      "arc_cosine_nngp": kernel_fns.from_kernel_fn(reference_relu_kernel_fn(), "nngp"),
      "stax_relu_ntk": kernel_fns.from_kernel_fn(stax_relu_kernel_fn(), "ntk"),
  }


@pytest.mark.parametrize("name", sorted(all_kernels()))
@pytest.mark.parametrize("seed", range(2))
def test_every_kernel_is_symmetric_psd(x64, name, seed):
  """Property test over seeded random draws of n, d, scale and clustering of the inputs."""
  rng = np.random.default_rng(seed)
  n, d = int(rng.integers(5, 40)), int(rng.integers(1, 6))
  x = rng.normal(size=(n, d)) * rng.uniform(0.1, 3.0)
  x[1] = x[0] + 1e-7            # a near-duplicate pair
  k = all_kernels()[name]
  g = np.asarray(k(jnp.asarray(x)))
  assert g.shape == (n, n)
  np.testing.assert_array_equal(g, g.T)
  assert np.linalg.eigvalsh(g).min() >= -1e-10 * np.abs(g).max()
  cross = np.asarray(k(jnp.asarray(x[:3]), jnp.asarray(x)))
  np.testing.assert_allclose(cross, g[:3], rtol=1e-12, atol=1e-12)


def test_stationary_kernels_closed_forms(x64):
  x = jnp.array([[0.0, 0.0], [3.0, 4.0]])
  r = 5.0
  assert float(kernel_fns.rbf(2.0)(x)[0, 1]) == pytest.approx(math.exp(-r**2 / 8))
  assert float(kernel_fns.laplace(2.0)(x)[0, 1]) == pytest.approx(math.exp(-r / 2))
  s = math.sqrt(3) * r / 2
  assert float(kernel_fns.matern(1.5, 2.0)(x)[0, 1]) == pytest.approx((1 + s) * math.exp(-s))
  s = math.sqrt(5) * r / 2
  assert float(kernel_fns.matern(2.5, 2.0)(x)[0, 1]) == pytest.approx(
      (1 + s + s**2 / 3) * math.exp(-s))
  assert float(kernel_fns.polynomial(2, 1.0, scale=1.0)(x)[1, 1]) == pytest.approx(26.0**2)
  np.testing.assert_array_equal(np.diag(kernel_fns.rbf(1.0, 3.0)(x)), [3.0, 3.0])


def test_kernel_argument_errors():
  with pytest.raises(ValueError, match="lengthscale must be > 0"):
    kernel_fns.rbf(0.0)
  with pytest.raises(ValueError, match="matern nu must be one of"):
    kernel_fns.matern(0.7)
  with pytest.raises(ValueError, match="degree must be an integer"):
    kernel_fns.polynomial(1.5)
  with pytest.raises(ValueError, match="get must be 'ntk' or 'nngp'"):
    kernel_fns.from_kernel_fn(reference_relu_kernel_fn(), "cov")
  with pytest.raises(ValueError, match=r"must be \(n, d\)"):
    kernel_fns.rbf()(jnp.zeros(3))
  with pytest.raises(ValueError, match="same d"):
    kernel_fns.rbf()(jnp.zeros((3, 2)), jnp.zeros((3, 4)))


def test_ntk_adapter_follows_the_neural_tangents_convention(x64):
  fn = reference_relu_kernel_fn()
  x = jax.random.normal(jax.random.key(0), (12, 4))
  for get in ("ntk", "nngp"):
    k = kernel_fns.from_kernel_fn(fn, get)
    np.testing.assert_allclose(k(x), fn(x, None, get), rtol=1e-14)
    np.testing.assert_allclose(k(x[:5], x), fn(x[:5], x, get), rtol=1e-14)
  # ReLU network, on the diagonal (theta = 0): NTK = 2 NNGP - b_std^2.
  ntk = kernel_fns.from_kernel_fn(fn, "ntk")(x)
  nngp = kernel_fns.from_kernel_fn(fn, "nngp")(x)
  np.testing.assert_allclose(np.diag(ntk), 2 * np.diag(nngp) - 0.1**2, rtol=1e-7)  # arccos(1 - eps)

  # jaxlab's NTK engine: serial(Dense, Relu, Dense) equals the closed-form arc-cosine kernels
  # (to 1e-7: the reference's arccos(1 - eps) on the diagonal; elsewhere to 1e-10).
  for get in ("ntk", "nngp"):
    k = kernel_fns.from_kernel_fn(stax_relu_kernel_fn(), get)
    off = ~np.eye(12, dtype=bool)
    np.testing.assert_allclose(np.asarray(k(x))[off], np.asarray(fn(x, None, get))[off],
                               rtol=1e-10)
    np.testing.assert_allclose(k(x), fn(x, None, get), rtol=1e-7)
    np.testing.assert_allclose(k(x[:5], x)[:, 5:], fn(x[:5], x, get)[:, 5:], rtol=1e-10)
  # A kernel_fn returning a kernel object (NT's `Kernel` with .ntk / .nngp) also works.
  class KernelObj:
    def __init__(self, ntk):
      self.ntk = ntk

  k = kernel_fns.from_kernel_fn(lambda a, b, get: KernelObj(fn(a, b, "ntk")), "ntk")
  np.testing.assert_allclose(k(x), ntk, rtol=1e-14)
  # Ridgeless NTK regression interpolates its training data.
  y = jnp.sin(x[:, 0])
  alpha = ridge.ridgeless(ntk, y)
  np.testing.assert_allclose(ntk @ alpha, y, atol=1e-8)


def _problem(n=40, m=15, d=3, seed=0):
  keys = jax.random.split(jax.random.key(seed), 4)
  x = jax.random.normal(keys[0], (n, d))
  xt = jax.random.normal(keys[1], (m, d))
  y = jnp.sin(x[:, 0]) + 0.1 * jax.random.normal(keys[2], (n,))
  w = jnp.exp(0.7 * jax.random.normal(keys[3], (n,)))
  k = kernel_fns.matern(2.5, 1.0)
  return k(x), k(xt, x), y, w, x, xt


def test_path_equals_direct_solves_for_every_lambda(x64):
  gram, k_test, y, w, _, _ = _problem()
  n = gram.shape[0]
  lams = jnp.array([0.0, 1e-8, 1e-5, 1e-3, 0.1, 10.0])
  p = ridge.path(gram)
  preds = jax.jit(ridge.predictions)(p, k_test, y, lams)
  alphas = ridge.coefficients(p, y, lams)
  g, kt, yy = (np.asarray(a) for a in (gram, k_test, y))
  for lam, pred, alpha in zip(np.asarray(lams), preds, alphas):
    direct = np.linalg.solve(g + n * lam * np.eye(n), yy)   # (K + n lam I)^{-1} y
    np.testing.assert_allclose(alpha, direct, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(pred, kt @ direct, rtol=1e-8, atol=1e-10)
    if lam > 0:
      np.testing.assert_allclose(ridge.kernel_ridge(gram, y, lam), direct, rtol=1e-8)
  # Multiple target columns.
  y2 = jnp.stack([y, y**2], 1)
  np.testing.assert_allclose(ridge.predictions(p, k_test, y2, lams)[:, :, 1],
                             ridge.predictions(p, k_test, y**2, lams), rtol=1e-12)
  # The absolute-ridge convention of spectral is n * lambda.
  np.testing.assert_allclose(
      ridge.filters(p, lams[3:4])[0], spectral.ridge_filter(p.eig.values, n * lams[3]),
      rtol=1e-14)


def test_weighted_path_equals_direct_solve_and_unweighted_at_zero(x64):
  gram, k_test, y, w, _, _ = _problem()
  n = gram.shape[0]
  lams = jnp.array([0.0, 1e-4, 1e-2, 1.0])
  pw = ridge.path(gram, w)
  preds = ridge.predictions(pw, k_test, y, lams)
  g, kt, ww, yy = (np.asarray(a) for a in (gram, k_test, w, y))
  for lam, pred in zip(np.asarray(lams)[1:], preds[1:]):
    # argmin (1/n) sum w_i (f(x_i) - y_i)^2 + lam ||f||^2: (W K + n lam I)^{-1} W y
    alpha = np.linalg.solve(ww[:, None] * g + n * lam * np.eye(n), ww * yy)
    np.testing.assert_allclose(pred, kt @ alpha, rtol=1e-8)
    np.testing.assert_allclose(ridge.weighted_kernel_ridge(gram, y, w, lam), alpha, rtol=1e-7)
  unweighted = ridge.predictions(ridge.path(gram), k_test, y, lams[:1])
  np.testing.assert_allclose(preds[0], unweighted[0], rtol=1e-8)
  np.testing.assert_allclose(ridge.weighted_kernel_ridge(gram, y, w, 0.0),
                             ridge.ridgeless(gram, y), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_bias_variance_is_exact(x64, weighted):
  gram, k_test, y, w, x, xt = _problem()
  n, m = gram.shape[0], k_test.shape[0]
  f_train, f_test = jnp.sin(x[:, 0]), jnp.sin(xt[:, 0])
  lams = jnp.array([0.0, 1e-3, 0.3])
  p = ridge.path(gram, w if weighted else None)
  bv = ridge.bias_variance(p, k_test, f_train, f_test, 0.25, lams)
  g, kt, ww = np.asarray(gram), np.asarray(k_test), np.asarray(w) if weighted else np.ones(n)
  for i, lam in enumerate(np.asarray(lams)):
    a = ww[:, None] * g + n * lam * np.eye(n)
    smoother = kt @ np.linalg.solve(a, np.diag(ww))               # f(x) = S y, (m, n)
    bias2 = np.mean((smoother @ np.asarray(f_train) - np.asarray(f_test)) ** 2)
    var = 0.25 * np.sum(smoother**2) / m
    np.testing.assert_allclose(bv.bias2[i], bias2, rtol=1e-7)
    np.testing.assert_allclose(bv.variance[i], var, rtol=1e-7)
  np.testing.assert_allclose(bv.risk, bv.bias2 + bv.variance)


def test_bad_ridges_weights_and_shapes_are_refused_by_name(x64):
  gram, k_test, y, w, _, _ = _problem()
  p = ridge.path(gram)
  with pytest.raises(ValueError, match=r"lams: expected ridges lambda >= 0"):
    ridge.predictions(p, k_test, y, jnp.array([1e-3, -0.1]))
  with pytest.raises(ValueError, match=r"lams: expected"):
    ridge.bias_variance(p, k_test, y, y[:k_test.shape[0]], 0.1, jnp.array([jnp.nan]))
  with pytest.raises(ValueError, match=r"weights: expected importance weights > 0"):
    ridge.path(gram, w.at[3].set(-1.0))
  with pytest.raises(ValueError, match=r"weights: expected shape"):
    ridge.path(gram, w[:-1])
  with pytest.raises(ValueError, match=r"k_train: expected a square"):
    ridge.path(k_test)
  with pytest.raises(ValueError, match=r"lam: expected a ridge lambda > 0"):
    ridge.kernel_ridge(gram, y, 0.0)
  with pytest.raises(ValueError, match=r"weights: expected"):
    ridge.weighted_kernel_ridge(gram, y, jnp.zeros_like(w), 1e-3)
  # Inside jit the values are traced and pass unchecked; the results are the eager ones.
  lams = jnp.array([0.0, 1e-3])
  np.testing.assert_allclose(jax.jit(ridge.predictions)(p, k_test, y, lams),
                             ridge.predictions(p, k_test, y, lams), rtol=1e-12)


def test_singular_ridgeless_systems_are_detected_not_silently_wrong(x64):
  # A smooth (Matern 5/2) Gram with a near-coincident pair: singular at working precision.
  x = jnp.linspace(0.0, 1.0, 64)[:, None].at[1].set(1e-9)
  gram = kernel_fns.matern(2.5, 0.3)(x)
  y = jnp.ones(64)
  with pytest.raises(ridge.IllConditionedError, match="singular at working precision"):
    ridge.ridgeless(gram, y)
  cond, ill = ridge.conditioning(ridge.path(gram), jnp.array([0.0, 1e-6]))
  assert bool(ill[0]) and not bool(ill[1])
  assert float(cond[0]) > 1e13
  ridge.ridgeless(gram, y, check=False)         # accepted when asked for explicitly
  # A well-spread design of the rougher Laplace kernel is fine.
  ok = kernel_fns.laplace(0.3)(jnp.linspace(0.0, 1.0, 64)[:, None])
  assert not bool(ridge.conditioning(ridge.path(ok), 0.0)[1][0])
  # float32 on a moderately conditioned system: detected too.
  g32 = kernel_fns.matern(1.5, 0.3)(jnp.linspace(0.0, 1.0, 256)[:, None]).astype(jnp.float32)
  assert bool(ridge.conditioning(ridge.path(g32), 0.0)[1][0])


def test_deterministic_equivalent_fixed_point_and_identities(x64):
  mu = 1.0 / jnp.arange(1, 2001.0) ** 2
  v = 1.0 / jnp.arange(1, 2001.0) ** 1.2
  n = 100
  for lam in (0.0, 1e-4, 1e-1):
    kappa = float(equivalent.effective_ridge(mu, lam, n))
    assert kappa - lam == pytest.approx(kappa / n * float(jnp.sum(mu / (mu + kappa))),
                                        rel=1e-10)
    de = equivalent.deterministic_equivalent(mu, v, 0.3, lam, n)
    ell = mu / (mu + kappa)
    e0 = n / (n - float(jnp.sum(ell**2)))
    b = float(jnp.sum((1 - ell) ** 2 * v**2))
    assert float(de.risk) == pytest.approx(e0 * (b + 0.3) - 0.3, rel=1e-10)
  # Large ridge: kappa -> lam; ridgeless: kappa_0 ~ pi^2 / n^2 for mu_k = k^-2 with each
  # k >= 1 twice (the Fourier basis of the torus, cos and sin).
  assert float(equivalent.effective_ridge(mu, 10.0, n)) == pytest.approx(10.0, rel=1e-2)
  k = jnp.arange(1, 20001.0)
  mu_fourier = jnp.concatenate([jnp.ones(1), jnp.repeat(k**-2.0, 2)])
  kappa0 = float(equivalent.effective_ridge(mu_fourier, 0.0, 512))
  assert kappa0 * 512**2 == pytest.approx(math.pi**2, rel=0.02)
  path = equivalent.path(mu, v, 0.3, jnp.array([0.0, 1e-2]), n)
  assert path.kappa.shape == (2,)


def test_learning_curve_slopes_oracle_and_driver():
  ns = np.array([64, 128, 256, 512])
  rng = np.random.default_rng(0)
  values = 3.0 * ns[:, None] ** -0.75 * np.exp(0.05 * rng.normal(size=(4, 6)))
  fit = learning_curve.fit_slope(ns, values, key=jax.random.key(0))
  assert fit.low < fit.slope < fit.high
  assert abs(fit.slope + 0.75) < 0.05 and fit.high - fit.low < 0.2
  exact = learning_curve.fit_slope(ns, 2.0 * ns**-1.5, key=jax.random.key(0))
  assert exact.slope == pytest.approx(-1.5) and exact.intercept == pytest.approx(math.log(2))
  with pytest.raises(ValueError, match="positive"):
    learning_curve.fit_slope(ns, -values, key=jax.random.key(0))
  # The parabola refinement recovers the minimiser of a log-log parabola between grid points.
  lams = np.logspace(-6, 0, 13)
  err = np.exp((np.log(lams) - np.log(5.5e-4)) ** 2 / 4)
  lam_star, err_star = learning_curve.oracle(np.r_[0.0, lams], np.r_[5.0, err][None, :])
  assert lam_star[0] == pytest.approx(5.5e-4, rel=1e-8) and err_star[0] == pytest.approx(err.min())
  raw, _ = learning_curve.oracle(lams, err[None, :], refine=False)
  assert raw[0] != pytest.approx(5.5e-4, rel=0.2)
  # A ridgeless 0 that beats the whole positive grid is the oracle.
  assert learning_curve.oracle(np.r_[0.0, lams], np.r_[0.1, err][None])[0][0] == 0.0

  def errors(key, n, lams_):
    noise = jax.random.uniform(key, ())
    return {"bias2": lams_ * 0 + 1.0 / n + 0.0 * noise, "seed": noise}

  curve = learning_curve.run(errors, (8, 16), 3, jnp.ones(2), jax.random.key(0),
                             log_every=False)
  assert curve["bias2"].shape == (2, 3, 2)
  np.testing.assert_allclose(curve["bias2"][1], 1 / 16)
  assert len(set(curve["seed"].ravel().tolist())) == 6     # independent design keys
  again = learning_curve.run(errors, (8, 16), 3, jnp.ones(2), jax.random.key(0),
                             log_every=False)
  np.testing.assert_array_equal(again["seed"], curve["seed"])
  with pytest.raises(ValueError, match="finite values >= 0"):
    learning_curve.as_array([1e-3, -1.0])
