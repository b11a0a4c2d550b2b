"""E3.3: the network's excess risk E(f - f*)^2 against n, weight decay picked per n by oracle.

For every (d, n) and teacher, one compiled call trains every (seed, weight decay) run
(`training.make_fit`, vmapped) on the first n points of the seeds' nested designs. The oracle
picks, per n, the weight decay with the smallest mean over seeds of log excess risk; the slope
is fitted on the mean over seeds of the log errors at the oracle weight decays, with a
bootstrap CI over seeds (`gates.fit_slope(geometric=True)`). One record per (teacher, d, n,
seed, weight decay) in points.jsonl.

Optimisation error (pitfall 6) is watched by two numbers per run: the relative decrease of the
objective over the last quarter of the steps (`plateau`) and the largest neuron imbalance
| |a_k| - ||w_k|| |, which is 0 at every stationary point of the weight-decay objective.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.data import synthetic
from jaxlab.experiment import Workdir, gates, progress
from jaxlab.papers.path_norm import data, training
from jaxlab.papers.path_norm.config import Config
from jaxlab.papers.path_norm.records import Records

PART = "learning_curve"


def bound_exponent(d: int) -> float:
  """The paper's rate exponent (d + 2) / (2d + 2): excess risk O(n^-(d+2)/(2d+2))."""
  return (d + 2) / (2 * d + 2)


def _train_point(config: Config, d: int, n: int, runs, teacher, designs, x_test, f_test, fit
                 ) -> list[dict[str, Any]]:
  """Trains the runs [(seed, weight decay)] at (d, n) in one call; one record each."""
  lc = config.learning_curve
  params0 = training.init_many(jnp.stack([
      jax.random.fold_in(data.design_keys(s, d).init, lc.width) for s, _ in runs]), d + 1,
      lc.width, config.init_scale)
  x = jnp.stack([designs[s].x[:n] for s, _ in runs])
  y = jnp.stack([data.targets(teacher, designs[s], config.noise_std)[:n] for s, _ in runs])
  lam = jnp.array([w for _, w in runs])
  t0, c0 = time.perf_counter(), time.process_time()
  out = jax.block_until_ready(fit(params0, x, y, lam, jnp.full((len(runs),), jnp.inf)))
  wall, cpu = time.perf_counter() - t0, time.process_time() - c0
  training.check_finite(out, lc.num_steps, f"E3.3 d={d} n={n}")
  excess = np.asarray(training.excess_risk(out.params, x_test, f_test))
  norms = training.norms(out.params, config.variant)
  objective = np.asarray(out.objective)
  quarter = objective.shape[1] // 4
  plateau = (objective[:, -quarter - 1] - objective[:, -1]) / objective[:, -1]
  return [{"excess_risk": excess[i], "train_mse": np.asarray(out.train_mse[i, -1]),
           "plateau": plateau[i], **{k: v[i] for k, v in norms.items()},
           "objective": objective[i], "wall_s": wall, "cpu_s": cpu, "runs_in_call": len(runs),
           "steps": lc.num_steps} for i in range(len(runs))]


def _summary(config: Config, d: int, teacher: str, records: Records, key: jax.Array
             ) -> dict[str, Any]:
  """Oracle weight decay per n, the slope and its CI, timings, for one (d, teacher)."""
  lc = config.learning_curve
  recs = [[[records.get(PART, teacher=teacher, d=d, n=n, seed=s, weight_decay=w)
            for s in lc.seeds] for w in lc.weight_decays] for n in lc.ns]
  table = {k: np.array([[[r[k] for r in row] for row in block] for block in recs])
           for k in ("excess_risk", "plateau", "imbalance", "path_norm", "train_mse")}
  err = table["excess_risk"]                                                 # (N, W, S)
  best = np.argmin(np.log(err).mean(2), axis=1)                              # (N,)
  pick = lambda v: np.stack([v[i, best[i]] for i in range(len(lc.ns))])      # (N, S)
  fit = gates.fit_slope(lc.ns, pick(err), key=key, geometric=True)
  calls = [block[0][0] for block in recs]                  # one record per compiled call
  return {"n": list(lc.ns), "seeds": list(lc.seeds), "weight_decays": list(lc.weight_decays),
          "excess_risk": pick(err), "excess_risk_all": err,
          "geometric_mean": np.exp(np.log(pick(err)).mean(1)),
          "weight_decay": [lc.weight_decays[b] for b in best],
          "slope": fit.slope, "ci": [fit.low, fit.high],
          "bound_exponent": -bound_exponent(d), "gate": -bound_exponent(d) + 0.05,
          "path_norm": pick(table["path_norm"]), "train_mse": pick(table["train_mse"]),
          "max_plateau": float(pick(table["plateau"]).max()),
          "max_imbalance": float(pick(table["imbalance"]).max()),
          "wall_s": float(sum(c["wall_s"] for c in calls)),
          "cpu_s": float(sum(c["cpu_s"] for c in calls)),
          "runs": len(lc.ns) * len(lc.seeds) * len(lc.weight_decays), "steps": lc.num_steps}


def run(config: Config, keys: data.StudyKeys, records: Records, wd: Workdir) -> dict[str, Any]:
  """E3.3 for every d (and the worst-case teacher where asked); finished points are read
  back. Returns `{"main": {d: summary}, "worst": {d: summary}}`."""
  lc = config.learning_curve
  fit = training.make_fit(config.optim, lc.num_steps, variant=config.variant)
  points = [(d, n) for d in lc.dims for n in lc.ns]
  cache: dict[int, Any] = {}
  for d, n in progress.bar(points, desc="E3.3 learning curve"):
    if d not in cache:
      teachers = data.teachers(keys.teacher, d, config.teacher_units, lc.worst_case_units)
      x_test = data.test_set(keys.test, d, config.test_size)
      names = ("main", "worst") if d in lc.worst_case_dims else ("main",)
      cache = {d: ({t: getattr(teachers, t) for t in names}, x_test,
                   {s: data.sample_design(d, s, lc.ns[-1]) for s in lc.seeds})}
    chosen, x_test, designs = cache[d]
    for name, teacher in chosen.items():
      runs = [(s, w) for s in lc.seeds for w in lc.weight_decays
              if not records.has(PART, teacher=name, d=d, n=n, seed=s, weight_decay=w)]
      if not runs:
        continue
      f_test = synthetic.relu_teacher_apply(teacher, x_test)
      recs = _train_point(config, d, n, runs, teacher, designs, x_test, f_test, fit)
      for (s, w), rec in zip(runs, recs):
        records.add(PART, rec, teacher=name, d=d, n=n, seed=s, weight_decay=w)
      logging.info("E3.3 %s d=%d n=%d: excess risk %s (%d runs, %.1f s)", name, d, n,
                   np.array2string(np.array([r["excess_risk"] for r in recs]), precision=3),
                   len(runs), recs[0]["wall_s"])
  out: dict[str, Any] = {"main": {}, "worst": {}}
  for d in lc.dims:
    k_main, k_worst = jax.random.split(jax.random.fold_in(keys.bootstrap_curve, d))
    out["main"][str(d)] = _summary(config, d, "main", records, k_main)
    if d in lc.worst_case_dims:
      out["worst"][str(d)] = _summary(config, d, "worst", records, k_worst)
  return out


__all__ = ["PART", "bound_exponent", "run"]
