"""Nystrom approximation of a kernel matrix and the preconditioner (K_nys + mu I)^{-1} it gives
for kernel ridge systems (K + mu I) alpha = y.

  ny = build(kernel_fns.rbf(1.0), x, key=jax.random.key(0), num_centres=500, mesh=mesh)
  ny.factor, ny.values                  # (n, M), (M,): K_nys = F F^T, F^T F = diag(values)
  apply = preconditioner(ny, shift=n * lam)
  apply(r)                              # (n,) or (n, o): (K_nys + n lam I)^{-1} r

**Approximation** (Williams & Seeger 2001; centres drawn uniformly without replacement as in
Falkon, Rudi, Carratino & Rosasco 2017, arXiv:1705.10958): with M centres x_M,

  K_nys = K_nM K_MM^+ K_Mn = C C^T,  C = K_nM V S^{-1/2}   (K_MM = V S V^T),

eigenvalues of K_MM below `rcond * max` dropped (their columns of C are zero). An eigh of the
small Gram C^T C = W Sigma W^T gives F = C W with orthogonal columns, so K_nys = F F^T =
U Sigma U^T with U = F Sigma^{-1/2}. Only M x M matrices are factorised; K_nM is computed in
row tiles, sharded over `mesh` (`jaxlab.kernels.tiled`), and F is `(n, M)`.

**Preconditioner** (the Nystrom preconditioner of Frangella, Tropp & Udell 2023,
arXiv:2110.02820, in its K_nys + mu I form; Diaz, Epperly, Frangella, Tropp & Webber 2023,
arXiv:2304.12465 for kernel ridge regression), for any shift mu > 0 from the same `build`:

  (K_nys + mu I)^{-1} v = (v - F diag(1 / (Sigma + mu)) F^T v) / mu      (Woodbury)

2 n M flops per application. The preconditioned system's eigenvalues lie in
[1, 1 + lambda_{M+1}-ish / mu] when the centres capture K's top eigenspace, so CG needs few
iterations once the kernel spectrum at index M is below the ridge mu.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxlab.kernels import ridge, tiled


class Nystrom(NamedTuple):
  """K_nys = factor @ factor.T: `factor (n, M)` with orthogonal columns, `values (M,)` their
  squared norms (the eigenvalues of K_nys, >= 0), `centres (M,)` the indices of the centres."""

  factor: jax.Array
  values: jax.Array
  centres: jax.Array


def _build(kernel, num_centres, tile_size, mesh, rcond, x, key):
  n = x.shape[0]
  centres = jax.random.choice(key, n, (num_centres,), replace=False)
  x_m = x[centres]
  s, v = jnp.linalg.eigh(kernel(x_m))
  cut = (num_centres * float(jnp.finfo(x.dtype).eps) if rcond is None else rcond) * s[-1]
  inv_sqrt = jnp.where(s > cut, 1.0 / jnp.sqrt(jnp.where(s > cut, s, 1.0)), 0.0)
  c = tiled.matvec(kernel, x, v * inv_sqrt[None, :], x_m, tile_size=tile_size, mesh=mesh)
  sigma, w = jnp.linalg.eigh(c.T @ c)
  return Nystrom(c @ w, jnp.maximum(sigma, 0.0), centres), s


@functools.lru_cache(maxsize=16)
def _program(kernel, num_centres, tile_size, mesh, rcond):
  return jax.jit(functools.partial(_build, kernel, num_centres, tile_size, mesh, rcond))


def build(kernel: tiled.Kernel, x: jax.Array, *, key: jax.Array, num_centres: int,
          tile_size: Optional[int] = None, mesh: Optional[Mesh] = None,
          rcond: Optional[float] = None) -> Nystrom:
  """The Nystrom approximation of `kernel(x)` from `num_centres` uniformly drawn centres.

  Args:
    kernel: a jaxlab kernel `kernel(x1, x2=None) -> (n1, n2)`.
    x: `(n, d)` inputs.
    key: PRNG key for the centres.
    num_centres: M, in [1, n].
    tile_size, mesh: for the tiled, sharded K_nM (see `jaxlab.kernels.tiled`).
    rcond: relative cut-off for K_MM's eigenvalues (default M * machine epsilon).

  Raises:
    ValueError: bad arguments; K_MM holds non-finite values or is not positive semi-definite
      (up to round-off): `kernel` is not a kernel.
  """
  n = jnp.shape(x)[0] if jnp.ndim(x) == 2 else None
  if n is None:
    raise ValueError(f"x: expected inputs of shape (n, d), got {jnp.shape(x)}")
  if isinstance(num_centres, bool) or not isinstance(num_centres, int) or not (
      1 <= num_centres <= n):
    raise ValueError(f"num_centres must be an int in [1, n = {n}], got {num_centres!r}")
  if rcond is not None and not 0 <= rcond < 1:
    raise ValueError(f"rcond must be in [0, 1), got {rcond!r}")
  ny, s = _program(kernel, num_centres, tile_size, mesh, rcond)(jnp.asarray(x), key)
  if not bool(jnp.all(jnp.isfinite(s))) or not bool(jnp.all(jnp.isfinite(ny.values))):
    raise ValueError("kernel: non-finite kernel values on the Nystrom centres (or inputs)")
  ridge.check_psd(np.asarray(s), name="kernel (its Gram on the Nystrom centres)")
  return ny


def preconditioner(ny: Nystrom, shift) -> Callable[[jax.Array], jax.Array]:
  """`v -> (K_nys + shift I)^{-1} v` for `v (n,)` or `(n, o)`, `shift` > 0 (the absolute
  ridge n lambda); symmetric positive definite, so a valid CG preconditioner."""

  def apply(v: jax.Array) -> jax.Array:
    inv = 1.0 / (ny.values + shift)
    w = ny.factor.T @ v
    w = w * (inv if v.ndim == 1 else inv[:, None])
    return (v - ny.factor @ w) / shift

  return apply
