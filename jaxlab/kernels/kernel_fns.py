"""Kernel functions: `kernel(x1, x2=None) -> Gram (n1, n2)`, jit- and vmap-friendly.

  k = rbf(lengthscale=0.5)
  x = jax.random.normal(jax.random.key(0), (100, 3))
  k(x)                                  # (100, 100), symmetric PSD, ones on the diagonal
  k(x[:10], x)                          # (10, 100)
  ntk = from_kernel_fn(stax_kernel_fn, get="ntk")   # any neural-tangents-style kernel_fn

A jaxlab kernel is a plain function of two batches of inputs `(n1, d)` and `(n2, d)`; with
`x2=None` it returns the Gram of `x1` with itself, exactly symmetric. The same convention as
neural-tangents' `kernel_fn(x1, x2, get)`, with `get` fixed, so `from_kernel_fn` is a thin
adapter: arc-cosine / NTK kernels come from jaxlab's NTK engine (`jaxlab.ntk.stax`) and are not
re-implemented here.

Spectral kernels given by their eigenvalues: `mercer(eigenvalues, features)` for any basis, and
`jaxlab.papers.krr_inverse.torus.sobolev_gram` for the Fourier basis of the torus (exact,
closed form).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

Kernel = Callable[..., jax.Array]  # (x1 (n1, d), x2 (n2, d) | None) -> (n1, n2)

MATERN_NUS = (0.5, 1.5, 2.5)


def _pair(x1: jax.Array, x2: Optional[jax.Array]) -> tuple[jax.Array, jax.Array, bool]:
  x1 = jnp.asarray(x1)
  if x1.ndim != 2:
    raise ValueError(f"kernel inputs must be (n, d), got x1 of shape {x1.shape}")
  if x2 is None:
    return x1, x1, True
  x2 = jnp.asarray(x2)
  if x2.ndim != 2 or x2.shape[1] != x1.shape[1]:
    raise ValueError(f"kernel inputs must be (n, d) with the same d, got {x1.shape} and "
                     f"{x2.shape}")
  return x1, x2, False


def squared_distances(x1: jax.Array, x2: Optional[jax.Array] = None) -> jax.Array:
  """||x1_i - x2_j||^2 `(n1, n2)`, clipped at 0; exactly symmetric with a zero diagonal when
  `x2` is None."""
  x1, x2, same = _pair(x1, x2)
  sq = (jnp.sum(x1**2, -1)[:, None] + jnp.sum(x2**2, -1)[None, :] - 2.0 * x1 @ x2.T)
  sq = jnp.maximum(sq, 0.0)
  if same:
    sq = 0.5 * (sq + sq.T) * (1.0 - jnp.eye(x1.shape[0], dtype=sq.dtype))
  return sq


def _distances(x1, x2):
  sq = squared_distances(x1, x2)
  # sqrt with a finite gradient at 0
  safe = jnp.where(sq > 0, sq, 1.0)
  return jnp.where(sq > 0, jnp.sqrt(safe), 0.0)


def _check_positive(name: str, value) -> None:
  if not value > 0:
    raise ValueError(f"{name} must be > 0, got {value}")


def rbf(lengthscale: float = 1.0, variance: float = 1.0) -> Kernel:
  """Gaussian kernel variance * exp(-||x - x'||^2 / (2 lengthscale^2))."""
  _check_positive("lengthscale", lengthscale)
  _check_positive("variance", variance)

  def kernel(x1, x2=None):
    return variance * jnp.exp(-squared_distances(x1, x2) / (2.0 * lengthscale**2))
  return kernel


def laplace(lengthscale: float = 1.0, variance: float = 1.0) -> Kernel:
  """Laplace kernel variance * exp(-||x - x'|| / lengthscale) (Matern nu = 1/2)."""
  return matern(0.5, lengthscale, variance)


def matern(nu: float = 1.5, lengthscale: float = 1.0, variance: float = 1.0) -> Kernel:
  """Matern kernel of smoothness `nu` in {0.5, 1.5, 2.5} (closed forms; Rasmussen & Williams
  2006, eq. 4.16-4.17), with r = ||x - x'|| / lengthscale:

    nu = 1/2: exp(-r);  nu = 3/2: (1 + sqrt3 r) exp(-sqrt3 r);
    nu = 5/2: (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r).
  For nu -> infinity use `rbf`."""
  if nu not in MATERN_NUS:
    raise ValueError(f"matern nu must be one of {MATERN_NUS} (closed forms), got {nu}; use rbf "
                     "for nu = infinity")
  _check_positive("lengthscale", lengthscale)
  _check_positive("variance", variance)

  def kernel(x1, x2=None):
    r = _distances(x1, x2) / lengthscale
    if nu == 0.5:
      poly = jnp.ones_like(r)
      s = r
    elif nu == 1.5:
      s = math.sqrt(3.0) * r
      poly = 1.0 + s
    else:
      s = math.sqrt(5.0) * r
      poly = 1.0 + s + s**2 / 3.0
    return variance * poly * jnp.exp(-s)
  return kernel


def polynomial(degree: int = 2, offset: float = 1.0, scale: Optional[float] = None) -> Kernel:
  """Polynomial kernel (scale * <x, x'> + offset)^degree; `scale` defaults to 1 / d."""
  if int(degree) != degree or degree < 1:
    raise ValueError(f"polynomial degree must be an integer >= 1, got {degree}")
  if offset < 0:
    raise ValueError(f"polynomial offset must be >= 0 (else not PSD), got {offset}")

  return dot_product(lambda t: (t + offset) ** int(degree), scale)


def dot_product(h: Callable[[jax.Array], jax.Array], scale: Optional[float] = None) -> Kernel:
  """Inner-product kernel h(<x, x'> * scale), `scale` defaulting to 1 / d, the high-dimensional
  scaling of El Karoui (2010). `h` must have non-negative Taylor coefficients (e.g. `jnp.exp`,
  `lambda t: (1 + t)**3`) for the kernel to be PSD in every dimension."""

  def kernel(x1, x2=None):
    x1, x2, same = _pair(x1, x2)
    s = 1.0 / x1.shape[1] if scale is None else scale
    g = x1 @ x2.T
    if same:
      g = 0.5 * (g + g.T)
    return h(s * g)
  return kernel


def mercer(eigenvalues: jax.Array, features: Callable[[jax.Array], jax.Array]) -> Kernel:
  """Spectral kernel k(x, x') = sum_j eigenvalues_j phi_j(x) phi_j(x') from its eigenvalues
  `(J,)` (>= 0) and a feature map `features(x (n, d)) -> (n, J)` of an orthonormal basis.
  A truncated series: for kernels whose series is known in closed form prefer the closed form
  (e.g. the torus's `sobolev_gram`), since truncation makes the Gram of close points
  rank-deficient."""

  def kernel(x1, x2=None):
    x1, x2, same = _pair(x1, x2)
    f1 = features(x1)
    f2 = f1 if same else features(x2)
    g = (f1 * eigenvalues[None, :]) @ f2.T
    return 0.5 * (g + g.T) if same else g
  return kernel


def from_kernel_fn(kernel_fn: Callable[..., object], get: str = "ntk") -> Kernel:
  """A jaxlab kernel from a neural-tangents-convention `kernel_fn(x1, x2=None, get=...)`, e.g.
  `jaxlab.ntk.stax.serial(Dense(512), Relu(), Dense(1))[2]` (infinite-width arc-cosine NNGP /
  NTK kernels).

  Args:
    kernel_fn: `kernel_fn(x1, x2, get)` returning an array `(n1, n2)` (or a kernel object with
      attribute `get`), as in neural-tangents.
    get: 'ntk' or 'nngp'.
  """
  if get not in ("ntk", "nngp"):
    raise ValueError(f"get must be 'ntk' or 'nngp', got {get!r}")

  def kernel(x1, x2=None):
    x1, x2_, same = _pair(x1, x2)
    out = kernel_fn(x1, None if same else x2_, get)
    if not isinstance(out, jax.Array) and hasattr(out, get):
      out = getattr(out, get)
    out = jnp.asarray(out)
    if out.ndim != 2:
      raise ValueError(f"kernel_fn(..., get={get!r}) must return an (n1, n2) array for scalar "
                       f"outputs, got shape {out.shape}")
    return 0.5 * (out + out.T) if same else out
  return kernel

