"""Kernel ridge, ridgeless and importance-weighted estimators; the whole regularisation path from
one eigendecomposition, with its exact bias/variance decomposition.

  k = kernel_fns.rbf(0.5)
  p = path(k(x))                                    # one eigh of the (n, n) Gram
  lams = jnp.logspace(-8, 0, 30)
  preds = predictions(p, k(x_test, x), y, lams)     # (30, m): every lambda at once
  bv = bias_variance(p, k(x_test, x), f_train, f_test, noise_var=0.25, lams=lams)
  bv.bias2, bv.variance                             # (30,), (30,): exact given the design

**Ridge convention.** Every function here takes the *theory* ridge lambda of the papers
(Wong et al. 2024, eq. of section 2.2; Chen et al. 2024, section 2.2): the estimator is
alpha = (K + n * lambda * I)^{-1} y, i.e. it minimises (1/n) sum_i (f(x_i) - y_i)^2 + lambda
||f||_H^2. `jaxlab.kernels.spectral` filters take the *absolute* ridge r added to the
diagonal; the conversion r = n * lambda is made here, once (`absolute_ridge`).
lambda = 0 is the ridgeless (minimum-norm) interpolant, via the pseudo-inverse filter.

**Importance weighting** (Chen et al. 2024, section 2.2): minimise (1/n) sum_i w_i (f(x_i) -
y_i)^2 + lambda ||f||^2, alpha = (K + n lambda W^{-1})^{-1} y, solved in the symmetric form
alpha = W^{1/2} (W^{1/2} K W^{1/2} + n lambda I)^{-1} W^{1/2} y. The path of that estimator is
again one eigendecomposition (of W^{1/2} K W^{1/2}) for all lambda. At lambda = 0 it equals
the unweighted interpolant K^{-1} y for every positive W.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.kernels import spectral


class IllConditionedError(ValueError):
  """A ridgeless system is singular at working precision (its solution would be silently
  wrong)."""


class Path(NamedTuple):
  """One eigendecomposition of a training Gram, ready for every ridge.

  Attributes:
    eig: eigendecomposition of K (unweighted) or of W^{1/2} K W^{1/2} (weighted), `(n,)` and
      `(n, n)`.
    sqrt_w: `(n,)` square roots of the importance weights, or None (unweighted).
  """

  eig: spectral.Eigh
  sqrt_w: Optional[jax.Array] = None

  @property
  def n(self) -> int:
    return self.eig.values.shape[-1]


class BiasVariance(NamedTuple):
  """Exact squared bias and variance of a linear estimator, averaged over test points, per
  ridge: `bias2 (L,)`, `variance (L,)`; `risk = bias2 + variance`."""

  bias2: jax.Array
  variance: jax.Array

  @property
  def risk(self) -> jax.Array:
    return self.bias2 + self.variance


def absolute_ridge(lam, n: int):
  """The ridge added to the Gram's diagonal, n * lambda, for the theory ridge `lam`."""
  return n * jnp.asarray(lam)


def _require(values, name: str, expected: str, ok) -> None:
  """Raises ValueError naming `name` unless `ok(values)` holds everywhere. Traced values pass
  unchecked (inside jit the caller's eager entry point is where bad input is caught)."""
  if isinstance(values, jax.core.Tracer):
    return
  v = np.asarray(values)
  if v.size and not bool(np.all(ok(v))):
    raise ValueError(f"{name}: expected {expected}, got values in [{v.min():.3g}, {v.max():.3g}]")


def check_gram(k: jax.Array, name: str = "k_train", y: jax.Array | None = None) -> None:
  """Raises ValueError naming `name` unless `k` is a square (n, n) matrix of finite values
  (and `y`, if given, has n rows). Traced values pass unchecked."""
  shape = jnp.shape(k)
  if len(shape) != 2 or shape[0] != shape[1]:
    raise ValueError(f"{name}: expected a square (n, n) Gram matrix, got shape {shape}")
  if y is not None and (jnp.ndim(y) not in (1, 2) or jnp.shape(y)[0] != shape[0]):
    raise ValueError(f"y: expected targets of shape ({shape[0]},) or ({shape[0]}, o) for the "
                     f"{shape[0]} training points, got {jnp.shape(y)}")
  if not isinstance(k, jax.core.Tracer) and not bool(np.all(np.isfinite(np.asarray(k)))):
    raise ValueError(f"{name}: the Gram matrix holds NaN or infinite values")


def check_psd(values: jax.Array, name: str = "k_train") -> None:
  """Raises ValueError unless the eigenvalues `values (n,)` of a Gram matrix are >= 0 up to
  round-off (-n * eps * max |eigenvalue|): a kernel matrix is positive semi-definite."""
  if isinstance(values, jax.core.Tracer):
    return
  v = np.asarray(values)
  tol = v.size * float(np.finfo(v.dtype).eps) * max(float(np.max(np.abs(v))), 1e-300)
  if v.size and float(v.min()) < -tol:
    raise ValueError(f"{name}: not positive semi-definite (smallest eigenvalue "
                     f"{float(v.min()):.3g}, largest {float(v.max()):.3g}); a kernel's Gram "
                     "matrix has no negative eigenvalues")


def path(k_train: jax.Array, weights: Optional[jax.Array] = None) -> Path:
  """Eigendecomposes `k_train (n, n)` (or W^{1/2} K W^{1/2} for positive `weights (n,)`).

  Raises:
    ValueError: `k_train` is not square, holds non-finite values or is not positive
      semi-definite (up to round-off), or the weights are not positive and finite.
  """
  check_gram(k_train)
  if weights is None:
    p = Path(spectral.eigh(k_train))
    check_psd(p.eig.values)
    return p
  if jnp.shape(weights) != (k_train.shape[0],):
    raise ValueError(f"weights: expected shape ({k_train.shape[0]},), got {jnp.shape(weights)}")
  _require(weights, "weights", "importance weights > 0 (finite)",
           lambda w: np.isfinite(w) & (w > 0))
  sqrt_w = jnp.sqrt(weights)
  p = Path(spectral.eigh(sqrt_w[:, None] * k_train * sqrt_w[None, :]), sqrt_w)
  check_psd(p.eig.values)
  return p


def filters(p: Path, lams: jax.Array, rcond: Optional[float] = None) -> jax.Array:
  """Spectral filter values `(L, n)`: 1 / (eigenvalue + n lambda), pseudo-inverse at 0."""
  _require(lams, "lams", "ridges lambda >= 0 (0 = ridgeless)", lambda v: v >= 0)
  lams = jnp.atleast_1d(jnp.asarray(lams, p.eig.values.dtype))
  return jax.vmap(lambda lam: spectral.ridge_or_pinv_filter(
      p.eig.values, absolute_ridge(lam, p.n), rcond))(lams)


def _weighted(p: Path, a: jax.Array) -> jax.Array:
  """W^{1/2} a along the training axis (the first) of `a`; a itself if unweighted."""
  if p.sqrt_w is None:
    return a
  return a * (p.sqrt_w if a.ndim == 1 else p.sqrt_w[:, None])


def coefficients(p: Path, y: jax.Array, lams: jax.Array, rcond: Optional[float] = None
                 ) -> jax.Array:
  """Dual coefficients alpha(lambda) `(L, n)` or `(L, n, o)`, f(x) = k(x, X) alpha, for
  targets `y (n,)` or `(n, o)`."""
  alpha = spectral.apply_filters(p.eig, filters(p, lams, rcond), _weighted(p, y))
  return jax.vmap(lambda a: _weighted(p, a))(alpha)


def predictions(p: Path, k_test_train: jax.Array, y: jax.Array, lams: jax.Array,
                rcond: Optional[float] = None) -> jax.Array:
  """Predictions `(L, m)` or `(L, m, o)` at the test points for every ridge in `lams (L,)`."""
  k_tw = k_test_train if p.sqrt_w is None else k_test_train * p.sqrt_w[None, :]
  return spectral.predict_many(p.eig, k_tw, _weighted(p, y), filters(p, lams, rcond))


def bias_variance(p: Path, k_test_train: jax.Array, f_train: jax.Array, f_test: jax.Array,
                  noise_var, lams: jax.Array, rcond: Optional[float] = None) -> BiasVariance:
  """Exact bias^2 and variance, averaged over the `m` test points, of the estimator trained on
  y = f_train + noise (iid, variance `noise_var`), for every ridge:

    bias2 = mean_x (f_lambda[f_train](x) - f_test(x))^2
    variance = noise_var * mean_x ||s_lambda(x)||^2,   f_lambda[y](x) = s_lambda(x)^T y.

  With B = V^T W^{1/2} K_train,test the smoother is s(x) = W^{1/2} V (g * B_x), so the variance
  is noise_var / m * sum_i g_i^2 ||B_i||^2 unweighted (V orthogonal), and the exact quadratic
  form with V^T W V when weighted.

  Args:
    p: the design's `Path`.
    k_test_train: `(m, n)` kernel between test and training points.
    f_train, f_test: the noise-free target at the training `(n,)` and test `(m,)` points.
    noise_var: sigma^2.
    lams: ridges `(L,)`.
  """
  g = filters(p, lams, rcond)                                          # (L, n)
  b = p.eig.vectors.T @ _weighted(p, k_test_train.T)                   # (n, m)
  coef = p.eig.vectors.T @ _weighted(p, f_train)                       # (n,)
  pred = (g * coef[None, :]) @ b                                       # (L, m)
  bias2 = jnp.mean((pred - f_test[None, :]) ** 2, axis=-1)
  if p.sqrt_w is None:
    variance = noise_var * (g**2 @ jnp.sum(b**2, axis=1)) / b.shape[1]
  else:
    wv = _weighted(p, p.eig.vectors)                                   # W^{1/2} V

    def var_one(gl):
      return jnp.sum((wv @ (gl[:, None] * b)) ** 2) / b.shape[1]
    variance = noise_var * jax.lax.map(var_one, g)
  return BiasVariance(bias2, variance)


def conditioning(p: Path, lams: jax.Array, rcond: Optional[float] = None
                 ) -> tuple[jax.Array, jax.Array]:
  """Effective condition numbers `(L,)` of the regularised systems and whether each is singular
  at working precision (condition > 1 / rcond, default rcond = n * eps: the pseudo-inverse
  then drops directions, so a ridgeless solution is not the exact interpolant)."""
  lams = jnp.atleast_1d(jnp.asarray(lams, p.eig.values.dtype))
  cond = jax.vmap(lambda lam: spectral.effective_condition(
      p.eig.values, absolute_ridge(lam, p.n)))(lams)
  if rcond is None:
    rcond = p.n * float(jnp.finfo(p.eig.values.dtype).eps)
  return cond, ~(cond * rcond < 1.0)


def kernel_ridge(k_train: jax.Array, y: jax.Array, lam) -> jax.Array:
  """alpha = (K + n lambda I)^{-1} y by a Cholesky solve (one ridge lambda > 0).

  Raises:
    ValueError: `lam` is not > 0; `k_train` is not square or holds non-finite values; `y`
      does not have n rows; K + n lambda I is not positive definite (K has eigenvalues below
      -n lambda: not a kernel matrix).
  """
  _require(lam, "lam", "a ridge lambda > 0 (use ridgeless for 0)",
           lambda v: np.isfinite(v) & (v > 0))
  check_gram(k_train, y=y)
  n = k_train.shape[0]
  g = spectral.symmetrize(k_train) + absolute_ridge(lam, n) * jnp.eye(n, dtype=k_train.dtype)
  factor = jax.scipy.linalg.cho_factor(g)
  if not isinstance(factor[0], jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(factor[0]))):
    raise ValueError(f"k_train: K + n lambda I is not positive definite (n lambda = "
                     f"{float(absolute_ridge(lam, n)):.3g}); a kernel's Gram matrix is "
                     "positive semi-definite")
  return jax.scipy.linalg.cho_solve(factor, y)


def ridgeless(k_train: jax.Array, y: jax.Array, *, rcond: Optional[float] = None,
              check: bool = True) -> jax.Array:
  """Minimum-norm interpolant alpha = K^+ y (spectral pseudo-inverse).

  Raises:
    ValueError: `k_train` is not square, holds non-finite values or is indefinite; `y` does
      not have n rows.
    IllConditionedError: if `check` and K is singular at working precision (some eigenvalues
      below rcond * lambda_max, default rcond = n * eps), with the condition number; the
      pseudo-inverse would then silently drop directions. Pass `check=False` to accept that
      (the minimum-norm solution of the truncated system), or add a ridge.
  """
  check_gram(k_train, y=y)
  p = path(k_train)
  if check:
    cond, ill = conditioning(p, 0.0, rcond)
    if bool(ill[0]):
      raise IllConditionedError(
          f"ridgeless system is singular at working precision: condition number "
          f"{float(cond[0]):.3g} > 1/rcond (n = {p.n}, dtype {k_train.dtype}); use float64, a "
          "better-spread design (e.g. jittered), or a ridge > 0")
  return spectral.apply_filter(p.eig, spectral.pinv_filter(p.eig.values, rcond), y)


def weighted_kernel_ridge(k_train: jax.Array, y: jax.Array, weights: jax.Array, lam, *,
                          rcond: Optional[float] = None, check: bool = True) -> jax.Array:
  """Importance-weighted KRR, alpha = (K + n lambda W^{-1})^{-1} y for weights `(n,)` > 0,
  solved in the symmetric positive-definite form W^{1/2} (W^{1/2} K W^{1/2} + n lambda I)^{-1}
  W^{1/2} y (Cholesky). lambda = 0 gives the unweighted interpolant `ridgeless(k_train, y)`."""
  _require(weights, "weights", "importance weights > 0 (finite)",
           lambda w: np.isfinite(w) & (w > 0))
  _require(lam, "lam", "a ridge lambda >= 0", lambda v: v >= 0)
  if float(lam) == 0.0:
    return ridgeless(k_train, y, rcond=rcond, check=check)
  s = jnp.sqrt(weights)
  s_y = s * y if y.ndim == 1 else s[:, None] * y
  inner = kernel_ridge(s[:, None] * k_train * s[None, :], s_y, lam)
  return s * inner if y.ndim == 1 else s[:, None] * inner

