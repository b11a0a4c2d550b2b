"""Preconditioned conjugate gradients for symmetric positive-definite systems A x = b, as pure
functions in the optax `(init, update)` shape, a jit-able loop and a checked driver.

  operator = lambda v: k_mat @ v + mu * v                  # any SPD matrix-vector product
  x, stats = solve(operator, b, precondition=lambda r: r / d, rtol=1e-10)
  stats.iterations, stats.residuals                        # int, (iterations + 1,) relative
  state = init(operator, b); state = update(operator, state)   # one step at a time

`b` is `(n,)` or `(n, o)`: the `o` columns are independent systems sharing each product with A
(one kernel pass serves all of them); their step sizes are per column and the loop stops when
every column has converged.

Algorithm (Hestenes & Stiefel 1952; Saad, *Iterative Methods for Sparse Linear Systems* 2003,
Alg. 9.1), with M^{-1} the preconditioner:

  r_0 = b - A x_0,  z_0 = M^{-1} r_0,  p_0 = z_0
  a_k = <r_k, z_k> / <p_k, A p_k>
  x_{k+1} = x_k + a_k p_k,  r_{k+1} = r_k - a_k A p_k,  z_{k+1} = M^{-1} r_{k+1}
  p_{k+1} = z_{k+1} + (<r_{k+1}, z_{k+1}> / <r_k, z_k>) p_k

It stops when ||r_k|| <= rtol ||b|| for every column. `solve` then measures the true residual
||b - A x|| once (the recurred r_k drifts from it at high accuracy) and raises `CGError`
subclasses, with the statistics attached, when the loop did not converge within `max_iter`
steps, produced a non-finite value, or met <p, A p> <= 0 (A or M^{-1} is not positive
definite). `run` is the same loop without the host-side checks, for use inside `jax.jit`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

Operator = Callable[[jax.Array], jax.Array]

CONVERGED, MAX_ITER, NON_FINITE, NOT_POSITIVE = 0, 1, 2, 3
_STATUS = {CONVERGED: "converged", MAX_ITER: "max_iter reached", NON_FINITE: "non-finite value",
           NOT_POSITIVE: "not positive definite"}


class CGState(NamedTuple):
  """One CG iterate: `x`, `r` (residual), `z` (preconditioned residual), `p` (direction),
  all shaped like `b`; `rz` = <r, z> per column (`()` or `(o,)`); `iteration` (int32);
  `status` (int32, one of CONVERGED, MAX_ITER, NON_FINITE, NOT_POSITIVE; set by `run`)."""

  x: jax.Array
  r: jax.Array
  z: jax.Array
  p: jax.Array
  rz: jax.Array
  iteration: jax.Array
  status: jax.Array


class CGStats(NamedTuple):
  """What a solve did: `iterations` (int), `residuals` (`(max_iter + 1,)`, ||r_k|| / ||b|| of
  the worst column per iteration, NaN after the last), `residual` (the true relative residual
  ||b - A x|| / ||b||, worst column), `status` (see `CGState`)."""

  iterations: jax.Array
  residuals: jax.Array
  residual: jax.Array
  status: jax.Array

  def history(self) -> list[float]:
    """The relative residuals of iterations 0..iterations as floats (host)."""
    return [float(v) for v in np.asarray(self.residuals)[:int(self.iterations) + 1]]


class CGError(RuntimeError):
  """A CG solve failed; `stats` holds its `CGStats`."""

  def __init__(self, message: str, stats: CGStats):
    super().__init__(message)
    self.stats = stats


class ConvergenceError(CGError):
  """The relative residual did not reach `rtol` within `max_iter` iterations."""


class NonFiniteError(CGError):
  """An iterate or a matrix-vector product was NaN or infinite."""


class NotPositiveDefiniteError(CGError):
  """<p, A p> <= 0 or <r, M^{-1} r> < 0: the operator or the preconditioner is not positive
  definite."""


def _dot(a: jax.Array, b: jax.Array) -> jax.Array:
  """Column-wise inner products: `()` for vectors, `(o,)` for `(n, o)`."""
  return jnp.sum(a * b, axis=0)


def _cols(coef: jax.Array, a: jax.Array) -> jax.Array:
  """`coef` (per column) broadcast against `a`."""
  return coef if a.ndim == 1 else coef[None, :]


def _identity(r: jax.Array) -> jax.Array:
  return r


def init(operator: Operator, b: jax.Array, x0: Optional[jax.Array] = None,
         precondition: Optional[Operator] = None) -> CGState:
  """The CG state at `x0` (default zeros; one product with A unless x0 is None or zero)."""
  precondition = precondition or _identity
  if x0 is None:
    x, r = jnp.zeros_like(b), b
  else:
    x = x0
    r = jax.lax.cond(jnp.any(x0 != 0), lambda: b - operator(x0), lambda: b)
  z = precondition(r)
  zero = jnp.zeros((), jnp.int32)
  return CGState(x, r, z, z, _dot(r, z), zero, zero)


def update(operator: Operator, state: CGState, precondition: Optional[Operator] = None
           ) -> CGState:
  """One preconditioned CG step. Columns whose <r, z> is zero (solved) stay put; the status
  records NOT_POSITIVE if, in a column still active (<r, z> > 0), <p, A p> <= 0 or the new
  <r, z> < 0 (an indefinite operator or preconditioner)."""
  precondition = precondition or _identity
  q = operator(state.p)
  pq = _dot(state.p, q)
  active = state.rz > 0
  a = jnp.where(active & (pq > 0), state.rz / jnp.where(pq > 0, pq, 1), 0)
  x = state.x + _cols(a, state.p) * state.p
  r = state.r - _cols(a, q) * q
  z = precondition(r)
  rz = _dot(r, z)
  beta = jnp.where(active, rz / jnp.where(active, state.rz, 1), 0)
  p = z + _cols(beta, state.p) * state.p
  bad = jnp.any(active & ((pq <= 0) | (rz < 0)))
  status = jnp.where(bad, NOT_POSITIVE, state.status).astype(jnp.int32)
  return CGState(x, r, z, p, rz, state.iteration + 1, status)


def _relative(r: jax.Array, b_norm: jax.Array) -> jax.Array:
  """max over columns of ||r|| / ||b|| (a zero column of b counts as solved when r is 0)."""
  r_norm = jnp.sqrt(_dot(r, r))
  return jnp.max(jnp.where(b_norm > 0, r_norm / jnp.where(b_norm > 0, b_norm, 1), r_norm))


def _finite(state: CGState) -> jax.Array:
  return jnp.all(jnp.isfinite(state.x)) & jnp.all(jnp.isfinite(state.r)) & jnp.all(
      jnp.isfinite(state.rz))


def run(operator: Operator, b: jax.Array, *, x0: Optional[jax.Array] = None,
        precondition: Optional[Operator] = None, rtol: float = 1e-10, max_iter: int = 500
        ) -> tuple[jax.Array, CGStats]:
  """The CG loop (`lax.while_loop`) from `x0` until ||r|| <= rtol ||b|| in every column, a
  failure, or `max_iter` steps; then one product with A for the true residual. Jit-able: no
  host-side checks (see `solve` and `check`).

  Returns:
    `x` shaped like `b`, and `CGStats`.
  """
  b_norm = jnp.sqrt(_dot(b, b))
  rtol = jnp.asarray(rtol, b.dtype)
  history = jnp.full((max_iter + 1,), jnp.nan, b.dtype)

  def record(state, hist):
    res = _relative(state.r, b_norm)
    status = jnp.where(_finite(state), state.status, NON_FINITE).astype(jnp.int32)
    return state._replace(status=status), hist.at[state.iteration].set(res), res

  state, history, res = record(init(operator, b, x0, precondition), history)

  def cond(carry):
    state, _, res = carry
    return (res > rtol) & (state.status == CONVERGED) & (state.iteration < max_iter)

  def body(carry):
    state, hist, _ = carry
    return record(update(operator, state, precondition), hist)

  state, history, res = jax.lax.while_loop(cond, body, (state, history, res))
  status = jnp.where((state.status == CONVERGED) & (res > rtol), MAX_ITER, state.status)
  true_res = _relative(b - operator(state.x), b_norm)
  return state.x, CGStats(state.iteration, history, true_res, status.astype(jnp.int32))


def check(stats: CGStats, rtol: float, max_iter: int, what: str = "CG") -> None:
  """Raises the `CGError` subclass for a failed `stats` (host side), naming `what`."""
  status = int(stats.status)
  if status == CONVERGED and np.isfinite(float(stats.residual)):
    return
  k, res = int(stats.iterations), float(np.asarray(stats.residuals)[int(stats.iterations)])
  where = f"{what} stopped at iteration {k} ({_STATUS.get(status, status)})"
  if status == NON_FINITE or not np.isfinite(float(stats.residual)):
    raise NonFiniteError(f"{where}: a NaN or infinite value appeared (relative residual {res:.3g}"
                         "); check the inputs and that the operator returns finite values",
                         stats)
  if status == NOT_POSITIVE:
    raise NotPositiveDefiniteError(f"{where}: <p, A p> <= 0 or <r, M^-1 r> < 0 (relative "
                                   f"residual {res:.3g}); the operator or the preconditioner "
                                   "is not positive definite", stats)
  raise ConvergenceError(f"{where}: relative residual {res:.3g} > rtol = {rtol:.3g} after "
                         f"max_iter = {max_iter} iterations; raise max_iter, or improve the "
                         "preconditioner", stats)


def solve(operator: Operator, b: jax.Array, *, x0: Optional[jax.Array] = None,
          precondition: Optional[Operator] = None, rtol: float = 1e-10, max_iter: int = 500
          ) -> tuple[jax.Array, CGStats]:
  """`run`, then `check`: the solution of A x = b and its `CGStats`.

  Args:
    operator: `v -> A v` for a symmetric positive-definite A, shapes like `b`.
    b: `(n,)` or `(n, o)` right-hand side(s).
    x0: start (default zeros), shaped like `b`.
    precondition: `r -> M^{-1} r` for a symmetric positive-definite M (default identity).
    rtol: stop when ||b - A x|| <= rtol ||b|| (recurred residual), in (0, 1).
    max_iter: at most this many iterations (>= 1).

  Raises:
    ValueError: bad arguments. ConvergenceError, NonFiniteError, NotPositiveDefiniteError:
      see `check`.
  """
  validate(b, x0, rtol, max_iter)
  x, stats = run(operator, b, x0=x0, precondition=precondition, rtol=rtol, max_iter=max_iter)
  check(stats, rtol, max_iter)
  return x, stats


def validate(b, x0, rtol, max_iter) -> None:
  """Raises ValueError naming the argument for a bad `b`, `x0`, `rtol` or `max_iter`."""
  if jnp.ndim(b) not in (1, 2) or not jnp.issubdtype(jnp.result_type(b), jnp.floating):
    raise ValueError(f"b: expected a float vector (n,) or matrix (n, o), got shape "
                     f"{jnp.shape(b)} of {jnp.result_type(b)}")
  if x0 is not None and (jnp.shape(x0) != jnp.shape(b)
                         or jnp.result_type(x0) != jnp.result_type(b)):
    raise ValueError(f"x0: expected the shape and dtype of b {jnp.shape(b)} "
                     f"{jnp.result_type(b)}, got {jnp.shape(x0)} {jnp.result_type(x0)}")
  if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
    raise ValueError(f"rtol must be a relative residual in (0, 1), got {rtol!r}")
  if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
    raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
