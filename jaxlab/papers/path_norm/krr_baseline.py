"""E3.4: kernel ridge regression with the degree-1 arc-cosine kernel on x~, oracle ridge.

Two teachers: a single neuron at `krr.dims` (the soft implementation check of the slope), and
E3.3's own teacher on E3.3's designs (the same samples the networks learn from), which gives
the sample-complexity ratio n_KRR(eps) / n_NN(eps) at matched error (a diagnostic).

Per design (d, seed, n): one eigendecomposition of the Gram for every ridge and both teachers
(`jaxlab.kernels.ridge`, alpha = (K + n lambda I)^{-1} y), then the excess risk E(f - f*)^2 on
the fresh test set, in float64. The oracle picks, per n, the ridge with the smallest mean over
seeds of log excess risk. One record per (teacher, d, n, seed) in points.jsonl.
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
from jaxlab.kernels import arccos, ridge
from jaxlab.papers.path_norm import data
from jaxlab.papers.path_norm.config import Config
from jaxlab.papers.path_norm.records import Records
from jaxlab.training import guard

PART = "krr_baseline"


def ridges(config: Config) -> np.ndarray:
  """The ridge grid lambda `(L,)`."""
  k = config.krr
  return np.logspace(k.log10_ridge_min, k.log10_ridge_max, k.num_ridges)


@jax.jit
def excess_risks(x: jax.Array, ys: jax.Array, x_test: jax.Array, f_test: jax.Array,
                 lams: jax.Array) -> jax.Array:
  """E(f_lambda - f*)^2 `(L, o)` of KRR with the arc-cosine kernel trained on `x (n, D)`,
  targets `ys (n, o)`, for every ridge `lams (L,)`, against `f_test (m, o)` at `x_test (m, D)`
  (test points in batches: memory 1000 x n)."""
  kernel = arccos.arc_cosine()
  alpha = ridge.coefficients(ridge.path(kernel(x)), ys, lams)                 # (L, n, o)

  def one_point(args):
    x_t, f_t = args
    pred = jnp.einsum("n,lno->lo", kernel(x_t[None, :], x)[0], alpha)
    return (pred - f_t[None, :]) ** 2

  return jnp.mean(jax.lax.map(one_point, (x_test, f_test), batch_size=1000), axis=0)


def _tasks(config: Config) -> dict[tuple[int, int, int], list[str]]:
  """{(d, seed, n): teachers}: the single neuron on krr's grid, E3.3's teacher on E3.3's."""
  tasks: dict[tuple[int, int, int], list[str]] = {}
  k, lc = config.krr, config.learning_curve
  for d in k.dims:
    for s in k.seeds:
      for n in k.ns:
        tasks.setdefault((d, s, n), []).append("single")
  if "learning_curve" in config.parts:
    for d in lc.dims:
      for s in lc.seeds:
        for n in lc.ns:
          tasks.setdefault((d, s, n), []).append("main")
  return dict(sorted(tasks.items()))


def _summary(ns, seeds, lams, records: Records, teacher: str, d: int, key: jax.Array
             ) -> dict[str, Any]:
  err = np.array([[records.get(PART, teacher=teacher, d=d, n=n, seed=s)["excess_risk"]
                   for s in seeds] for n in ns])                             # (N, S, L)
  best = np.argmin(np.log(err).mean(1), axis=1)
  picked = np.stack([err[i, :, best[i]] for i in range(len(ns))])            # (N, S)
  fit = gates.fit_slope(ns, picked, key=key, geometric=True)
  return {"n": list(ns), "seeds": list(seeds), "excess_risk": picked,
          "geometric_mean": np.exp(np.log(picked).mean(1)), "ridge": lams[best],
          "slope": fit.slope, "intercept": fit.intercept, "ci": [fit.low, fit.high],
          "limit_exponent": -3.0 / (d + 2)}


def run(config: Config, keys: data.StudyKeys, records: Records, wd: Workdir) -> dict[str, Any]:
  """E3.4 (finished designs are read back). Returns `{"single": {d: summary}, "main":
  {d: summary}}`."""
  lams = ridges(config)
  units = (config.teacher_units, config.learning_curve.worst_case_units)
  cache: dict[int, Any] = {}
  for (d, s, n), names in progress.bar(list(_tasks(config).items()), desc="E3.4 KRR"):
    todo = [t for t in names if not records.has(PART, teacher=t, d=d, n=n, seed=s)]
    if not todo:
      continue
    if d not in cache:
      x_test = data.test_set(keys.test, d, config.test_size)
      cache = {d: (data.teachers(keys.teacher, d, *units), x_test)}
    teachers, x_test = cache[d]
    design = data.sample_design(d, s, n)
    ys = jnp.stack([data.targets(getattr(teachers, t), design, config.noise_std)
                    for t in todo], axis=1)
    f_test = jnp.stack([synthetic.relu_teacher_apply(getattr(teachers, t), x_test)
                        for t in todo], axis=1)
    t0 = time.perf_counter()
    err = np.asarray(excess_risks(design.x, ys, x_test, f_test, jnp.asarray(lams)))
    wall = time.perf_counter() - t0
    guard.check_values(err.T, quantity="KRR excess risk",
                       where=f"E3.4 d={d} n={n} seed={s}; step = index of the ridge")
    for j, t in enumerate(todo):
      records.add(PART, {"excess_risk": err[:, j], "ridges": lams, "wall_s": wall},
                  teacher=t, d=d, n=n, seed=s)
    logging.info("E3.4 d=%d n=%d seed=%d: best excess risk %s (%.1f s)", d, n, s,
                 np.round(err.min(0), 6), wall)
  k, lc = config.krr, config.learning_curve
  out: dict[str, Any] = {"single": {}, "main": {}}
  boot = {d: dict(zip(("single", "main"), jax.random.split(
      jax.random.fold_in(keys.bootstrap_krr, d)))) for d in set(k.dims) | set(lc.dims)}
  for d in k.dims:
    out["single"][str(d)] = _summary(k.ns, k.seeds, lams, records, "single", d,
                                     boot[d]["single"])
  if "learning_curve" in config.parts:
    for d in lc.dims:
      out["main"][str(d)] = _summary(lc.ns, lc.seeds, lams, records, "main", d,
                                     boot[d]["main"])
  return out


def sample_complexity_ratio(network: dict[str, Any], kernel: dict[str, Any]
                            ) -> list[dict[str, Any]]:
  """n_KRR(eps) / n_NN(eps) at the network's errors eps(n) (geometric means over seeds):
  n_KRR(eps) from KRR's fitted log-log line on the same teacher, `extrapolated` where eps lies
  outside KRR's measured range."""
  lo, hi = np.min(kernel["geometric_mean"]), np.max(kernel["geometric_mean"])
  rows = []
  for n, eps in zip(network["n"], network["geometric_mean"]):
    n_krr = float(np.exp((np.log(eps) - kernel["intercept"]) / kernel["slope"]))
    rows.append({"eps": float(eps), "n_nn": int(n), "n_krr": n_krr, "ratio": n_krr / n,
                 "extrapolated": bool(eps < lo or eps > hi)})
  return rows


__all__ = ["PART", "excess_risks", "ridges", "run", "sample_complexity_ratio"]
