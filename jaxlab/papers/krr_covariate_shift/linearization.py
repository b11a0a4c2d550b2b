"""E2.1 (arXiv 2406.03171, El Karoui's linearisation): ||K - K_lin||_op with the population and
the empirical diagonal decays like d^-1/2, the test-vector error like d^-1; their levels are
compared with the spec's [cal] table."""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np
from absl import logging

from jaxlab.experiment import gates, progress
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift.context import Context, sample


class Measure(NamedTuple):
  """One linearisation error: its name (a key of `cs.linearization_errors`), predicted slope
  in d, [cal] levels by d, and the stream id of its slope's bootstrap key."""

  name: str
  slope: float
  cal: dict[int, float]
  stream: int


MEASURES = (
    Measure("op_population", -0.5,
            {100: 0.994, 200: 0.770, 400: 0.567, 800: 0.378, 1600: 0.247}, 100),
    Measure("op_empirical", -0.5,
            {100: 0.238, 200: 0.167, 400: 0.115, 800: 0.078, 1600: 0.054}, 101),
    Measure("test_rms", -1.0,
            {100: 7.2e-3, 200: 3.6e-3, 400: 1.8e-3, 800: 8.8e-4, 1600: 4.4e-4}, 102))


def slope_name(measure: Measure) -> str:
  return f"E2.1 {measure.name} against d"


def _measure(ctx: Context) -> dict[str, np.ndarray]:
  """Every measure on every design: `{name: (len(ds_linearization), seeds_linearization)}`;
  one metrics line and one curves entry per d."""
  c = ctx.config
  values = {m.name: np.zeros((len(c.ds_linearization), c.seeds_linearization))
            for m in MEASURES}
  errors_fn = jax.jit(cs.linearization_errors, static_argnums=1)
  for i, d in progress.bar(list(enumerate(c.ds_linearization)), desc="E2.1 dimensions"):
    t0 = time.perf_counter()
    for s in range(c.seeds_linearization):
      data = sample(ctx, ctx.keys.linearization, d, s)
      errs = jax.device_get(errors_fn(data, ctx.h))
      for k in values:
        values[k][i, s] = float(errs[k])
      ctx.record.log({"study": "E2.1", "d": d, "n": data.x.shape[0], "seed": s,
                      **{k: float(v) for k, v in errs.items()}})
    logging.info("E2.1 d = %d done in %.1fs", d, time.perf_counter() - t0)
    for k in values:
      ctx.record.curves.append({"study": "E2.1", "measure": k, "d": d,
                                "value": values[k][i].mean(), "std": values[k][i].std(),
                                "seeds": c.seeds_linearization})
  return values


def linearization(ctx: Context) -> None:
  """E2.1: the three slopes in d (gated), their levels against [cal] (soft gates) and the
  population / empirical error ratio (observed)."""
  c = ctx.config
  values = _measure(ctx)
  for m in MEASURES:
    fit = gates.fit_slope(c.ds_linearization, values[m.name],
                          key=jax.random.fold_in(ctx.keys.root, m.stream),
                          num_bootstrap=c.num_bootstrap)
    ctx.record.gates.slope(slope_name(m), m.slope, fit, 0.1 * c.slope_tol_scale,
                           values=values[m.name].mean(1).tolist())
    common = [(i, d) for i, d in enumerate(c.ds_linearization) if d in m.cal]
    if common:
      rel = [abs(values[m.name][i].mean() / m.cal[d] - 1.0) for i, d in common]
      ctx.record.gates.check(
          f"E2.1 {m.name} level vs [cal] (soft): max rel. dev. over d in "
          f"{[d for _, d in common]}", gates.interval(float(max(rel)),
                                                      hi=0.25 * c.level_tol_scale))
  gain = values["op_population"].mean(1) / values["op_empirical"].mean(1)
  ctx.record.observations["E2.1 population / empirical diagonal error ratio by d"] = dict(
      zip(map(str, c.ds_linearization), gain.tolist()))
