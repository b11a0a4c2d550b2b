"""Exact errors of any 1D piecewise-linear classifier (sign h) under the banded distribution, by
interval arithmetic in float64 (pitfall 1 of the spec: no sampling of balls).

  sets = sign_sets(h)                              # h a PiecewiseLinear on [0, 1]
  errors = classifier_errors(sets, bands, delta)   # clean, disagreement, robust (exact)
  ball_errors(sets, x, y, delta)                   # (n,) bool: some x' in the ball is wrong
  monte_carlo(h, sets, bands, delta, key, 10**6)   # the same errors by sampling, with SEs

Class +1 is h > 0. With P = {h > 0}, N = {h <= 0}, S_+- the support where the Bayes label is
+-1, density rho on S and label noise p (test labels are noisy too):
  disagreement = rho (|S_+ n N| + |S_- n P|)
  clean error  = p + (1 - 2p) disagreement
  robust error = rho ((1 - p)(|S_+ n D(N)| + |S_- n D(P)|) + p (|S_+ n D(P)| + |S_- n D(N)|))
with D the delta-dilation inside [0, 1]. For a delta-robust g (sign g = Bayes on the delta-
dilation of S, delta < band) and the flipped set F = {sign h != sign g}, the robust error is
also (1 - p) rho |S n D(F)| + p (1 - rho |S n E(F)|), E the erosion: the two formulas are
computed independently and must agree (spec P4-A).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxlab.papers.robust_overfitting import data, measure
from jaxlab.papers.robust_overfitting.data import Bands
from jaxlab.papers.robust_overfitting.piecewise_linear import PiecewiseLinear

Intervals = tuple[np.ndarray, np.ndarray]


class SignSets(NamedTuple):
  """P = {h > 0} and N = {h <= 0} in [0, 1] as merged intervals (closures)."""

  pos: Intervals
  nonpos: Intervals


def sign_sets(h: PiecewiseLinear) -> SignSets:
  """The sign sets of h on [0, 1]: on each piece h is linear, so its positive part is the
  piece, nothing, or the part beyond the zero crossing a + (b - a) h(a) / (h(a) - h(b))."""
  knots = np.unique(np.concatenate([np.clip(h.knots, 0.0, 1.0), [0.0, 1.0]]))
  v = h(knots)
  a, b, va, vb = knots[:-1], knots[1:], v[:-1], v[1:]
  with np.errstate(divide="ignore", invalid="ignore"):
    cross = a + (b - a) * (va / (va - vb))
  down = (va > 0) & (vb <= 0)
  up = (va <= 0) & (vb > 0)
  lo = np.where(up, cross, a)
  hi = np.where(down, cross, b)
  keep = (va > 0) | (vb > 0)
  pos = measure.merge(lo[keep], hi[keep])
  return SignSets(pos, measure.complement(*pos))


def support_sets(bands: Bands) -> tuple[Intervals, Intervals]:
  """(S_+, S_-): the support intervals with Bayes label +1 and -1."""
  lo, hi, sign = data.support(bands)
  return (lo[sign > 0], hi[sign > 0]), (lo[sign < 0], hi[sign < 0])


def _len(a: Intervals, b: Intervals) -> float:
  """|A n B|."""
  lo, hi = measure.intersect(*a, *b)
  return float(np.sum(hi - lo))


def classifier_errors(sets: SignSets, bands: Bands, delta: float) -> dict[str, float]:
  """Exact clean error, Bayes disagreement and robust error (module docstring)."""
  rho, p = data.density(bands), bands.noise
  s_plus, s_minus = support_sets(bands)
  wrong = _len(s_plus, sets.nonpos) + _len(s_minus, sets.pos)
  right = _len(s_plus, sets.pos) + _len(s_minus, sets.nonpos)
  dil_n = measure.dilate(*sets.nonpos, delta)
  dil_p = measure.dilate(*sets.pos, delta)
  robust_bayes = _len(s_plus, dil_n) + _len(s_minus, dil_p)
  robust_flipped = _len(s_plus, dil_p) + _len(s_minus, dil_n)
  return {"disagreement": rho * wrong,
          "clean_error": rho * ((1 - p) * wrong + p * right),
          "robust_error": rho * ((1 - p) * robust_bayes + p * robust_flipped),
          "robust_error_bayes_labels": rho * robust_bayes}


def ball_errors(sets: SignSets, x: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
  """Whether B(x_i, delta) (clipped to [0, 1]) holds a point classified against y_i `(n,)`:
  the exact adversarial training error of each point."""
  x = np.asarray(x, np.float64).reshape(-1)
  lo, hi = np.clip(x - delta, 0.0, 1.0), np.clip(x + delta, 0.0, 1.0)
  wrong_plus = measure.meets(*sets.nonpos, lo, hi)
  wrong_minus = measure.meets(*sets.pos, lo, hi)
  return np.where(np.asarray(y) > 0, wrong_plus, wrong_minus)


def flipped_set(h_sets: SignSets, g_sets: SignSets) -> Intervals:
  """F = {sign h != sign g} as merged intervals."""
  a = measure.intersect(*h_sets.pos, *g_sets.nonpos)
  b = measure.intersect(*h_sets.nonpos, *g_sets.pos)
  return measure.merge(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]))


def support_length(a: Intervals, bands: Bands) -> float:
  """|S n A|."""
  lo, hi, _ = data.support(bands)
  return _len((lo, hi), a)


def robust_error_from_flips(flips: Intervals, bands: Bands, delta: float) -> float:
  """(1 - p) rho |S n D(F)| + p (1 - rho |S n E(F)|) (module docstring)."""
  rho, p = data.density(bands), bands.noise
  dil = support_length(measure.dilate(*flips, delta), bands)
  ero = support_length(measure.erode(*flips, delta), bands)
  return (1 - p) * rho * dil + p * (1 - rho * ero)


def mean_se(v: np.ndarray) -> dict[str, float]:
  """`{"mean", "se"}` of the sample `v (N,)` (the Monte Carlo estimates)."""
  v = np.asarray(v, np.float64)
  return {"mean": float(v.mean()), "se": float(v.std(ddof=1) / np.sqrt(len(v)))}


def monte_carlo(h: PiecewiseLinear, sets: SignSets, bands: Bands, delta: float,
                key: jax.Array, num: int) -> dict[str, dict[str, float]]:
  """Clean error, disagreement and robust error of sign h over `num` test points, with
  standard errors: the cross-check of the exact values. The ball test per draw is exact and
  the label noise is averaged exactly per draw, so only x is sampled."""
  x, eta, _ = data.sample(key, num, bands, dim=1)
  p = bands.noise
  wrong = np.where(h(x[:, 0]) > 0, 1.0, -1.0) != eta
  robust = ((1 - p) * ball_errors(sets, x[:, 0], eta, delta)
            + p * ball_errors(sets, x[:, 0], -eta, delta))
  return {"clean_error": mean_se((1 - p) * wrong + p * ~wrong),
          "disagreement": mean_se(wrong), "robust_error": mean_se(robust)}
