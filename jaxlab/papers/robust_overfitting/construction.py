"""The interpolating classifier of arXiv 2401.13624 (construction steps 1-4, 6-8 of the spec):
h = g + sum_{i in F} kappa_i B_{x_i}, with F the training points g misfits on their delta-ball.

  c = classifier(x, y, bands, delta=1e-3, w=1e-3, margin=1.0)      # x (n, d), d = 1 or 2
  value(c, points)                    # h at points (N, d), float64, only nearby bumps summed
  flip_radius(c)                      # (F,) l-inf radius of the set where bump i flips sign h
  separation_violations(x, y, c)      # pairs breaking the separation condition
  as_piecewise_linear(c)              # 1D: h as knots / values, for the exact measures

B_c(x) = min_j T_{c_j}(x_j) is 1 on the l-inf ball B(c, delta), 0 outside B(c, delta + w) and
linear in the l-inf distance between; kappa_i = y_i (sup_{B(x_i, delta)} |g| + margin), so sign h
= y_i on the whole ball. Every w > 0 and margin > 0 gives another interpolating classifier
(the "infinitely many" of claim 1). Where g is constant (|g| = 1) on the support of bump i and
no other bump reaches it, bump i flips sign h exactly on the l-inf ball of radius
R_i = delta + w (1 - |g| / |kappa_i|) = delta + w margin / (1 + margin).

Separation condition: no training point x_j whose ball B(x_j, delta) meets the support of a bump
of the opposite sign, i.e. ||x_j - x_i||_inf > 2 delta + w whenever y_j != sign kappa_i. It
implies zero adversarial training error; when it fails the error may be nonzero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxlab.papers.robust_overfitting import data, exact_1d
from jaxlab.papers.robust_overfitting import piecewise_linear as pl
from jaxlab.papers.robust_overfitting.data import Bands


class Bumps(NamedTuple):
  """Plateau bumps: `centres (F, d)`, amplitudes `kappa (F,)`, plateau half-width `delta`,
  ramp width `w`."""

  centres: np.ndarray
  kappa: np.ndarray
  delta: float
  w: float


class Construction(NamedTuple):
  """h = g + sum_i kappa_i B_i on [0, 1]^dim (`bands` defines g); `fit` holds the indices of
  the training points in F (those that got a bump)."""

  bands: Bands
  dim: int
  bumps: Bumps
  fit: np.ndarray
  margin: float


def check_widths(delta: float, w: float) -> None:
  """Raises ValueError naming the argument unless delta > 0 and w > 0 (finite)."""
  if not (np.isfinite(delta) and delta > 0):
    raise ValueError(f"delta: the perturbation radius must be > 0, got {delta}")
  if not (np.isfinite(w) and w > 0):
    raise ValueError(f"w: the bump's ramp width must be > 0, got {w}")


def g_sup_on_balls(x: np.ndarray, bands: Bands, delta: float) -> np.ndarray:
  """sup_{B(x_i, delta)} |g| `(n,)`, exactly: in 1D the max over the ball's ends and g's kinks
  inside it; in 2D |g| <= 1 everywhere with equality off the ramps."""
  if x.shape[1] == 2:
    return np.ones(len(x))
  s = data.square_wave(bands)
  lo, hi = np.clip(x[:, 0] - delta, 0, 1), np.clip(x[:, 0] + delta, 0, 1)
  sup = np.maximum(np.abs(s(lo)), np.abs(s(hi)))
  piece, point = pl.support_pairs(s.knots, lo, hi)
  np.maximum.at(sup, piece, np.abs(s.values[point]))
  return sup


def misfit(x: np.ndarray, y: np.ndarray, bands: Bands, delta: float) -> np.ndarray:
  """F: whether g misclassifies some point of B(x_i, delta) for label y_i `(n,)` bool.

  1D: exact, from g's sign sets. 2D: needs delta + ramp < band (then g is the constant Bayes
  label on every ball around a support point, so F = the points with flipped labels).
  """
  if x.shape[1] == 1:
    sets = exact_1d.sign_sets(data.square_wave(bands))
    return exact_1d.ball_errors(sets, x[:, 0], y, delta)
  if delta + bands.ramp >= bands.band:
    raise ValueError(f"delta: the 2D construction needs delta + ramp < band, got delta = "
                     f"{delta}, ramp = {bands.ramp}, band = {bands.band}")
  return y != data.bayes_sign(x, bands)


def classifier(x: np.ndarray, y: np.ndarray, bands: Bands, *, delta: float, w: float,
               margin: float) -> Construction:
  """The construction for training data `x (n, d)` (d = 1 or 2), labels `y (n,)` in {-1, 1}.

  Raises:
    ValueError: delta <= 0, w <= 0, margin <= 0 or bad shapes (the argument is named).
  """
  check_widths(delta, w)
  if not (np.isfinite(margin) and margin > 0):
    raise ValueError(f"margin: must be > 0, got {margin}")
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.ndim != 2 or x.shape[1] not in (1, 2) or y.shape != x.shape[:1]:
    raise ValueError(f"x: expected (n, 1) or (n, 2) points with labels (n,), got {x.shape} "
                     f"and {y.shape}")
  fit = np.flatnonzero(misfit(x, y, bands, delta))
  kappa = y[fit] * (g_sup_on_balls(x[fit], bands, delta) + margin)
  return Construction(bands, x.shape[1], Bumps(x[fit], kappa, float(delta), float(w)), fit,
                      float(margin))


def bump_values(bumps: Bumps, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The nonzero (bump, point) pairs: `(bump (P,), point (P,), B_bump(point) (P,))`."""
  reach = bumps.delta + bumps.w
  c = bumps.centres
  bump, point = pl.support_pairs(points[:, 0], c[:, 0] - reach, c[:, 0] + reach)
  ramp = pl.trapezoid_value(points[point], c[bump], bumps.delta, bumps.w)   # (P, d)
  return bump, point, np.min(ramp, axis=-1)


def bump_sum(bumps: Bumps, points: np.ndarray) -> np.ndarray:
  """sum_i kappa_i B_i at `points (N, d)` `(N,)`."""
  out = np.zeros(len(points))
  bump, point, b = bump_values(bumps, np.asarray(points, np.float64))
  np.add.at(out, point, bumps.kappa[bump] * b)
  return out


def value(c: Construction, points: np.ndarray) -> np.ndarray:
  """h at `points (N, d)` `(N,)` (float64, the analytic construction)."""
  points = np.asarray(points, np.float64)
  return data.g_value(points, c.bands) + bump_sum(c.bumps, points)


def as_piecewise_linear(c: Construction) -> pl.PiecewiseLinear:
  """h (1D) as a `PiecewiseLinear` on [0, 1] with every kink of g and of the bumps."""
  if c.dim != 1:
    raise ValueError(f"c: as_piecewise_linear is 1D, got a {c.dim}D construction")
  bump_knots, _ = pl.trapezoid(c.bumps.centres[:, 0], c.bumps.delta, c.bumps.w)
  knots = pl.union_knots(data.square_wave(c.bands).knots, np.clip(bump_knots, 0.0, 1.0))
  return pl.PiecewiseLinear(knots, value(c, knots[:, None]))


def flip_radius(c: Construction) -> np.ndarray:
  """R_i = delta + w (1 - |g(c_i)| / |kappa_i|) `(F,)`: where bump i alone flips sign h, if g
  is constant on its support (module docstring)."""
  g = np.abs(data.g_value(c.bumps.centres, c.bands))
  return c.bumps.delta + c.bumps.w * (1.0 - g / np.abs(c.bumps.kappa))


def isolated(c: Construction) -> np.ndarray:
  """Whether bump i's support B(c_i, delta + w) meets no other bump's support and no ramp of
  g (so its flipped set is exactly the l-inf ball of radius R_i) `(F,)` bool."""
  reach = c.bumps.delta + c.bumps.w
  centres = c.bumps.centres
  alone = np.ones(len(centres), bool)
  bump, other = pl.support_pairs(centres[:, 0], centres[:, 0] - 2 * reach,
                                 centres[:, 0] + 2 * reach)
  close = (bump != other) & np.all(np.abs(centres[bump] - centres[other]) < 2 * reach, axis=1)
  alone[bump[close]] = False
  z = data.zeros(c.bands)[1:-1]
  gap = np.min(np.abs(centres[:, :, None] - z), axis=-1)       # (F, d) to the nearest ramp
  return alone & np.all(gap - c.bands.ramp > reach, axis=1)


def separation_violations(x: np.ndarray, y: np.ndarray, c: Construction) -> int:
  """Number of pairs (i in F, j != i) with y_j != sign kappa_i and ||x_j - x_i||_inf <
  2 delta + w: the training balls that meet the support of an opposite bump."""
  x = np.asarray(x, np.float64)
  reach = 2 * c.bumps.delta + c.bumps.w
  centres = c.bumps.centres
  bump, j = pl.support_pairs(x[:, 0], centres[:, 0] - reach, centres[:, 0] + reach)
  near = np.all(np.abs(x[j] - centres[bump]) < reach, axis=1)
  bad = near & (c.fit[bump] != j) & (np.sign(c.bumps.kappa[bump]) != y[j])
  return int(np.sum(bad))
