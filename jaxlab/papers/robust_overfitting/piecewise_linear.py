"""Continuous piecewise-linear functions of one variable and their one-hidden-layer ReLU form.

  f = PiecewiseLinear(knots=np.array([0.0, 0.5, 1.0]), values=np.array([0.0, 1.0, 0.0]))
  f(np.array([0.25]))                       # array([0.5])
  units = relu_units(f)                     # f(t) = units.bias + sum_u a_u relu(t - t_u)
  units.kinks, units.slopes                 # (3,), (3,): 0, 0.5, 1 and 2, -4, 2

f is linear between consecutive knots and constant outside [knots[0], knots[-1]] (as np.interp).
A continuous piecewise-linear function with kinks t_1 < ... < t_K is exactly
f(t) = f(t_1) + sum_u a_u relu(t - t_u) on t >= t_1 with a_u the slope change at t_u, so it is a
one-hidden-layer ReLU network with one unit (input weight 1, bias -t_u, output weight a_u) per
kink (arXiv 2401.13624, construction steps 2 and 5). Values stay in float64: the knots of the
constructions are 1e-11 apart at n = 2^14 (pitfall 5 of the spec).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PiecewiseLinear(NamedTuple):
  """f with `knots (K,)` (non-decreasing) and `values (K,)`; constant outside the knots."""

  knots: np.ndarray
  values: np.ndarray

  def __call__(self, t: np.ndarray) -> np.ndarray:
    return np.interp(t, self.knots, self.values)

  def slopes(self) -> np.ndarray:
    """The slope on each of the K - 1 pieces `(K - 1,)` (0 on an empty piece)."""
    dt = np.diff(self.knots)
    dv = np.diff(self.values)
    return np.divide(dv, dt, out=np.zeros_like(dv), where=dt > 0)


class ReluUnits(NamedTuple):
  """f(t) = bias + sum_u slopes[u] relu(t - kinks[u]): `kinks (U,)`, `slopes (U,)`."""

  kinks: np.ndarray
  slopes: np.ndarray
  bias: float

  def __call__(self, t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, np.float64)
    return self.bias + np.maximum(t[..., None] - self.kinks, 0.0) @ self.slopes


def relu_units(f: PiecewiseLinear) -> ReluUnits:
  """The ReLU units of f (module docstring): one per knot whose slope change is not zero
  (f is flat before its first and after its last knot)."""
  s = np.concatenate([[0.0], f.slopes(), [0.0]])
  change = np.diff(s)
  keep = change != 0
  return ReluUnits(np.asarray(f.knots, np.float64)[keep], change[keep], float(f.values[0]))


def trapezoid(centre: np.ndarray, delta: float, w: float) -> tuple[np.ndarray, np.ndarray]:
  """The 1D plateau bump T_c of construction step 2 as knots `(F, 4)` and values `(4,)`:
  1 on [c - delta, c + delta], 0 outside [c - delta - w, c + delta + w], linear between;
  `centre (F,)`."""
  c = np.asarray(centre, np.float64)[:, None]
  knots = c + np.array([-(delta + w), -delta, delta, delta + w])
  return knots, np.array([0.0, 1.0, 1.0, 0.0])


def trapezoid_value(t: np.ndarray, centre: np.ndarray, delta: float, w: float) -> np.ndarray:
  """T_c(t) = clip((delta + w - |t - c|) / w, 0, 1), broadcasting `t` against `centre`."""
  return np.clip((delta + w - np.abs(t - centre)) / w, 0.0, 1.0)


def trapezoid_units(centre: np.ndarray, delta: float, w: float) -> ReluUnits:
  """T_c as 4 ReLU units per centre: [relu(t - c + delta + w) - relu(t - c + delta)
  - relu(t - c - delta) + relu(t - c - delta - w)] / w; kinks and slopes `(F * 4,)`."""
  knots, _ = trapezoid(centre, delta, w)
  slopes = np.broadcast_to(np.array([1.0, -1.0, -1.0, 1.0]) / w, knots.shape)
  return ReluUnits(knots.ravel(), slopes.ravel().copy(), 0.0)


def support_pairs(t: np.ndarray, starts: np.ndarray, ends: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
  """All pairs (piece i, point k) with starts[i] <= t[k] <= ends[i]: `(piece (P,), point (P,))`.

  Work is proportional to the number of pairs, not to points x pieces: the points of piece i
  are a contiguous range of the sorted points. This is how the local bumps are evaluated.
  """
  t = np.asarray(t, np.float64)
  order = np.argsort(t, kind="stable")
  ts = t[order]
  lo = np.searchsorted(ts, starts, side="left")
  hi = np.searchsorted(ts, ends, side="right")
  count = np.maximum(hi - lo, 0)
  total = int(count.sum())
  piece = np.repeat(np.arange(len(count)), count)
  offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
  return piece, order[np.repeat(lo, count) + offset]


def union_knots(*knot_arrays: np.ndarray) -> np.ndarray:
  """The sorted distinct knots of several functions `(K,)`."""
  return np.unique(np.concatenate([np.ravel(k) for k in knot_arrays]))
