"""Kernel ridge regression by preconditioned conjugate gradients: no n x n matrix, no eigh, for
n where `jaxlab.kernels.ridge`'s one-eigendecomposition path no longer fits or takes too long.

  k = kernel_fns.rbf(1.0)
  mesh = tiled.row_mesh()                                    # or None: one device
  sol = solve(k, x, y, 1e-4, key=jax.random.key(0), mesh=mesh)
  sol.alpha                                                  # (n,): f(x') = k(x', x) alpha
  sol.iterations, sol.residuals, sol.residual, sol.error_bound
  sols = solve_path(k, x, y, [1e-2, 1e-3, 1e-4], key=key)   # largest ridge first, warm starts
  f = predict(k, x_test, x, sol.alpha, mesh=mesh)            # (m,)

**Estimator.** The one of `ridge.kernel_ridge`, with the papers' ridge lambda:
alpha = (K + n lambda I)^{-1} y for targets `y (n,)` or `(n, o)`, computed in `x`'s dtype
(float64 for tight tolerances: `with jax.enable_x64(True):` and float64 inputs).

**Algorithm.** CG (`jaxlab.kernels.cg`) on (K + mu I) alpha = y, mu = n lambda, preconditioned
by (K_nys + mu I)^{-1} from M uniformly drawn Nystrom centres (`jaxlab.kernels.nystrom`; the
Falkon construction, Rudi et al. 2017, arXiv:1705.10958, applied to the full system as in Diaz
et al. 2023, arXiv:2304.12465). Each iteration is one tiled kernel pass K v
(`jaxlab.kernels.tiled.matvec`: n^2 kernel values, a `tile_size x n` tile per device at a time,
rows sharded over `mesh`) plus 2 n M flops; the setup is n M kernel values, two M x M `eigh`s and
3 n M^2 flops, and the factor holds n M numbers. A ridge path builds the preconditioner once
(the shift mu enters only its diagonal) and starts each ridge, from the largest down, at the
previous solution.

**Accuracy, certified.** CG stops at ||y - (K + mu I) alpha|| <= rtol ||y|| (recurred); the true
residual is then measured once. Since K + mu I >= mu I, ||alpha - alpha*|| <= ||r|| / mu, so
`error_bound` = ||r|| / (mu ||alpha||) bounds the relative error against the exact (direct)
solution. `solve` raises `jaxlab.kernels.cg.CGError`s (non-convergence, non-finite values, an
operator that is not positive definite) with the iteration and residual in the message.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlab.kernels import cg, nystrom, ridge, tiled

DEFAULT_CENTRES = 1000
DEFAULT_MAX_ITER = 500


class Solution(NamedTuple):
  """One ridge's solve: `alpha` `(n,)` or `(n, o)`; `lam`; `iterations`; `residuals` (relative
  residual ||r_k|| / ||y|| per iteration, worst column); `residual` (the true relative residual
  of `alpha`); `error_bound` (>= ||alpha - alpha*|| / ||alpha||, worst column)."""

  alpha: jax.Array
  lam: float
  iterations: int
  residuals: list[float]
  residual: float
  error_bound: float


def default_rtol(dtype) -> float:
  """1e-10 in float64, 1e-5 in float32 (relative residual; see `Solution.error_bound`)."""
  return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-5


@functools.lru_cache(maxsize=16)
def _program(kernel, tile_size, mesh, max_iter):
  """The jitted solve of one ridge (mu traced: one compilation serves a whole path)."""

  def program(x, y, mu, alpha0, approx, rtol):
    def operator(v):
      return tiled.matvec(kernel, x, v, tile_size=tile_size, mesh=mesh) + mu * v
    pre = None if approx is None else nystrom.preconditioner(approx, mu)
    alpha, stats = cg.run(operator, y, x0=alpha0, precondition=pre, rtol=rtol,
                          max_iter=max_iter)
    y_norm = jnp.sqrt(jnp.sum(y * y, axis=0))
    a_norm = jnp.sqrt(jnp.sum(alpha * alpha, axis=0))
    ratio = jnp.max(jnp.where(a_norm > 0, y_norm / jnp.where(a_norm > 0, a_norm, 1), 0))
    return alpha, stats, stats.residual * ratio / mu

  return jax.jit(program)


def _auto(mesh: Optional[Mesh]) -> Optional[Mesh]:
  """The mesh with Auto axes (the solver's vector algebra lets XLA place collectives)."""
  if mesh is None or mesh.axis_types[0] == AxisType.Auto:
    return mesh
  return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.shape))


def _inputs(kernel, x, y, mesh):
  """Checked `(x, y)` as arrays of x's float dtype, replicated over `mesh`."""
  if not callable(kernel):
    raise TypeError(f"kernel must be a callable kernel(x1, x2=None), got {type(kernel).__name__}")
  x = jnp.asarray(x)
  if x.ndim != 2 or not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"x: expected float inputs of shape (n, d), got {x.shape} {x.dtype}")
  if jnp.ndim(y) not in (1, 2) or jnp.shape(y)[0] != x.shape[0]:
    raise ValueError(f"y: expected targets of shape ({x.shape[0]},) or ({x.shape[0]}, o), got "
                     f"{jnp.shape(y)}")
  y = jnp.asarray(y).astype(x.dtype)
  for name, a in (("x", x), ("y", y)):
    if not bool(jnp.all(jnp.isfinite(a))):
      raise ValueError(f"{name}: holds NaN or infinite values")
  if mesh is not None:
    rep = NamedSharding(mesh, PartitionSpec())
    x, y = jax.device_put(x, rep), jax.device_put(y, rep)
  return x, y


def _ridges(lams) -> list[float]:
  values = np.atleast_1d(np.asarray(lams, dtype=np.float64))
  if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
    raise ValueError(f"lam: expected ridges lambda > 0 (finite), got {lams!r}")
  return [float(v) for v in values]


def _approx(kernel, x, key, num_centres, approx, tile_size, mesh):
  """The Nystrom approximation to precondition with (None: plain CG)."""
  n = x.shape[0]
  if approx is not None:
    if approx.factor.shape[0] != n:
      raise ValueError(f"approx: a Nystrom factor for {approx.factor.shape[0]} points, x has {n}")
    return approx
  m = min(n, DEFAULT_CENTRES) if num_centres is None else num_centres
  if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= n:
    raise ValueError(f"num_centres must be an int in [0, n = {n}] (0: no preconditioner), got "
                     f"{num_centres!r}")
  if m == 0:
    return None
  if key is None:
    raise ValueError("key: a PRNG key is needed to draw the Nystrom centres (or num_centres=0)")
  return nystrom.build(kernel, x, key=key, num_centres=m, tile_size=tile_size, mesh=mesh)


def solve_path(kernel: tiled.Kernel, x: jax.Array, y: jax.Array, lams: Sequence[float], *,
               key: Optional[jax.Array] = None, num_centres: Optional[int] = None,
               approx: Optional[nystrom.Nystrom] = None, warm_start: bool = True,
               rtol: Optional[float] = None, max_iter: int = DEFAULT_MAX_ITER,
               tile_size: Optional[int] = None, mesh: Optional[Mesh] = None
               ) -> list[Solution]:
  """Kernel ridge solutions for every ridge in `lams`, returned in the order given.

  One Nystrom preconditioner serves all ridges; they are solved from the largest down, each
  starting at the previous solution (`warm_start`; else from zero).

  Args:
    kernel: a jaxlab kernel `kernel(x1, x2=None) -> (n1, n2)` (`jaxlab.kernels.kernel_fns`).
    x: `(n, d)` training inputs; their float dtype is the working dtype.
    y: `(n,)` or `(n, o)` targets.
    lams: ridges lambda > 0 (the papers' convention: n lambda on the diagonal).
    key: PRNG key for the Nystrom centres (not needed with `approx` or `num_centres=0`).
    num_centres: M in [0, n] (default min(n, 1000)); 0 runs plain CG.
    approx: a prebuilt `nystrom.build(kernel, x, ...)` to precondition with.
    warm_start: start each ridge at the previous ridge's solution.
    rtol: CG's relative residual target (default `default_rtol(x.dtype)`).
    max_iter: CG iterations per ridge at most.
    tile_size, mesh: kernel tiles and the device mesh (`jaxlab.kernels.tiled`).

  Raises:
    ValueError / TypeError: bad arguments, before any work. `cg.CGError` subclasses: a solve
      failed (its ridge is named).
  """
  ridges = _ridges(lams)
  mesh = _auto(mesh)
  x, y = _inputs(kernel, x, y, mesh)
  rtol = default_rtol(x.dtype) if rtol is None else rtol
  cg.validate(y, None, rtol, max_iter)
  approx = _approx(kernel, x, key, num_centres, approx, tile_size, mesh)
  program = _program(kernel, tile_size, mesh, max_iter)
  alpha = jnp.zeros_like(y)
  out = [None] * len(ridges)
  for i in sorted(range(len(ridges)), key=lambda j: -ridges[j]):
    mu = ridge.absolute_ridge(ridges[i], x.shape[0]).astype(x.dtype)
    start = alpha if warm_start else jnp.zeros_like(y)
    alpha, stats, bound = program(x, y, mu, start, approx, rtol)
    cg.check(stats, rtol, max_iter, what=f"kernel ridge CG (lam = {ridges[i]:.3g})")
    out[i] = Solution(alpha, ridges[i], int(stats.iterations), stats.history(),
                      float(stats.residual), float(bound))
  return out


def solve(kernel: tiled.Kernel, x: jax.Array, y: jax.Array, lam: float, **kwargs) -> Solution:
  """The kernel ridge solution alpha = (K + n lam I)^{-1} y for one ridge `lam` > 0; keyword
  arguments as `solve_path` (`key`, `num_centres`, `approx`, `rtol`, `max_iter`, `tile_size`,
  `mesh`)."""
  if np.ndim(lam) != 0:
    raise ValueError(f"lam: expected one ridge (a scalar), got shape {np.shape(lam)}; use "
                     "solve_path for several")
  return solve_path(kernel, x, y, [lam], **kwargs)[0]


def predict(kernel: tiled.Kernel, x_test: jax.Array, x: jax.Array, alpha: jax.Array, *,
            tile_size: Optional[int] = None, mesh: Optional[Mesh] = None) -> jax.Array:
  """Predictions k(x_test, x) @ alpha, `(m,)` or `(m, o)`, in row tiles over `mesh`."""
  return tiled.matvec(kernel, x_test, alpha, x, tile_size=tile_size, mesh=_auto(mesh))
