"""Fourier calculus on the 1D torus [0, 1): exact periodic Sobolev Grams, designs and exact
coefficient sums (the spectral kernels of `krr_inverse.md`, section 2.5).

  x = design(jax.random.key(0), 256, "jittered")          # (256,) points in [0, 1)
  k = sobolev_gram(x, order=1)                             # (256, 256), exact closed form
  coef = analyze(x, alpha, modes=4096)                     # (4097, 2, c): sum_i alpha_i phi_k(x_i)

L2-orthonormal basis: phi_0 = 1, phi_{k,cos} = sqrt2 cos(2 pi k x), phi_{k,sin} = sqrt2 sin(2 pi
k x) for k = 1..M. Coefficient arrays have shape `(M + 1, 2)`: row k holds the (cos, sin)
coefficients; row 0 holds (constant, 0). Multipliers (kernel eigenvalues, operator symbols,
Sobolev weights) are `(M + 1,)` arrays of |k|^order with the value 1 at k = 0.

The Sobolev kernel of order b has eigenvalues mu_k = k^{-2b}; for integer b its series has the
closed form (t = frac(x - x'), B_{2b} the Bernoulli polynomial)

    K(x, x') = 1 + 2 sum_{k>=1} cos(2 pi k t) / k^{2b} = 1 + (-1)^{b+1} (2 pi)^{2b} B_{2b}(t) / (2b)!

A band-limited (truncated) series is *not* used for Grams: it is rank-deficient for points
closer than 1 / M (spec pitfall 2). Every norm is computed from Fourier coefficients summed
directly over the design points (pitfall 1: never from a quadratic form alpha^T Q alpha with an
approximate Q), with the phase k x reduced mod 1 before the trigonometric functions.
"""

from __future__ import annotations

import fractions
import math

import jax
import jax.numpy as jnp
import numpy as np

DESIGNS = ("iid", "jittered")


def multiplier(modes: int, order: float, dtype=None) -> jax.Array:
  """|k|^order for k = 0..modes, with the value 1 at k = 0; shape `(modes + 1,)`."""
  k = jnp.arange(modes + 1, dtype=dtype or jnp.result_type(float))
  return jnp.where(k > 0, jnp.where(k > 0, k, 1.0) ** order, 1.0)


def expand(multipliers: jax.Array) -> jax.Array:
  """The `(M + 1,)` multipliers per basis function, `(2M + 1,)`: k = 0 once, then each k >= 1
  twice (cos, sin) — the eigenvalues with multiplicities, for `equivalent`."""
  return jnp.concatenate([multipliers[:1], jnp.repeat(multipliers[1:], 2)])


def flatten(coef: jax.Array) -> jax.Array:
  """Coefficients `(M + 1, 2, ...)` -> `(2M + 1, ...)` in the order of `expand`."""
  return jnp.concatenate([coef[:1, 0], coef[1:].reshape((-1,) + coef.shape[2:])])


def bernoulli_numbers(n: int) -> list[fractions.Fraction]:
  """B_0..B_n exactly (B_1 = -1/2), by the Akiyama-Tanigawa algorithm in rationals
  (scipy.special.bernoulli is off by ~1e-13 already at B_4)."""
  out, a = [], []
  for m in range(n + 1):
    a.append(fractions.Fraction(1, m + 1))
    for j in range(m, 0, -1):
      a[j - 1] = j * (a[j - 1] - a[j])
    out.append(a[0])
  if n >= 1:
    out[1] = -out[1]  # the algorithm gives B_1 = +1/2
  return out


def bernoulli_polynomial(degree: int, t: jax.Array) -> jax.Array:
  """B_degree(t) = sum_j C(degree, j) B_j t^{degree - j} (B_1 = -1/2), by Horner's rule."""
  return _horner(_bernoulli_coefficients(degree), t)


def _bernoulli_coefficients(degree: int) -> list[float]:
  numbers = bernoulli_numbers(degree)
  return [float(math.comb(degree, j) * numbers[j]) for j in range(degree + 1)]


def _horner(coeffs, t):
  out = jnp.zeros_like(t)
  for c in coeffs:
    out = out * t + c
  return out


MAX_ORDER = 6


def _gram_table() -> np.ndarray:
  """Row b - 1: coefficients (highest degree first, zero-padded to degree 2 MAX_ORDER) of
  K_b(t) - 1 = (-1)^{b+1} (2 pi)^{2b} B_{2b}(t) / (2b)!."""
  table = np.zeros((MAX_ORDER, 2 * MAX_ORDER + 1))
  for b in range(1, MAX_ORDER + 1):
    scale = (-1.0) ** (b + 1) * (2.0 * math.pi) ** (2 * b) / math.factorial(2 * b)
    table[b - 1, 2 * (MAX_ORDER - b):] = [scale * c for c in _bernoulli_coefficients(2 * b)]
  return table


_GRAM_TABLE = _gram_table()


def sobolev_gram(x1: jax.Array, x2: jax.Array | None = None, *, order=1) -> jax.Array:
  """Exact Gram `(n1, n2)` of the periodic Sobolev kernel with eigenvalues k^{-2 order}
  (1 at k = 0) at points `x1 (n1,)`, `x2 (n2,)` in [0, 1).

  `order` is an integer in 1..MAX_ORDER; it may be a traced integer inside `jit` (then it is
  not checked), so one compiled function serves every order."""
  if isinstance(order, (int, float, np.integer, np.floating)):
    if int(order) != order or not 1 <= order <= MAX_ORDER:
      raise ValueError(f"the closed-form torus Gram needs an integer order in 1..{MAX_ORDER}, "
                       f"got {order}")
    order = int(order)
  same = x2 is None
  x2 = x1 if same else x2
  t = jnp.mod(x1[:, None] - x2[None, :], 1.0)
  t = jnp.minimum(t, 1.0 - t)  # B_2m(t) = B_2m(1 - t): exact symmetry, accurate near t = 0
  coeffs = jnp.asarray(_GRAM_TABLE, t.dtype)[jnp.asarray(order) - 1]
  k = 1.0 + _horner([coeffs[i] for i in range(coeffs.shape[0])], t)
  return 0.5 * (k + k.T) if same else k


def sobolev_kernel(order: int = 1):
  """`sobolev_gram` as a jaxlab kernel of inputs `(n, 1)` (see `kernel_fns`)."""

  def kernel(x1, x2=None):
    return sobolev_gram(x1[:, 0], None if x2 is None else x2[:, 0], order=order)
  return kernel


def design(key: jax.Array, n: int, kind: str = "iid", dtype=None) -> jax.Array:
  """`n` design points in [0, 1): iid uniform, or jittered x_i = (i + U[0.25, 0.75]) / n
  (spacing >= 1 / (2n); spec pitfall 3)."""
  if kind == "iid":
    return jax.random.uniform(key, (n,), dtype=dtype)
  if kind == "jittered":
    u = jax.random.uniform(key, (n,), dtype=dtype, minval=0.25, maxval=0.75)
    return (jnp.arange(n, dtype=u.dtype) + u) / n
  raise ValueError(f"design must be one of {DESIGNS}, got {kind!r}")


def random_phase_coefficients(key: jax.Array, modes: int, smoothness: float, dtype=None
                              ) -> jax.Array:
  """Coefficients `(M + 1, 2)` of u(x) = sum_{k=1}^M k^{-(s + 1/2)} 2 cos(2 pi k x - phi_k),
  phases phi_k uniform from `key`: a function at the edge of H^s."""
  phi = jax.random.uniform(key, (modes,), dtype=dtype, maxval=2.0 * math.pi)
  amp = math.sqrt(2.0) * multiplier(modes, -(smoothness + 0.5), phi.dtype)[1:]
  coef = jnp.stack([amp * jnp.cos(phi), amp * jnp.sin(phi)], axis=-1)
  return jnp.concatenate([jnp.zeros((1, 2), coef.dtype), coef])


def _phases(x: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
  """cos and sin of 2 pi k x `(n, C)`, with the phase k x reduced mod 1 first."""
  kx = x[:, None] * k[None, :]
  t = 2.0 * math.pi * (kx - jnp.floor(kx))
  return jnp.cos(t), jnp.sin(t)


def _basis(x: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(cos, sin) basis values `(n, C)` at frequencies `k (C,)` (sqrt2-normalised, 1 at k = 0)."""
  cos, sin = _phases(x, k)
  return _normalise(k, cos, sin)


def _normalise(k, cos, sin):
  scale = jnp.where(k > 0, math.sqrt(2.0), 1.0)[None, :]
  return scale * cos, jnp.where(k[None, :] > 0, scale * sin, 0.0)


class _ChunkedBasis:
  """Basis values chunk by chunk, frequencies i C + j, j < C, by angle addition from a table of
  the first C frequencies and one base phase per chunk (both computed directly, mod 1), so a
  chunk costs a few multiplications per entry instead of a sin and a cos."""

  def __init__(self, x: jax.Array, chunk: int):
    self.x = x
    self.chunk = chunk
    self.table = _phases(x, jnp.arange(chunk, dtype=x.dtype))

  def __call__(self, i) -> tuple[jax.Array, jax.Array]:
    k0 = (i * self.chunk).astype(self.x.dtype)
    base_c, base_s = _phases(self.x, k0[None])                      # (n, 1)
    t_c, t_s = self.table
    cos = base_c * t_c - base_s * t_s
    sin = base_s * t_c + base_c * t_s
    return _normalise(k0 + jnp.arange(self.chunk, dtype=self.x.dtype), cos, sin)


def _chunks(modes: int, chunk: int) -> tuple[int, int]:
  num = -(-(modes + 1) // chunk)
  return num, num * chunk


def synthesize(x: jax.Array, coef: jax.Array, *, chunk: int = 1024) -> jax.Array:
  """Point values `(n,)` of sum_k coef_k phi_k at `x (n,)`, by direct summation over the modes
  of `coef (M + 1, 2)` in chunks (spec pitfall 5: no FFT-grid interpolation)."""
  modes = coef.shape[0] - 1
  num, padded = _chunks(modes, chunk)
  coef = jnp.pad(coef, ((0, padded - modes - 1), (0, 0)))
  basis = _ChunkedBasis(x, chunk)

  def body(i, acc):
    c = jax.lax.dynamic_slice_in_dim(coef, i * chunk, chunk)
    cos, sin = basis(i)
    return acc + cos @ c[:, 0] + sin @ c[:, 1]

  return jax.lax.fori_loop(0, num, body, jnp.zeros_like(x))


def analyze(x: jax.Array, alpha: jax.Array, modes: int) -> jax.Array:
  """sum_i alpha_i phi_k(x_i) for k = 0..modes: `(M + 1, 2)` or `(M + 1, 2, c)` for `alpha
  (n,)` or `(n, c)`. Memory O(n M); for large M use `weighted_errors`."""
  k = jnp.arange(modes + 1, dtype=x.dtype)
  cos, sin = _basis(x, k)
  return jnp.stack([cos.T @ alpha, sin.T @ alpha], axis=1)


def weighted_errors(x: jax.Array, alpha: jax.Array, scale: jax.Array, targets: jax.Array,
                    target_index: jax.Array, weights: jax.Array, *, chunk: int = 1024
                    ) -> jax.Array:
  """Weighted squared errors of estimates given by dual coefficients, exact in coefficient
  space: for every column j of `alpha (n, c)` and weight row w,

    err[w, j] = sum_{k, part} weights[w, k] (scale_k sum_i alpha_ij phi_{k,part}(x_i)
                                             - targets[target_index[j], k, part])^2,

  where `target_index[j] = -1` means a zero target. Summed over modes in chunks of `chunk`, so
  memory is O(n chunk + c chunk) whatever the number of modes.

  Args:
    x: design `(n,)`.
    alpha: dual coefficients `(n, c)`.
    scale: `(M + 1,)` multiplier of the estimate's coefficients (e.g. kernel eigenvalues).
    targets: `(T, M + 1, 2)` target coefficients (T >= 1; use zeros if none).
    target_index: `(c,)` int, which target each column estimates, or -1.
    weights: `(W, M + 1)` error weights.

  Returns:
    `(W, c)` errors.
  """
  modes = scale.shape[0] - 1
  num, padded = _chunks(modes, chunk)
  pad = padded - modes - 1
  scale = jnp.pad(scale, (0, pad))
  weights = jnp.pad(weights, ((0, 0), (0, pad)))
  targets = jnp.pad(targets, ((0, 1), (0, pad), (0, 0)))   # row T: the zero target
  index = jnp.where(target_index < 0, targets.shape[0] - 1, target_index)

  basis = _ChunkedBasis(x, chunk)

  def body(i, acc):
    cos, sin = basis(i)
    s = jax.lax.dynamic_slice_in_dim(scale, i * chunk, chunk)[:, None]
    w = jax.lax.dynamic_slice_in_dim(weights, i * chunk, chunk, axis=1)
    tgt = jax.lax.dynamic_slice_in_dim(targets, i * chunk, chunk, axis=1)[index]  # (c, C, 2)
    err_c = (s * (cos.T @ alpha) - tgt[:, :, 0].T) ** 2                          # (C, c)
    err_s = (s * (sin.T @ alpha) - tgt[:, :, 1].T) ** 2
    return acc + w @ (err_c + err_s)

  init = jnp.zeros((weights.shape[0], alpha.shape[1]), alpha.dtype)
  return jax.lax.fori_loop(0, num, body, init)

