"""Learning curves: a grid of sample sizes x designs x ridges, oracle ridges and fitted log-log
slopes with bootstrap confidence intervals over designs.

  def errors(key, n, lams):                          # one design: {"bias2": (L,), ...}
    ...
  curve = run(errors, ns=(128, 256, 512), num_designs=4, lams=lams, key=jax.random.key(0))
  curve["bias2"]                                     # (3, 4, L)
  lam_star, err_star = oracle(lams, curve["bias2"] + curve["variance"])   # (3,), (3,)
  s = fit_slope(ns, curve["variance"][..., 0], key=jax.random.key(1))     # ridgeless variance
  s.slope, s.low, s.high                             # least squares in log-log, 95% bootstrap CI

The error function sees every ridge at once (one eigendecomposition per design, the ridges
`vmap`ped inside it); designs are independent keys `fold_in(key, design)` per n, so a curve is
reproducible point by point. `Slope` and `fit_slope` are the experiment skeleton's slope fitter
(`jaxlab.experiment.gates`), re-exported here.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.experiment import progress
from jaxlab.experiment.gates import Slope, fit_slope

__all__ = ["Slope", "as_array", "design_key", "fit_slope", "oracle", "refine_minimum", "run"]

ErrorFn = Callable[[jax.Array, int, jax.Array], Mapping[str, Any]]


def design_key(key: jax.Array, n: int, design: int) -> jax.Array:
  """The key of design `design` at sample size `n`."""
  return jax.random.fold_in(jax.random.fold_in(key, n), design)


def run(error_fn: ErrorFn, ns: Sequence[int], num_designs: int, lams: jax.Array,
        key: jax.Array, *, log_every: bool = True,
        desc: str = "learning curve") -> dict[str, np.ndarray]:
  """Runs `error_fn(key, n, lams) -> {name: array}` on every (n, design) and stacks the results.

  Args:
    error_fn: one design's errors for all ridges (arrays of any shape, usually `(L,)`).
    ns: sample sizes.
    num_designs: designs (seeds) per n.
    lams: ridge grid `(L,)`, passed through.
    key: base key; design d at size n uses `design_key(key, n, d)`.
    log_every: log a line as each n finishes.
    desc: label of the progress bar over the (n, design) grid (shown on a terminal only).

  Returns:
    `{name: array (len(ns), num_designs, ...)}` as numpy arrays.
  """
  rows: dict[str, list] = {}
  grid = [(n, d) for n in ns for d in range(num_designs)]
  for n, d in progress.bar(grid, desc=desc):
    res = jax.device_get(error_fn(design_key(key, n, d), int(n), lams))
    for name, value in res.items():
      rows.setdefault(name, []).append(np.asarray(value))
    if log_every and d == num_designs - 1:
      logging.info("learning curve: n = %d done (%d designs)", n, num_designs)
  return {name: np.stack(v).reshape(len(ns), num_designs, *v[0].shape)
          for name, v in rows.items()}


def refine_minimum(log_lams: np.ndarray, log_err: np.ndarray) -> tuple[float, float]:
  """(log lam*, log err*) of the minimum of `log_err (L,)` over the grid `log_lams (L,)`,
  refined by the parabola through the best grid point and its two neighbours (spec pitfall 8:
  a grid minimiser is quantised to the grid step). Falls back to the grid point at an edge or
  if the parabola is not convex."""
  i = int(np.argmin(log_err))
  if i == 0 or i == len(log_err) - 1:
    return float(log_lams[i]), float(log_err[i])
  xs, ys = log_lams[i - 1:i + 2], log_err[i - 1:i + 2]
  a, b, c = np.polyfit(xs, ys, 2)
  if a <= 0:
    return float(log_lams[i]), float(log_err[i])
  x_star = float(np.clip(-b / (2 * a), xs[0], xs[2]))
  return x_star, float(min(np.polyval([a, b, c], x_star), ys[1]))


def oracle(lams: np.ndarray, errors: np.ndarray, *, refine: bool = True
           ) -> tuple[np.ndarray, np.ndarray]:
  """Oracle ridge and error per n from `errors (N, D, L)` (mean over designs) or `(N, L)`.

  The grid must be positive for the refinement (a ridgeless 0 is excluded from the parabola
  and only used if it beats the whole positive grid). Returns `(lam* (N,), err* (N,))`; the
  error is the minimum over the grid (the refinement moves lam* only)."""
  lams = np.asarray(lams, dtype=float)
  errors = np.asarray(errors, dtype=float)
  if errors.ndim == 3:
    errors = errors.mean(1)
  pos = lams > 0
  lam_star, err_star = [], []
  for row in errors:
    err_star.append(row.min())
    if not pos.any() or (not pos.all() and row[~pos].min() < row[pos].min()):
      lam_star.append(float(lams[np.argmin(row)]))
      continue
    if refine:
      log_lam, _ = refine_minimum(np.log(lams[pos]), np.log(row[pos]))
      lam_star.append(float(np.exp(log_lam)))
    else:
      lam_star.append(float(lams[pos][np.argmin(row[pos])]))
  return np.asarray(lam_star), np.asarray(err_star)


def as_array(lams: Sequence[float], dtype=None) -> jax.Array:
  """A ridge grid as a 1-D array; raises ValueError unless every value is finite and >= 0."""
  arr = np.atleast_1d(np.asarray(lams, dtype=float))
  if arr.ndim != 1 or arr.size == 0 or np.any(~np.isfinite(arr)) or np.any(arr < 0):
    raise ValueError(f"ridges must be a non-empty 1-D list of finite values >= 0, got {lams!r}")
  return jnp.asarray(arr, dtype=dtype)
