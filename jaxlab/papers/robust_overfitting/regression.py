"""P4-C: the interpolating regression construction h = g_n + sum of exact-fit corrections, and its
exact standard and adversarial risks (arXiv 2401.13624, claim 3; construction step 5).

  g = least_squares_fit(x, y, num_knots=9)              # PiecewiseLinear on [0, 1]
  fit = interpolate(g, x, y, delta=1e-6, w=1e-6, merge=True)
  excess_mse(fit.h), excess_mse(g)                      # exact E (h(x) - sin(2 pi x))^2
  adversarial_losses(fit, x, y)                          # (n,) sup over each ball, exact

g_n is the least-squares piecewise-linear fit on `num_knots` equispaced knots. A correction C_i
equals y_i - g on B(x_i, delta) and decays linearly to 0 over a ramp of width w on each side,
so h = y_i on the whole ball (4 kinks, 4 ReLU units when g is linear on the ball; g's kinks
inside a ball are added to C_i). Points closer than 2 delta + w collide (one's ball meets the
other's correction): `merge=True` joins them into one correction that equals y_i on every
ball of the cluster and is linear between the balls; a point whose ball overlaps a kept
point's ball cannot be fitted and is skipped (counted). `merge=False` refuses collisions.

Consecutive clusters may share a ramp region, never two clusters apart, so the corrections
split into two piecewise-linear functions with disjoint pieces (even and odd clusters) and
h = g + C_even + C_odd is one piecewise-linear function, evaluated exactly in float64.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab import models
from jaxlab.experiment import gates, progress
from jaxlab.papers.robust_overfitting import data, network
from jaxlab.papers.robust_overfitting import piecewise_linear as pl
from jaxlab.papers.robust_overfitting.config import Regression
from jaxlab.papers.robust_overfitting.construction import check_widths
from jaxlab.papers.robust_overfitting.piecewise_linear import PiecewiseLinear

GAUSS_NODES = 10  # Gauss-Legendre nodes per linear piece: exact to rounding for sin(2 pi x)


def target(x: np.ndarray) -> np.ndarray:
  """f*(x) = sin(2 pi x)."""
  return np.sin(2 * np.pi * np.asarray(x, np.float64))


def least_squares_fit(x: np.ndarray, y: np.ndarray, num_knots: int) -> PiecewiseLinear:
  """The least-squares piecewise-linear fit of `(x (n,), y (n,))` with `num_knots` >= 2
  equispaced knots on [0, 1] (hat-function basis)."""
  if num_knots < 2:
    raise ValueError(f"num_knots: must be >= 2, got {num_knots}")
  knots = np.linspace(0.0, 1.0, num_knots)
  pos = np.clip(np.asarray(x, np.float64), 0, 1) * (num_knots - 1)
  j = np.clip(np.floor(pos).astype(int), 0, num_knots - 2)
  frac = pos - j
  design = np.zeros((len(pos), num_knots))
  rows = np.arange(len(pos))
  design[rows, j] = 1.0 - frac
  design[rows, j + 1] = frac
  coef, *_ = np.linalg.lstsq(design, np.asarray(y, np.float64), rcond=None)
  return PiecewiseLinear(knots, coef)


class Interpolant(NamedTuple):
  """h = g + C_even + C_odd; `kept (n,)` marks the points fitted exactly, `clusters` counts
  the corrections, `merged` the points that share a correction with another point."""

  h: PiecewiseLinear
  g: PiecewiseLinear
  corrections: tuple[PiecewiseLinear, PiecewiseLinear]
  kept: np.ndarray
  clusters: int
  merged: int
  delta: float
  w: float


def _kept(xs: np.ndarray, delta: float) -> np.ndarray:
  """Sorted points whose ball does not overlap the previous kept point's ball."""
  keep = np.ones(len(xs), bool)
  if not np.any(np.diff(xs) <= 2 * delta):
    return keep
  last = -np.inf
  for i, xi in enumerate(xs):
    if xi - last <= 2 * delta:
      keep[i] = False
    else:
      last = xi
  return keep


def _correction_knots(g, xs, ys, cluster, delta, w):
  """Knots, values and cluster ids of all corrections (sorted points `xs`)."""
  first = np.concatenate([[True], cluster[1:] != cluster[:-1]])
  last = np.concatenate([cluster[1:] != cluster[:-1], [True]])
  knots = [xs - delta, xs + delta, xs[first] - delta - w, xs[last] + delta + w]
  values = [ys - g(xs - delta), ys - g(xs + delta), np.zeros(first.sum()), np.zeros(last.sum())]
  ids = [cluster, cluster, cluster[first], cluster[last]]
  ball, inner = pl.support_pairs(g.knots, xs - delta, xs + delta)     # g's kinks in a ball
  knots.append(g.knots[inner])
  values.append(ys[ball] - g.values[inner])
  ids.append(cluster[ball])
  return np.concatenate(knots), np.concatenate(values), np.concatenate(ids)


def interpolate(g: PiecewiseLinear, x: np.ndarray, y: np.ndarray, *, delta: float, w: float,
                merge: bool) -> Interpolant:
  """The interpolating h (module docstring).

  Raises:
    ValueError: delta <= 0 or w <= 0, or (with merge=False) two points closer than
      2 delta + w; the message names the argument.
  """
  check_widths(delta, w)
  order = np.argsort(x, kind="stable")
  xs, ys = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
  gaps = np.diff(xs)
  if not merge and np.any(gaps < 2 * delta + w):
    i = int(np.argmin(gaps))
    raise ValueError(
        f"merge: points {xs[i]!r} and {xs[i + 1]!r} are {gaps[i]:.3g} apart, closer than "
        f"2 delta + w = {2 * delta + w:.3g}, so the ball of one meets the other's correction; "
        "pass merge=True to join colliding corrections, or shrink delta and w")
  keep = _kept(xs, delta)
  xk, yk = xs[keep], ys[keep]
  cluster = np.concatenate([[0], np.cumsum(np.diff(xk) >= 2 * delta + w)])
  knots, values, ids = _correction_knots(g, xk, yk, cluster, delta, w)
  parts = []
  for parity in (0, 1):
    sel = ids % 2 == parity
    idx = np.lexsort((knots[sel], ids[sel]))
    parts.append(PiecewiseLinear(knots[sel][idx], values[sel][idx]) if sel.any()
                 else PiecewiseLinear(np.array([0.0]), np.array([0.0])))
  all_knots = pl.union_knots(g.knots, parts[0].knots, parts[1].knots, [0.0, 1.0])
  h = PiecewiseLinear(all_knots, g(all_knots) + parts[0](all_knots) + parts[1](all_knots))
  sizes = np.bincount(cluster)
  kept = np.zeros(len(x), bool)
  kept[order[keep]] = True
  return Interpolant(h, g, tuple(parts), kept, len(sizes), int(sizes[sizes > 1].sum()),
                     float(delta), float(w))


def excess_mse(f: PiecewiseLinear) -> float:
  """E_x (f(x) - sin(2 pi x))^2 for x ~ U[0, 1], exactly: Gauss-Legendre on every linear
  piece of f (the integrand is smooth there; 10 nodes are exact to rounding)."""
  knots = np.unique(np.concatenate([np.clip(f.knots, 0, 1), [0.0, 1.0]]))
  a, b = knots[:-1], knots[1:]
  nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
  t = (a + b)[:, None] / 2 + (b - a)[:, None] / 2 * nodes
  fa, fb = f(a)[:, None], f(b)[:, None]
  ft = fa + (fb - fa) * (1 + nodes) / 2                 # f is linear on [a, b]
  return float(np.sum((b - a)[:, None] / 2 * weights * (ft - target(t)) ** 2))


def adversarial_losses(fit: Interpolant, x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """sup_{x' in B(x_i, delta) n [0, 1]} (h(x') - y_i)^2 `(n,)`, exactly: the max over the
  ball's ends and the kinks of h inside it."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  lo, hi = np.clip(x - fit.delta, 0, 1), np.clip(x + fit.delta, 0, 1)
  loss = np.maximum((fit.h(lo) - y) ** 2, (fit.h(hi) - y) ** 2)
  ball, inner = pl.support_pairs(fit.h.knots, lo, hi)
  np.maximum.at(loss, ball, (fit.h.values[inner] - y[ball]) ** 2)
  return loss


def relu_units(fit: Interpolant) -> pl.ReluUnits:
  """h as one-hidden-layer ReLU units: g's, then the corrections'."""
  parts = [pl.relu_units(f) for f in (fit.g, *fit.corrections)]
  return pl.ReluUnits(np.concatenate([u.kinks for u in parts]),
                      np.concatenate([u.slopes for u in parts]), parts[0].bias)


# --- the P4-C part ----------------------------------------------------------------------------

def sample(key: jax.Array, n: int, noise_std: float) -> tuple[np.ndarray, np.ndarray]:
  """x ~ U[0, 1] (float64, 53 random bits) and y = sin(2 pi x) + noise_std N(0, 1), `(n,)`."""
  rng = data.generator(key)
  x = rng.random(n)
  return x, target(x) + noise_std * rng.standard_normal(n)


def num_knots(cfg: Regression, n: int) -> int:
  """round(knots_scale n^(1/5)), at least 2."""
  return max(2, int(round(cfg.knots_scale * n ** 0.2)))


def instance(cfg: Regression, x: np.ndarray, y: np.ndarray, probe_key: jax.Array | None = None
             ) -> dict[str, Any]:
  """One training set: g_n, the interpolant at delta = w = n^-width_exponent and the fixed-w
  counter-check (always merged), their exact excess risks and adversarial losses; with a
  `probe_key`, also the ReLU network's deviation from h at the training points and 1000
  random points (float64: each ramp unit cancels far away only to ulp / w)."""
  n = len(x)
  g = least_squares_fit(x, y, num_knots(cfg, n))
  delta = float(n ** -cfg.width_exponent)
  fit = interpolate(g, x, y, delta=delta, w=delta, merge=cfg.merge)
  fixed = interpolate(g, x, y, delta=delta, w=cfg.fixed_w, merge=True)
  losses = adversarial_losses(fit, x, y)
  grid = np.linspace(0, 1, 4097)
  approx = float(np.max((g(grid) - target(grid)) ** 2))
  units = relu_units(fit)
  out = {"n": n, "delta": delta, "w": delta, "num_knots": len(g.knots),
         "excess_g": excess_mse(g), "excess_h": excess_mse(fit.h),
         "excess_fixed_w": excess_mse(fixed.h), "fixed_w_clusters": fixed.clusters,
         "adv_loss_fitted_max": float(np.max(losses[fit.kept])),
         "adv_loss_mean": float(np.mean(losses)), "skipped": int(n - fit.kept.sum()),
         "collisions": int(np.sum(np.diff(np.sort(x)) < 3 * delta)), "merged": fit.merged,
         "correction_bound": n * 2 * (2 * delta) * (cfg.noise_std**2 + approx),
         "hidden_units": len(units.kinks), "num_params": 3 * len(units.kinks) + 1}
  out["extra"] = out["excess_h"] - out["excess_g"]
  if probe_key is not None:
    model, params = network.mlp_from_units(units, outputs=1)
    probe = np.concatenate([x, data.generator(probe_key).random(1000)])
    value = np.asarray(jax.jit(model.apply)(params, jnp.asarray(probe[:, None])))[:, 0]
    out["network_params"] = models.num_params(params)
    out["network_max_deviation"] = float(np.max(np.abs(value - fit.h(probe))))
  return out


def sweep(cfg: Regression, key: jax.Array) -> list[dict[str, Any]]:
  """One record per (n, seed); the network is built for the first seed at the smallest and
  the largest n."""
  records = []
  for n in progress.bar(cfg.ns, desc="P4-C sizes"):
    for seed in cfg.seeds:
      data_key, probe_key = jax.random.split(jax.random.fold_in(key, seed))
      x, y = sample(jax.random.fold_in(data_key, n), n, cfg.noise_std)
      build = seed == cfg.seeds[0] and n in (cfg.ns[0], cfg.ns[-1])
      records.append({"seed": seed, **instance(cfg, x, y, probe_key if build else None)})
  return records


def _mean(records, n: int, name: str) -> float:
  return float(np.mean([r[name] for r in records if r["n"] == n]))


def run(cfg: Regression, key: jax.Array) -> dict[str, Any]:
  """The P4-C part: records, curves (means over seeds), the rate gate and the checks."""
  key, bootstrap_key = jax.random.split(key)
  records = sweep(cfg, key)
  ns = list(cfg.ns)
  curves = {name: [_mean(records, n, name) for n in ns] for name in (
      "excess_g", "excess_h", "excess_fixed_w", "extra", "correction_bound", "skipped",
      "collisions", "hidden_units", "num_params")}
  values = np.array([[r["excess_h"] for r in records if r["n"] == n] for n in ns])
  g = gates.Gates()
  rate = -2 * 2 / (2 * 2 + 1)
  name = "P4-C excess MSE of the interpolating h against n (log-log slope)"
  g.slope(name, rate, gates.fit_slope(ns, values, key=bootstrap_key), cfg.slope_tol)
  g.check(name, g.slopes[-1]["measured"], f"{rate:g} +- {cfg.slope_tol:g}",
          g.slopes[-1]["pass"], ci=g.slopes[-1]["ci"])
  g.check("P4-C adversarial training loss of every fitted point (max, exact)",
          gates.interval(max(r["adv_loss_fitted_max"] for r in records), hi=1e-20))
  g.check("P4-C extra MSE of the corrections <= n 2 (delta + w)(sigma^2 + max (g - f*)^2)",
          gates.interval(max(r["extra"] / r["correction_bound"] for r in records), hi=1.0))
  total = [n * 2 * (2 * n ** -cfg.width_exponent) * cfg.noise_std**2 for n in ns]
  g.check("P4-C corrections' total n 2 (delta + w) sigma^2 well below n^-0.8 (max ratio)",
          gates.interval(max(t / n**rate for t, n in zip(total, ns)), hi=0.01),
          measured_extra_over_excess=[e / h for e, h in zip(curves["extra"],
                                                            curves["excess_h"])])
  tail = gates.loglog_slope(ns[-3:], curves["excess_fixed_w"][-3:])
  g.check("P4-C fixed w: excess MSE stops decreasing (log-log slope over the last 3 n)",
          gates.interval(tail, lo=-0.2), fixed_w=cfg.fixed_w)
  g.check("P4-C fixed w / shrinking widths: excess MSE ratio at the largest n",
          gates.interval(curves["excess_fixed_w"][-1] / curves["excess_h"][-1], lo=10.0))
  built = [r for r in records if "network_params" in r]
  g.check("P4-C network parameters = 3 units + 1 (linear in n)",
          max(abs(r["network_params"] - r["num_params"]) for r in built), "== 0",
          all(r["network_params"] == r["num_params"] for r in built),
          params_per_point=[r["num_params"] / r["n"] for r in built])
  return {"ns": ns, "curves": curves, "records": records, "slopes": g.slopes,
          "checks": g.checks}
