"""Exact set arithmetic and exact errors against brute force on fine grids."""

import jax
import numpy as np
import pytest

from jaxlab.papers.robust_overfitting import construction, data, exact_1d, exact_2d, measure
from jaxlab.papers.robust_overfitting.construction import Bumps

GRID = np.linspace(0.0, 1.0, 2_000_001)          # spacing 5e-7
STEP = GRID[1] - GRID[0]


def _random_intervals(rng, m, scale=0.05):
  lo = rng.uniform(-0.05, 1.0, m)
  return lo, lo + rng.uniform(0, scale, m)


def _indicator(lo, hi, t=GRID):
  """Brute force: t in the union of [lo_i, hi_i]."""
  inside = np.zeros(t.shape, bool)
  for a, b in zip(lo, hi):
    inside |= (t >= a) & (t <= b)
  return inside


def test_union_length_and_membership_match_a_fine_grid():
  rng = np.random.default_rng(0)
  lo, hi = _random_intervals(rng, 40)
  m_lo, m_hi = measure.merge(lo, hi)
  assert np.all(m_hi[:-1] < m_lo[1:]) and np.all(m_lo <= m_hi)
  brute = _indicator(lo, hi)
  assert np.array_equal(_indicator(m_lo, m_hi), brute)
  clipped = measure.clip(lo, hi)
  assert measure.length(*clipped) == pytest.approx(brute.mean() * 1.0, abs=4 * STEP * 40)


def _distance(t, pts):
  """Distance from each t to the nearest of the sorted points `pts` (brute force)."""
  i = np.clip(np.searchsorted(pts, t), 1, len(pts) - 1)
  return np.minimum(np.abs(t - pts[i - 1]), np.abs(pts[i] - t))


@pytest.mark.parametrize("r", [0.003, 0.02])
def test_dilation_and_erosion_match_brute_force_balls(r):
  """x in D(A) iff [x - r, x + r] n [0, 1] meets A; x in E(A) iff that ball lies in A:
  checked on a grid through the distances to A's grid points and to the complement's."""
  rng = np.random.default_rng(1)
  lo, hi = _random_intervals(rng, 25, scale=0.08)
  t = GRID[::4]                                              # spacing 2e-6
  a = _indicator(*measure.clip(lo, hi), t)
  tol = 2 * (t[1] - t[0])
  dil = _indicator(*measure.dilate(lo, hi, r), t)
  assert np.mean(dil != (_distance(t, t[a]) <= r)) < 1e-4
  ero = _indicator(*measure.erode(lo, hi, r), t)
  brute = a & (_distance(t, t[~a]) > r)
  assert np.mean(ero != brute) < 1e-4 and np.mean(ero) > 0.1
  near = np.abs(_distance(t, t[~a]) - r) < tol
  assert np.all((ero == brute) | near)                     # disagreement only at the edges
  # the domain ends: a ball clipped to [0, 1] inside A keeps the end in the erosion
  e_lo, e_hi = measure.erode(np.array([0.0]), np.array([0.3]), 0.1)
  assert (e_lo[0], e_hi[0]) == (0.0, pytest.approx(0.2))


def test_intersection_complement_and_meets():
  rng = np.random.default_rng(2)
  a, b = _random_intervals(rng, 30), _random_intervals(rng, 30)
  t = GRID[::10]
  both = _indicator(*measure.intersect(*a, *b), t)
  assert np.mean(both != (_indicator(*a, t) & _indicator(*b, t))) < 1e-4
  comp = _indicator(*measure.complement(*a), t)
  assert np.mean(comp == _indicator(*measure.clip(*a), t)) < 1e-4
  q = rng.uniform(0, 1, 300)
  hits = measure.meets(*a, q - 0.01, q + 0.01)
  brute = [_indicator(*a, np.linspace(v - 0.01, v + 0.01, 4001)).any() for v in q]
  assert np.array_equal(hits, brute)


def test_box_union_volume_matches_a_fine_grid():
  rng = np.random.default_rng(3)
  lo = rng.uniform(0, 0.9, (30, 2))
  hi = lo + rng.uniform(0.0, 0.15, (30, 2))
  side = np.linspace(0, 1, 1501)
  cx, cy = np.meshgrid((side[1:] + side[:-1]) / 2, (side[1:] + side[:-1]) / 2)
  inside = np.zeros(cx.shape, bool)
  for a, b in zip(lo, hi):
    inside |= (cx >= a[0]) & (cx <= b[0]) & (cy >= a[1]) & (cy <= b[1])
  assert measure.box_union_volume(lo, hi) == pytest.approx(inside.mean(), abs=2e-3)
  # two disjoint boxes and a nested one: exact
  assert measure.box_union_volume(np.array([[0, 0], [2, 2], [0.1, 0.1]]),
                                  np.array([[1, 1], [3, 4], [0.5, 0.5]])) == pytest.approx(3.0)
  # clipping to a product set
  b_lo, b_hi = measure.boxes_in_product(np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]),
                                        np.array([0.1, 0.6]), np.array([0.3, 0.7]))
  assert measure.box_union_volume(b_lo, b_hi) == pytest.approx(0.3**2)


BANDS = data.Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)


def test_exact_1d_errors_match_a_fine_grid(x64):
  """Disagreement, clean and robust error of a construction against brute force on a grid
  (integrals as grid means over the support; balls as windows of the grid)."""
  del x64
  x, _, y = data.sample(jax.random.key(4), 400, BANDS, dim=1)
  delta = 2e-3
  c = construction.classifier(x, y, BANDS, delta=delta, w=delta, margin=1.0)
  h = construction.as_piecewise_linear(c)
  errors = exact_1d.classifier_errors(exact_1d.sign_sets(h), BANDS, delta)
  t = GRID[::4]                                           # spacing 2e-6
  pos = h(t) > 0
  eta = data.bayes_sign(t[:, None], BANDS)
  lo, hi, _ = data.support(BANDS)
  in_s = _indicator(lo, hi, t)
  rho, p = data.density(BANDS), BANDS.noise
  wrong = np.where(eta > 0, ~pos, pos)
  assert errors["disagreement"] == pytest.approx(rho * np.mean(wrong & in_s), abs=1e-4)
  k = int(round(delta / (t[1] - t[0])))
  window = np.ones(2 * k + 1, bool)

  def reach(mask):                                        # some grid point within delta
    return np.convolve(mask, window, mode="same") > 0

  robust = (1 - p) * np.where(eta > 0, reach(~pos), reach(pos)) + p * np.where(
      eta > 0, reach(pos), reach(~pos))
  assert errors["robust_error"] == pytest.approx(rho * np.mean(robust * in_s), abs=1e-4)
  assert errors["clean_error"] == pytest.approx(p + (1 - 2 * p) * errors["disagreement"])


def test_exact_2d_extrema_match_a_fine_grid_over_the_box(x64):
  del x64
  rng = np.random.default_rng(5)
  delta, w = 0.01, 0.02
  centres = np.array([[0.5, 0.5], [0.53, 0.47], [0.46, 0.55]])
  bumps = Bumps(centres, np.array([1.5, -2.0, 0.7]), delta, w)
  q_lo = rng.uniform(0.44, 0.52, (12, 2))
  q_hi = q_lo + rng.uniform(0.005, 0.04, (12, 2))
  lo, hi = exact_2d.extrema(bumps, q_lo, q_hi)
  for i in range(12):
    g = np.stack(np.meshgrid(np.linspace(q_lo[i, 0], q_hi[i, 0], 301),
                             np.linspace(q_lo[i, 1], q_hi[i, 1], 301)), -1).reshape(-1, 2)
    phi = construction.bump_sum(bumps, g)
    lip = np.max(np.abs(bumps.kappa)) * np.sum(np.abs(bumps.kappa) > 0) / w
    slack = lip * np.max(q_hi[i] - q_lo[i]) / 300
    assert phi.min() >= lo[i] - 1e-12 and phi.min() <= lo[i] + slack
    assert phi.max() <= hi[i] + 1e-12 and phi.max() >= hi[i] - slack


def test_exact_2d_geometry_and_monte_carlo_agree_on_an_isolated_bump(x64):
  del x64
  bands = data.Bands(frequency=2, band=0.025, ramp=0.01, noise=0.1)
  x = np.array([[0.125, 0.125], [0.375, 0.125]])           # eta = +1, -1
  y = np.array([-1.0, -1.0])                               # the first point is noisy
  c = construction.classifier(x, y, bands, delta=0.01, w=0.01, margin=1.0)
  assert len(c.fit) == 1 and bool(construction.isolated(c)[0])
  geo = exact_2d.geometric_errors(c)
  r = construction.flip_radius(c)[0]
  assert geo["disagreement"] == pytest.approx(data.density(bands, 2) * (2 * r) ** 2)
  mc = exact_2d.monte_carlo(c, jax.random.key(6), 400_000)
  for name in ("disagreement", "clean_error", "robust_error"):
    assert abs(mc[name]["mean"] - geo[name]) <= 4 * mc[name]["se"], name
  assert not exact_2d.ball_errors(c, x, y).any()
