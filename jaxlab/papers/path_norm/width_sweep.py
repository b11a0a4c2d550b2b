"""E3.2: the train-test gap against the width m at a fixed path-norm budget R.

For every width, one compiled call trains (seeds x {constrained to ||theta||_P <= R,
unconstrained}) full-batch networks on the same designs (`training.make_fit`). The gap is the
population risk minus the training MSE, gap = (E(f - f*)^2 + sigma^2) - train MSE, with the
excess risk on the fresh test set (exact in the noise, pitfall 5). One record per (width,
seed, constrained) in points.jsonl. Also recorded: the path norm and the product of layer norms
||a||_2 sum_k ||w_k||_2 of the same networks (the contrast of E3.1).
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.data import synthetic
from jaxlab.experiment import Workdir, progress
from jaxlab.models import path_norm as path_norm_lib
from jaxlab.papers.path_norm import data, training
from jaxlab.papers.path_norm.config import Config
from jaxlab.papers.path_norm.records import Records

PART = "width_sweep"
MODES = (("constrained", True), ("unconstrained", False))


def _train_width(config: Config, m: int, runs, teacher, designs, x_test, f_test, fit
                 ) -> list[dict[str, Any]]:
  """Trains the runs [(seed, constrained)] at width m in one call; one record each."""
  ws, d = config.width_sweep, config.width_sweep.d
  params0 = training.init_many(jnp.stack([jax.random.fold_in(data.design_keys(s, d).init, m)
                                          for s, _ in runs]), d + 1, m, config.init_scale)
  x = jnp.stack([designs[s].x for s, _ in runs])
  y = jnp.stack([data.targets(teacher, designs[s], config.noise_std) for s, _ in runs])
  radius = jnp.array([ws.radius if c else jnp.inf for _, c in runs])
  t0, c0 = time.perf_counter(), time.process_time()
  out = jax.block_until_ready(fit(params0, x, y, jnp.zeros(len(runs)), radius))
  wall, cpu = time.perf_counter() - t0, time.process_time() - c0
  training.check_finite(out, ws.num_steps, f"E3.2 width {m}")
  excess = np.asarray(training.excess_risk(out.params, x_test, f_test))
  norms = training.norms(out.params, config.variant)
  train_mse = np.asarray(out.train_mse[:, -1])
  return [{"train_mse": train_mse[i], "excess_risk": excess[i],
           "test_mse": excess[i] + config.noise_std**2,
           "gap": excess[i] + config.noise_std**2 - train_mse[i],
           **{k: v[i] for k, v in norms.items()}, "objective": np.asarray(out.objective[i]),
           "wall_s": wall, "cpu_s": cpu, "runs_in_call": len(runs)} for i in range(len(runs))]


def run(config: Config, keys: data.StudyKeys, records: Records, wd: Workdir) -> dict[str, Any]:
  """E3.2 (finished (width, seed, mode) points are read back)."""
  ws, d = config.width_sweep, config.width_sweep.d
  teacher = data.teachers(keys.teacher, d, config.teacher_units,
                          config.learning_curve.worst_case_units).main
  x_test = data.test_set(keys.test, d, config.test_size)
  f_test = synthetic.relu_teacher_apply(teacher, x_test)
  designs = {s: data.sample_design(d, s, ws.n) for s in ws.seeds}
  fit = training.make_fit(config.optim, ws.num_steps, variant=config.variant)
  for m in progress.bar(ws.widths, desc="E3.2 widths"):
    runs = [(s, c) for s in ws.seeds for _, c in MODES
            if not records.has(PART, width=m, seed=s, constrained=c)]
    if runs:
      for (s, c), rec in zip(runs, _train_width(config, m, runs, teacher, designs, x_test,
                                                f_test, fit)):
        records.add(PART, rec, width=m, seed=s, constrained=c)
  out: dict[str, Any] = {"d": d, "n": ws.n, "radius": ws.radius, "widths": list(ws.widths),
                         "seeds": list(ws.seeds),
                         "bound": path_norm_lib.rademacher_bound(ws.n, ws.radius,
                                                                 config.variant, d + 1)}
  for name, c in MODES:
    recs = [[records.get(PART, width=m, seed=s, constrained=c) for s in ws.seeds]
            for m in ws.widths]
    table = {k: np.array([[r[k] for r in row] for row in recs])
             for k in ("gap", "train_mse", "test_mse", "excess_risk", "path_norm",
                       "product_norm", "penalty")}
    out[name] = {**{k: v.mean(1) for k, v in table.items()}, "gap_per_seed": table["gap"],
                 "path_norm_max": float(table["path_norm"].max()),
                 "wall_s": [row[0]["wall_s"] for row in recs]}
    logging.info("E3.2 %s: gap %s, path norm %s, product norm %s", name,
                 np.round(table["gap"].mean(1), 5), np.round(table["path_norm"].mean(1), 3),
                 np.round(table["product_norm"].mean(1), 2))
  gaps = out["constrained"]["gap"]
  out["constrained_gap_ratio"] = (float(gaps.max() / gaps.min()) if gaps.min() > 0
                                  else float("nan"))
  out["constrained_max_path_norm_over_radius"] = out["constrained"]["path_norm_max"] / ws.radius
  return out


__all__ = ["MODES", "PART", "run"]
