"""Spectral calculus of kernel matrices: one eigendecomposition, many estimators.

Every linear estimator on a training kernel K = V diag(lam) V^T jaxlab uses is a *spectral
filter* g applied to the targets, f_test = K_test,train V diag(g(lam)) V^T y:

| estimator | filter g(lam) |
|---|---|
| kernel ridge, ridge r (absolute, added to the diagonal) | 1 / (lam + r) |
| ridgeless (minimum-norm interpolant) | 1 / lam for lam > rcond * lam_max, else 0 |
| gradient flow on MSE for time t, learning rate eta | (1 - exp(-eta t lam)) / lam |

So a whole regularisation path (or a whole training trajectory) costs one `eigh` plus a matrix
product per value, and `vmap`s over the ridge or time:

  eig = eigh(k_train)                                       # (n,), (n, n); use float64
  preds = jax.vmap(lambda r: predict(eig, k_test_train, y, ridge_filter(eig.values, r)))(ridges)
  filters = jax.vmap(lambda r: ridge_or_pinv_filter(eig.values, r))(ridges)   # (L, n), r=0 ok
  preds = predict_many(eig, k_test_train, y, filters)      # (L, m): projections formed once

Spectrum helpers (`lambda_min`, `lambda_max`, `condition_number`) live here too. Kernel ridge
code (`jaxlab.kernels`) and NTK-regime dynamics (`jaxlab.ntk`) both build on this module.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Eigh(NamedTuple):
  """Eigendecomposition of a symmetric matrix: `values (n,)` ascending, `vectors (n, n)`."""

  values: jax.Array
  vectors: jax.Array


def symmetrize(k: jax.Array) -> jax.Array:
  """(K + K^T) / 2 for a square `(n, n)` matrix."""
  return 0.5 * (k + k.T)


def eigh(k: jax.Array) -> Eigh:
  """Eigendecomposition of the symmetric part of `k (n, n)`; use float64 for kernel solves."""
  values, vectors = jnp.linalg.eigh(symmetrize(k))
  return Eigh(values, vectors)


def eigvalsh(k: jax.Array) -> jax.Array:
  """Ascending eigenvalues `(n,)` of the symmetric part of `k (n, n)`."""
  return jnp.linalg.eigvalsh(symmetrize(k))


def lambda_min(k: jax.Array) -> jax.Array:
  """Smallest eigenvalue of the symmetric matrix `k (n, n)`."""
  return eigvalsh(k)[0]


def lambda_max(k: jax.Array) -> jax.Array:
  """Largest eigenvalue of the symmetric matrix `k (n, n)`."""
  return eigvalsh(k)[-1]


def condition_number(k: jax.Array) -> jax.Array:
  """lambda_max / lambda_min of a symmetric PSD `k`; inf if lambda_min <= 0."""
  values = eigvalsh(k)
  return jnp.where(values[0] > 0, values[-1] / jnp.where(values[0] > 0, values[0], 1.0), jnp.inf)


def ridge_filter(values: jax.Array, ridge) -> jax.Array:
  """g(lam) = 1 / (lam + ridge), the kernel ridge filter (ridge added to the diagonal)."""
  return 1.0 / (values + ridge)


def pinv_filter(values: jax.Array, rcond: float | None = None) -> jax.Array:
  """g(lam) = 1 / lam above `rcond * max|lam|` (default n * machine epsilon), else 0: the
  minimum-norm (ridgeless) interpolant, as `numpy.linalg.pinv` cuts off."""
  if rcond is None:
    rcond = values.shape[-1] * jnp.finfo(values.dtype).eps
  cutoff = rcond * jnp.max(jnp.abs(values), axis=-1, keepdims=True)
  keep = values > cutoff
  return jnp.where(keep, 1.0 / jnp.where(keep, values, 1.0), 0.0)


def ridge_or_pinv_filter(values: jax.Array, ridge, rcond: float | None = None) -> jax.Array:
  """`ridge_filter(values, ridge)` for ridge > 0 and `pinv_filter(values, rcond)` at ridge == 0,
  so a vmapped ridge path can include the ridgeless end point (`ridge` may be traced)."""
  return jnp.where(ridge > 0, ridge_filter(values, jnp.where(ridge > 0, ridge, 1.0)),
                   pinv_filter(values, rcond))


def gradient_flow_filter(values: jax.Array, t, learning_rate=1.0) -> jax.Array:
  """g(lam) = (1 - exp(-eta t lam)) / lam: gradient flow on 0.5 ||K alpha - y||^2-style MSE
  dynamics of the NTK regime after time t (limit eta t at lam = 0)."""
  s = learning_rate * t
  safe = jnp.where(values > 0, values, 1.0)
  return jnp.where(values > 0, -jnp.expm1(-s * safe) / safe, s)


def apply_filter(eig: Eigh, filter_values: jax.Array, y: jax.Array) -> jax.Array:
  """V diag(g) V^T y for targets `y (n,)` or `(n, o)`; returns the same shape as `y`."""
  coef = eig.vectors.T @ y
  coef = coef * (filter_values[:, None] if y.ndim == 2 else filter_values)
  return eig.vectors @ coef


def predict(eig: Eigh, k_test_train: jax.Array, y: jax.Array, filter_values: jax.Array
            ) -> jax.Array:
  """K_test,train V diag(g) V^T y: predictions `(m,)` or `(m, o)` of the filtered estimator."""
  return k_test_train @ apply_filter(eig, filter_values, y)


def apply_filters(eig: Eigh, filters: jax.Array, y: jax.Array) -> jax.Array:
  """`apply_filter` for a batch of filters `(L, n)`: `(L, n)` or `(L, n, o)`, with V^T y formed
  once and one matrix product for all filters."""
  coef = eig.vectors.T @ y
  if y.ndim == 2:
    return jnp.einsum("in,ln,no->lio", eig.vectors, filters, coef)
  return (filters * coef[None, :]) @ eig.vectors.T


def predict_many(eig: Eigh, k_test_train: jax.Array, y: jax.Array, filters: jax.Array
                 ) -> jax.Array:
  """`predict` for a batch of filters `(L, n)` at once: predictions `(L, m)` or `(L, m, o)`.
  The projections K_test,train V and V^T y are formed once, so each extra filter (ridge, time)
  costs O(m n) instead of O(m n^2)."""
  k_v = k_test_train @ eig.vectors
  coef = eig.vectors.T @ y
  if y.ndim == 2:
    return jnp.einsum("mn,ln,no->lmo", k_v, filters, coef)
  return (filters * coef[None, :]) @ k_v.T


def effective_condition(values: jax.Array, ridge=0.0) -> jax.Array:
  """Condition number (lam_max + ridge) / (lam_min + ridge) of the regularised system; compare
  with 1 / eps of the dtype to detect a numerically singular (e.g. ridgeless) solve."""
  lo, hi = values[..., 0] + ridge, values[..., -1] + ridge
  return jnp.where(lo > 0, hi / jnp.where(lo > 0, lo, 1.0), jnp.inf)
