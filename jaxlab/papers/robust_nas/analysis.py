"""Analytics and search on a benchmark in the released format (jaxlab's mini benchmark or the
released NAS-RobBench-201 file): rank correlations between metrics and with the NTK scores,
top-k overlap, and the three search algorithms with clean and robust objectives.

  tables = metric_tables(bench, "digits", names)      # {metric: {canonical id: value}}
  metric_correlations(tables)                          # kendall / spearman between metrics
  search_regrets(tables, "val_acc", "val_pgd_32.0_acc", config.search, key)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import numpy as np

from jaxlab.nas import analytics, search
from jaxlab.nas.benchmark import Benchmark
from jaxlab.papers.robust_nas.config import SearchConfig

Tables = Mapping[str, Mapping[int, float]]


def metric_tables(bench: Benchmark, dataset: str, metrics: Sequence[str]) -> dict[str, dict]:
  """`{metric: {canonical id: threeseed value}}` for the metrics `dataset` records."""
  return {m: bench.table(dataset, m) for m in metrics if m in bench.metrics(dataset)}


def _columns(tables: Tables) -> tuple[list[int], dict[str, np.ndarray]]:
  ids = sorted(set.intersection(*(set(t) for t in tables.values())))
  return ids, {m: np.array([t[i] for i in ids]) for m, t in tables.items()}


def metric_correlations(tables: Tables) -> dict[str, Any]:
  """Kendall tau and Spearman rho between every two metrics, over the cells all hold."""
  _, cols = _columns(tables)
  return {"kendall": analytics.rank_table(cols, cols, analytics.kendall_tau),
          "spearman": analytics.rank_table(cols, cols, analytics.spearman_rho)}


def top_k(tables: Tables, reference: str, predictors: Mapping[str, Mapping[int, float]],
          ks: Sequence[int]) -> dict[str, dict[str, float]]:
  """`{predictor: {k: top-k overlap with `reference`}}` over the cells both hold."""
  out = {}
  for name, table in predictors.items():
    _, a, b = analytics.aligned(table, tables[reference])
    out[name] = {str(k): analytics.top_k_overlap(a, b, k) for k in ks if k <= len(a)}
  return out


def cross_dataset(bench: Benchmark, metrics: Sequence[str]) -> dict[str, dict[str, Any]]:
  """`{metric: {"a/b": {"kendall", "spearman", "n"}}}` between every two datasets."""
  out: dict[str, dict[str, Any]] = {}
  names = bench.datasets
  for m in metrics:
    tables = {d: bench.table(d, m) for d in names if m in bench.metrics(d)}
    pairs = {}
    for i, a in enumerate(tables):
      for b in list(tables)[i + 1:]:
        ids, va, vb = analytics.aligned(tables[a], tables[b])
        pairs[f"{a}/{b}"] = {"kendall": analytics.kendall_tau(va, vb),
                             "spearman": analytics.spearman_rho(va, vb), "n": len(ids)}
    out[m] = pairs
  return out


def search_regrets(tables: Tables, clean: str, robust: str, config: SearchConfig,
                   key: jax.Array) -> dict[str, Any]:
  """Each algorithm with a clean and a robust objective, `config.seeds` runs of
  `config.budget` queries: `{algorithm: {objective: {"regret_clean" | "regret_robust":
  {"mean", "std", "final_mean", "final_std"}}}}` (regret curves over queries)."""
  ids = set(tables[clean]) & set(tables[robust])
  metrics = {"clean": {i: tables[clean][i] for i in ids},
             "robust": {i: tables[robust][i] for i in ids}}
  space = search.Space.of(metrics["robust"])
  budget = min(config.budget, len(space.ids))
  algo_keys = jax.random.split(key, len(search.ALGORITHMS))
  out: dict[str, Any] = {}
  for algorithm, algo_key in zip(search.ALGORITHMS, algo_keys):
    fn = algorithm.fn
    if algorithm.name == "regularized_evolution":
      fn = lambda s, o, b, k: search.regularized_evolution(  # noqa: E731
          s, o, b, k, population=config.population, sample_size=config.sample_size)
    algo = search.Algorithm(algorithm.name, fn)
    out[algorithm.name] = {}
    seed_keys = [jax.random.fold_in(algo_key, s) for s in config.seeds]
    for objective, table in metrics.items():
      curves = search.regret_over_seeds(algo, space, table, metrics, budget, seed_keys)
      out[algorithm.name][objective] = {
          f"regret_{m}": {"mean": c.mean(0), "std": c.std(0), "final_mean": float(c[:, -1].mean()),
                          "final_std": float(c[:, -1].std())} for m, c in curves.items()}
  return out
