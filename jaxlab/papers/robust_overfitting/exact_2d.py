"""Errors of the 2D (l-inf) construction: exact per ball, exact by box geometry, and by Monte
Carlo with standard errors (spec P4-B).

  lo, hi = extrema(q_lo, q_hi, centres, kappa, delta, w)   # min / max of sum_k kappa_k B_k
  ball_errors(c, x, y)                  # (n,) bool, exact: some x' in B(x_i, delta) is wrong
  geometric_errors(c)                   # disagreement, robust error from flip boxes (exact if
                                        # every bump is isolated)
  monte_carlo(c, key, 10**6)            # clean, disagreement, robust error with SEs

Exact extrema over a box. phi(x) = sum_k kappa_k B_k(x) is continuous and piecewise linear; its
pieces are bounded by the lines x_j = c_kj +- delta, x_j = c_kj +- (delta + w) (the kinks of
each trapezoid) and the diagonals x_2 - c_k2 = +-(x_1 - c_k1) (where the two trapezoids of the
min are equal). The minimum and maximum of a piecewise-linear function over a box are attained
at vertices of its pieces, so evaluating phi at every pairwise intersection of these lines and
the box edges, clipped into the box (clipping keeps every candidate inside, so extra points
are harmless), gives the exact extrema.

On a ball around a support point with delta + ramp < band, g is the constant Bayes label eta,
so h = eta + phi there: a ball holds a point wrong for label y iff min y h <= 0.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxlab.papers.robust_overfitting import construction, data, exact_1d, measure
from jaxlab.papers.robust_overfitting import piecewise_linear as pl
from jaxlab.papers.robust_overfitting.construction import Bumps, Construction


def _phi(points: np.ndarray, centres: np.ndarray, kappa: np.ndarray, delta: float, w: float
         ) -> np.ndarray:
  """phi at `points (Q, C, 2)` for the bumps `centres (Q, K, 2)`, `kappa (Q, K)`: `(Q, C)`."""
  t = pl.trapezoid_value(points[:, :, None, :], centres[:, None, :, :], delta, w)
  return np.einsum("qck,qk->qc", np.min(t, axis=-1), kappa)


def candidates(q_lo: np.ndarray, q_hi: np.ndarray, centres: np.ndarray, delta: float,
               w: float) -> np.ndarray:
  """The vertices of phi's pieces in the boxes [q_lo, q_hi] (`(Q, 2)`) for the bumps
  `centres (Q, K, 2)`, clipped into the boxes: `(Q, C, 2)`, C = (4K + 2)^2 + 4K (4K + 2) + K^2.
  """
  offsets = np.array([-(delta + w), -delta, delta, delta + w])
  lines = [np.concatenate([(centres[:, :, j, None] + offsets).reshape(len(q_lo), -1),
                           q_lo[:, j, None], q_hi[:, j, None]], axis=1) for j in (0, 1)]
  v, h = lines                                                    # (Q, 4K + 2) each
  s = np.array([1.0, -1.0])
  b = centres[:, :, 1, None] - s * centres[:, :, 0, None]         # (Q, K, 2): x2 = s x1 + b
  sb, bb = np.broadcast_to(s, b.shape).reshape(len(q_lo), -1), b.reshape(len(q_lo), -1)
  grid = np.stack(np.broadcast_arrays(v[:, :, None], h[:, None, :]), -1).reshape(len(q_lo), -1, 2)
  vd = np.stack(np.broadcast_arrays(v[:, :, None], sb[:, None] * v[:, :, None] + bb[:, None]),
                -1).reshape(len(q_lo), -1, 2)
  hd = np.stack(np.broadcast_arrays(sb[:, None] * (h[:, :, None] - bb[:, None]), h[:, :, None]),
                -1).reshape(len(q_lo), -1, 2)
  up, down = b[:, :, 0], b[:, :, 1]                               # slopes +1 and -1
  dd = np.stack([(down[:, None, :] - up[:, :, None]) / 2, (down[:, None, :] + up[:, :, None]) / 2],
                -1).reshape(len(q_lo), -1, 2)
  points = np.concatenate([grid, vd, hd, dd], axis=1)
  return np.clip(points, q_lo[:, None], q_hi[:, None])


def nearby(bumps: Bumps, q_lo: np.ndarray, q_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Pairs (query, bump) whose bump support B(c, delta + w) meets the box [q_lo, q_hi]."""
  reach = bumps.delta + bumps.w
  c = bumps.centres
  query, bump = pl.support_pairs(c[:, 0], q_lo[:, 0] - reach, q_hi[:, 0] + reach)
  meet = np.all((c[bump] + reach >= q_lo[query]) & (c[bump] - reach <= q_hi[query]), axis=1)
  return query[meet], bump[meet]


def extrema(bumps: Bumps, q_lo: np.ndarray, q_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Exact min and max of phi = sum_k kappa_k B_k over each box `(Q, 2)`: `(Q,)` each.

  Queries are grouped by their number K of nearby bumps (0 gives phi = 0), so each group is
  one vectorised candidate evaluation.
  """
  lo_out, hi_out = np.zeros(len(q_lo)), np.zeros(len(q_lo))
  query, bump = nearby(bumps, q_lo, q_hi)
  order = np.argsort(query, kind="stable")
  query, bump = query[order], bump[order]
  count = np.bincount(query, minlength=len(q_lo))
  rank = np.arange(len(query)) - (np.cumsum(count) - count)[query]   # slot within its query
  for k in np.unique(count[count > 0]):
    rows = np.flatnonzero(count == k)
    row_of = np.full(len(q_lo), -1)
    row_of[rows] = np.arange(len(rows))
    sel = count[query] == k
    idx = np.zeros((len(rows), k), int)
    idx[row_of[query[sel]], rank[sel]] = bump[sel]
    pts = candidates(q_lo[rows], q_hi[rows], bumps.centres[idx], bumps.delta, bumps.w)
    phi = _phi(pts, bumps.centres[idx], bumps.kappa[idx], bumps.delta, bumps.w)
    lo_out[rows], hi_out[rows] = phi.min(axis=1), phi.max(axis=1)
  return lo_out, hi_out


def ball_errors(c: Construction, x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Exact: whether B(x_i, delta) (clipped to the box) holds a point wrong for y_i `(n,)`."""
  delta = c.bumps.delta
  q_lo, q_hi = np.clip(x - delta, 0, 1), np.clip(x + delta, 0, 1)
  eta = data.bayes_sign(x, c.bands)
  lo, hi = extrema(c.bumps, q_lo, q_hi)
  return y * eta + np.where(y > 0, lo, -hi) <= 0.0     # min over the ball of y (eta + phi)


def geometric_errors(c: Construction) -> dict[str, float]:
  """Disagreement, clean and robust error from the flip boxes B(c_i, R_i), their dilations
  B(c_i, R_i + delta) and erosions B(c_i, R_i - delta) intersected with the support:
  exact when every bump is `construction.isolated` (then the flipped set is the union of the
  boxes and they are disjoint)."""
  rho, p = data.density(c.bands, 2), c.bands.noise
  lo, hi, _ = data.support(c.bands)
  r = construction.flip_radius(c)[:, None]
  delta = c.bumps.delta

  def volume(radius):
    boxes = measure.boxes_in_product(c.bumps.centres - radius, c.bumps.centres + radius, lo, hi)
    return rho * measure.box_union_volume(*boxes)

  disagreement = volume(r)
  return {"disagreement": disagreement, "clean_error": p + (1 - 2 * p) * disagreement,
          "robust_error": (1 - p) * volume(r + delta) + p * (1 - volume(np.maximum(r - delta,
                                                                                   0.0)))}


def monte_carlo(c: Construction, key: jax.Array, num: int, chunk: int = 1 << 17
                ) -> dict[str, dict[str, float]]:
  """Clean error, disagreement and robust error over `num` test points x drawn in chunks,
  with standard errors. The ball test of each draw is exact (`ball_errors`), and the label
  noise is averaged exactly per draw (error = (1 - p) [wrong for eta] + p [wrong for -eta]),
  so the only sampling is that of x."""
  p = c.bands.noise
  values = {name: [] for name in ("clean_error", "disagreement", "robust_error")}
  starts = range(0, num, chunk)
  for start, chunk_key in zip(starts, jax.random.split(key, len(starts))):
    x, eta, _ = data.sample(chunk_key, min(chunk, num - start), c.bands, dim=2)
    wrong = np.where(construction.value(c, x) > 0, 1.0, -1.0) != eta
    values["disagreement"].append(wrong)
    values["clean_error"].append((1 - p) * wrong + p * ~wrong)
    values["robust_error"].append((1 - p) * ball_errors(c, x, eta) + p * ball_errors(c, x, -eta))
  return {name: exact_1d.mean_se(np.concatenate(v)) for name, v in values.items()}

