"""Saturation (E1.4), arXiv 2406.09194: the noise-free bias^2 against the ridge lambda at a
fixed n grows like lambda^s, with s set by the target's smoothness r_s, the operator order rho
and the inductive bias b, saturating when r_s is large ([S]) and capped at 2 past a threshold
([D]); the aliasing-dominated row (no predicted slope) is compared with the deterministic
equivalent.

Slopes are gated on `saturation_design` (default jittered: quasi-uniform points, whose small
aliasing exposes the asymptotic exponent); the aliasing row is compared with the deterministic
equivalent, an iid-design theory, on iid designs. Both designs are measured for every row; the
other one is reported under observations.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates
from jaxlab.papers.krr_inverse import inverse, torus
from jaxlab.papers.krr_inverse.context import Context, Fitter, simulate_grid, target


class Row(NamedTuple):
  """One E1.4 setting and its predicted slope in lambda (None: the aliasing-dominated row)."""

  b: int
  rho: float
  r_s: float
  predicted: float | None
  tol: float | None

  @property
  def label(self) -> str:
    return f"(b, rho, gamma, r_s) = ({self.b}, {self.rho:g}, 0, {self.r_s:g})"


ROWS = (Row(1, 0.25, 1.5, 1.5, 0.1), Row(2, 0.25, 1.5, 0.75, 0.1), Row(3, 0.25, 1.5, 0.5, 0.1),
        Row(1, 0.25, 3.5, 2.0, 0.15), Row(2, 0.25, 3.5, 1.75, 0.1),
        Row(3, 0.25, 3.5, 7.0 / 6.0, 0.1), Row(1, 2.0, 3.5, 2.0, 0.15),
        Row(1, 1.0, 3.5, 2.0, 0.15), Row(2, 2.0, 3.5, None, None))
THRESHOLD = (1, 2.0)       # (b, rho) of the [D]-vs-[S] threshold check


def lams_of(config) -> np.ndarray:
  return np.logspace(config.saturation_min_exp, config.saturation_max_exp,
                     config.saturation_num_lams)


def gated_design(config, row: Row) -> str:
  return config.saturation_design if row.predicted is not None else "iid"


class Grids(NamedTuple):
  """The noise-free targets `(T, M + 1, 2)` for the (rho, r_s) `pairs`, the weights `(W, M +
  1)` for the `rhos`, the measured bias^2 per (b, design) `(D, T, W, L)` and the aliasing row's
  bias^2 over `aliasing_designs` iid designs `(D', L)`."""

  pairs: list[tuple[float, float]]
  rhos: list[float]
  targets: jax.Array
  measured: dict[tuple[int, str], np.ndarray]
  aliasing: np.ndarray


def _measure(ctx: Context, lams: np.ndarray) -> Grids:
  c = ctx.config
  pairs = sorted({(row.rho, row.r_s) for row in ROWS})
  rhos = sorted({rho for rho, _ in pairs})
  targets = jnp.stack([inverse.operator_coefficients(target(ctx, r_s), rho)
                       for rho, r_s in pairs])
  weights = jnp.stack([inverse.error_weights(c.modes, rho, 0.0) for rho in rhos])
  measured = {}
  for design in torus.DESIGNS:
    for b in sorted({row.b for row in ROWS}):
      res = simulate_grid(ctx, ctx.keys.saturation, "saturation", (c.saturation_n,),
                          c.saturation_designs, b=b, design=design, lams=lams,
                          targets=targets, weights=weights, num_noise=0, noise_std=0.0,
                          tag={"noise_free": True})
      measured[(b, design)] = res["bias2"][0]                         # (D, T, W, L)
  # The aliasing of a rough target is heavy-tailed over designs (single-design ratios to the
  # DE range over 0.1..3): the DE predicts the design mean, so that row uses more designs.
  row, = [row for row in ROWS if row.predicted is None]
  t, w = pairs.index((row.rho, row.r_s)), rhos.index(row.rho)
  res = simulate_grid(ctx, ctx.keys.saturation_aliasing, "saturation_aliasing",
                      (c.saturation_n,), c.aliasing_designs, b=row.b, design="iid", lams=lams,
                      targets=targets[t:t + 1], weights=weights[w:w + 1], num_noise=0,
                      noise_std=0.0, tag={"noise_free": True, "rho": row.rho, "r_s": row.r_s})
  return Grids(pairs, rhos, targets, measured, res["bias2"][0, :, 0, 0])


def _aliasing_check(ctx: Context, fit: Fitter, row: Row, lams, aliasing, de_bias2) -> None:
  """The aliasing row: the mean over iid designs of the measured bias^2 against the DE, within
  a factor; with a 95% bootstrap CI over designs (a numpy generator seeded by `seed`)."""
  c = ctx.config
  ratio = aliasing.mean(0) / de_bias2
  dev = float(np.max(np.maximum(ratio, 1.0 / ratio)))
  rng = np.random.default_rng(c.seed)
  boot = aliasing[rng.integers(0, len(aliasing), (2000, len(aliasing)))].mean(1)
  ci = np.quantile(boot / de_bias2, [0.025, 0.975], axis=0)
  single = np.asarray(jnp.divide(aliasing, de_bias2[None]))   # JAX's division, as recorded
  ctx.record.gates.check(
      f"E1.4 aliasing-dominated {row.label}, iid design, mean of {c.aliasing_designs} designs: "
      "measured / DE bias within a factor",
      gates.interval(dev, hi=1.35 * c.level_tol_scale, ratios=ratio.tolist(),
                     ratio_ci95=ci.T.tolist(), slope=fit(lams, aliasing.T).slope,
                     single_design_ratio_range=[float(single.min()), float(single.max())]))


def _row(ctx: Context, fit: Fitter, row: Row, lams, grids: Grids) -> None:
  """Curves of one row for both designs; the gate on its gated design, observations on the
  other."""
  c = ctx.config
  t, w = grids.pairs.index((row.rho, row.r_s)), grids.rhos.index(row.rho)
  de = np.asarray(inverse.deterministic_equivalent(
      c.saturation_n, b=row.b, rho=row.rho, gamma=0.0, v_star=grids.targets[t], noise_std=0.0,
      lams=jnp.asarray(lams)).bias2)
  for design in torus.DESIGNS:
    bias2 = grids.measured[(row.b, design)][:, t, w, :]                # (D, L)
    measured = fit(lams, bias2.T)
    for j, lam in enumerate(lams):
      ctx.record.curve(study="E1.4", b=row.b, rho=row.rho, gamma=0.0, r_s=row.r_s,
                       design=design, n=c.saturation_n, lam=lam, bias2=bias2[:, j].mean(),
                       de_bias2=float(de[j]), num_designs=c.saturation_designs)
    if design != gated_design(c, row):
      ctx.record.observations[f"E1.4 bias slope in lambda, {row.label}, {design} design (not "
                              "gated)"] = {"measured": measured.slope,
                                           "predicted": row.predicted,
                                           "measured / DE": (bias2.mean(0) / de).tolist()}
    elif row.predicted is None:
      _aliasing_check(ctx, fit, row, lams, grids.aliasing, de)
    else:
      ctx.slope(f"E1.4 bias slope in lambda, {row.label}, {design} design", row.predicted,
                measured, row.tol)
      if (row.b, row.rho) == THRESHOLD:
        closer = abs(measured.slope - 2.0) < abs(measured.slope - 3.5)
        ctx.record.gates.check(
            "E1.4 threshold (1, 2, 0, 3.5): slope closer to 2 ([D]) than 3.5 ([S])",
            measured.slope, "closer to 2.0 than to 3.5", closer)


def saturation(ctx: Context) -> None:
  """E1.4 at n = saturation_n, noise-free, lambda in logspace(saturation_min_exp,
  saturation_max_exp): every row of `ROWS` on both designs."""
  fit = Fitter(ctx, "saturation")
  lams = lams_of(ctx.config)
  grids = _measure(ctx, lams)
  for row in ROWS:
    _row(ctx, fit, row, lams, grids)
