"""The robust-NAS study: a mini NAS-RobBench-201 on CPU, its robust-NTK scores, analytics and
search; or the analytics and search on a released benchmark file.

  from jaxlab.papers import robust_nas
  results = robust_nas.run(robust_nas.smoke(), "/tmp/robust_nas")
  results["kendall"]["scores"]["Kt_all_b1_lambda_min"]["val_pgd_32.0_acc"]   # tau
  results["checks"]                                          # P3-A, P3-B, P3-C gates

Mini benchmark (`benchmark_file` empty): `num_cells` random non-isomorphic cells, each
adversarially trained (`cells.Programs.train`) once per train seed and evaluated clean and
under FGSM / PGD at every `eval_eps`, written as `benchmark/<dataset>.json` + `meta.json` in
the released format and read back through `jaxlab.nas.benchmark.load`; robust-NTK scores of
each cell at init on a fixed batch; Kendall tau and Spearman rho of every score against every
accuracy; search regrets. Resumable per cell: finished cells are records in cells.jsonl.

Gates (the spec's P3 checks):
  P3-A: 6466 non-isomorphic cells; TinyNetwork parameter counts 1,531,546 / 241,306 / 73,306
    (C = 16, N = 5; all-3x3 / all-1x1 / all-none cells) and 23,374 (C = 4, N = 1, all-3x3).
  P3-B (float64, every cell): kernels symmetric and PSD (lambda_min >= -1e-10 lambda_max),
    K_all(0) = K and K_all(1) = K~ and K~_all(0) = K~ exactly, the mixed-feature Gram equal
    to the expanded formula to 1e-10 (relative).
  P3-C: Kendall tau > 0 between every lambda_min(K_all(beta)), lambda_min(K~_all(beta)) score
    and every accuracy, gated from `P3C_MIN_CELLS` cells on (the smoke study's 3 cells give
    taus of +-1/3 or +-1: noise, reported in `kendall` only). The robust-vs-clean score gap is
    reported (`score_gap`), not gated.
"""

from __future__ import annotations

import os
import time
from concurrent import futures
from typing import Any, NamedTuple

import jax
import numpy as np
from absl import logging

from jaxlab.data import Dataset
from jaxlab.data import config as data_config
from jaxlab.experiment import Study, Workdir, progress
from jaxlab.experiment.gates import Gates
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import ConfigError, require
from jaxlab.nas import analytics, benchmark, networks, robust_ntk, search_space
from jaxlab.nas.search_space import Cell
from jaxlab.papers.robust_nas import analysis, cells
from jaxlab.papers.robust_nas import plots as plots_lib
from jaxlab.papers.robust_nas.config import Config, cifar10, default, smoke

RECORDS = "cells.jsonl"
# P3-A: (op of every edge, C, N) -> parameter count of TinyNetwork (10 classes, RGB).
PARAM_COUNTS = {("nor_conv_3x3", 16, 5): 1_531_546, ("nor_conv_1x1", 16, 5): 241_306,
                ("none", 16, 5): 73_306, ("nor_conv_3x3", 4, 1): 23_374}
P3B_TOL = 1e-10
P3C_MIN_CELLS = 10     # P3-C is gated from this many cells on (the spec's study has 30-60)


class Inputs(NamedTuple):
  """What `prepare` loaded and checked: the data and cells of a mini benchmark, or a
  released benchmark."""

  data: Dataset | None = None
  cells: tuple[Cell, ...] = ()
  normalization: Any = None
  ntk_batch: tuple[np.ndarray, np.ndarray] | None = None
  eval_batch: tuple[np.ndarray, np.ndarray] | None = None
  search_key: jax.Array | None = None
  released: benchmark.Benchmark | None = None


def _normalization(config: Config, ds: Dataset):
  """The reference's CIFAR constants, else the training split's channel mean and std."""
  name = config.dataset.name.removeprefix("tfds:")
  if name in networks.NORMALIZATION:
    return networks.NORMALIZATION[name]
  x = ds.train.x.reshape(-1, ds.input_shape[-1])
  return (tuple(float(v) for v in x.mean(0)), tuple(float(v) for v in x.std(0)))


def _prepare_released(config: Config) -> Inputs:
  try:
    bench = benchmark.load(config.benchmark_file)
  except (FileNotFoundError, benchmark.BenchmarkFormatError) as e:
    raise ConfigError("benchmark_file", str(e)) from None
  require(config.benchmark_dataset in bench.datasets, "benchmark_dataset",
          f"{config.benchmark_file} holds {', '.join(bench.datasets)}, not "
          f"{config.benchmark_dataset!r}")
  _, search_key = jax.random.split(jax.random.key(config.seed))
  return Inputs(search_key=search_key, released=bench)


def prepare(config: Config) -> Inputs:
  """Loads the data (or the released benchmark) and makes every check that needs it."""
  if config.benchmark_file:
    return _prepare_released(config)
  ds = data_config.load(config.dataset, seed=config.seed)
  data_config.require_classification(ds, config.dataset)
  require(len(ds.input_shape) == 3, "dataset.name",
          f"TinyNetwork needs images (N, H, W, C); {config.dataset.name} has inputs "
          f"{ds.input_shape}")
  for name, limit, split in (("batch_size", len(ds.train), "training"),
                             ("ntk_examples", len(ds.train), "training"),
                             ("eval_examples", len(ds.test), "test")):
    require(getattr(config, name) <= limit, name,
            f"must be <= the {limit} {split} examples, got {getattr(config, name)}")
  cells_key, search_key, ntk_key = jax.random.split(jax.random.key(config.seed), 3)
  chosen = tuple(search_space.sample(cells_key, config.num_cells))
  idx = np.sort(np.asarray(jax.random.choice(ntk_key, len(ds.train), (config.ntk_examples,),
                                             replace=False)))
  n_eval = config.eval_examples or len(ds.test)
  return Inputs(ds, chosen, _normalization(config, ds), (ds.train.x[idx], ds.train.y[idx]),
                (ds.test.x[:n_eval], ds.test.y[:n_eval]), search_key)


def _ntk_part(config, inputs, programs, cell, key, p3b: bool) -> dict[str, Any]:
  """The cell's NTK scores at init (`key` as its training's), their time and, with float64
  kernels or `p3b`, the float64 P3-B check values."""
  t0 = time.perf_counter()
  out: dict[str, Any] = {}
  out["scores"], checks = programs.ntk(cell, key, *inputs.ntk_batch, config.ntk_dtype)
  out["ntk_s"] = time.perf_counter() - t0
  if config.ntk_dtype == "float64":
    out["p3b"] = checks
  elif p3b:
    out["p3b"] = programs.ntk(cell, key, *inputs.ntk_batch, "float64")[1]
  return out


def _cell_record(config, inputs, programs, cell, seed, p3b: bool, pool) -> dict[str, Any]:
  """Trains and evaluates `cell` with train seed `seed` (and, for the first seed, its NTK
  scores at init, with the float64 P3-B check values if `p3b`); one record of cells.jsonl.
  The NTK part runs on `pool`'s thread beside training (they share no state; XLA releases
  the interpreter while it compiles and runs, so the two use both cores)."""
  train_key, eval_key = jax.random.split(jax.random.key(seed))
  record: dict[str, Any] = {"cell": search_space.to_string(cell), "seed": seed}
  ntk = None
  if seed == config.train_seeds[0]:
    ntk = pool.submit(_ntk_part, config, inputs, programs, cell, train_key, p3b)
  t0 = time.perf_counter()
  variables = programs.train(cell, inputs.data.train, train_key)
  record["train_s"] = time.perf_counter() - t0
  t0 = time.perf_counter()
  record["accuracy"] = programs.evaluate(cell, variables, *inputs.eval_batch, eval_key)
  record["eval_s"] = time.perf_counter() - t0
  if ntk is not None:
    record.update(ntk.result())
  return record


def _run_cells(config: Config, inputs: Inputs, wd: Workdir) -> list[dict[str, Any]]:
  """One record per (cell, train seed), resuming from cells.jsonl."""
  done = {(r["cell"], r["seed"]): r for r in wd.read_jsonl(RECORDS)}
  programs = cells.Programs(config, inputs.data.num_classes, inputs.normalization,
                            len(inputs.data.train) // config.batch_size, inputs.data.train.x)
  todo = [(i, c, s) for i, c in enumerate(inputs.cells) for s in config.train_seeds]
  with futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ntk") as pool:
    for position, cell, seed in progress.bar(todo, desc="cells"):
      key = (search_space.to_string(cell), seed)
      if key in done:
        continue
      record = _cell_record(config, inputs, programs, cell, seed,
                            position < config.p3b_cells, pool)
      wd.append_jsonl(RECORDS, record)
      done[key] = record
      wd.log(len(done), {"cell": key[0], "seed": seed, **record["accuracy"],
                         "train_s": record["train_s"], "eval_s": record["eval_s"]})
      logging.info("cell %d/%d %s: %s", len(done), len(todo), key[0],
                   {k: round(v, 3) for k, v in record["accuracy"].items()})
  return [done[(search_space.to_string(c), s)] for c in inputs.cells for s in config.train_seeds]


def _per_cell(config: Config, inputs: Inputs, records, tables) -> list[dict[str, Any]]:
  """results['per_cell']: string, ids, params, accuracies (mean over seeds), scores, times."""
  first = {r["cell"]: r for r in records if "scores" in r}
  out = []
  for cell in inputs.cells:
    s, cid = search_space.to_string(cell), search_space.canonical_id(cell)
    mine = [r for r in records if r["cell"] == s]
    acc = {m: tables[m][cid] for m in tables}
    out.append({
        "cell": s, "id": cid, "index": search_space.index(cell),
        "degenerate": search_space.is_degenerate(cell),
        "params": networks.num_params(cell, config.channels, config.cells_per_stage,
                                      inputs.data.num_classes, inputs.data.input_shape[-1]),
        "clean": acc[benchmark.metric_name(None)],
        "fgsm": {str(e): acc[benchmark.metric_name("fgsm", e)] for e in config.eval_eps},
        "pgd": {str(e): acc[benchmark.metric_name("pgd", e)] for e in config.eval_eps},
        "accuracy": acc, "scores": first[s]["scores"], "p3b": first[s].get("p3b"),
        "ntk_s": first[s]["ntk_s"], "train_s": float(np.mean([r["train_s"] for r in mine])),
        "eval_s": float(np.mean([r["eval_s"] for r in mine]))})
  return out


def _write_benchmark(config: Config, inputs: Inputs, records, wd: Workdir):
  """Writes the records as a benchmark in the released format and reads it back."""
  dataset = config.dataset.name.removeprefix("tfds:")
  by_cell: dict[Cell, dict[str, dict[str, float]]] = {}
  for r in records:
    metrics = by_cell.setdefault(search_space.parse(r["cell"]), {})
    for m, v in r["accuracy"].items():
      metrics.setdefault(m, {})[str(r["seed"])] = v
  path = wd.file(f"benchmark/{dataset}.json")
  benchmark.write(benchmark.build({dataset: by_cell}), path)
  return benchmark.load(path), dataset


def _score_tables(per_cell) -> dict[str, dict[str, float]]:
  """`{score name: {canonical id: value}}`, oriented so higher predicts better."""
  names = per_cell[0]["scores"]
  return {n: {c["id"]: c["scores"][n] for c in per_cell} for n in names}


def _gates(config: Config, per_cell, kendall_scores) -> dict[str, Any]:
  gates = Gates()
  _p3a(gates)
  checked = [c for c in per_cell if c["p3b"] is not None]
  if checked:
    worst = lambda key, fn: fn(c["p3b"][key] for c in checked)  # noqa: E731
    gates.check("P3-B symmetric (max relative asymmetry)", worst("asymmetry", max),
                f"<= {P3B_TOL:g}", worst("asymmetry", max) <= P3B_TOL)
    gates.check("P3-B PSD (min lambda_min / lambda_max)", worst("min_eig_ratio", min),
                f">= {-P3B_TOL:g}", worst("min_eig_ratio", min) >= -P3B_TOL)
    for key, label in (("k_all0_minus_k", "K_all(0) = K"),
                       ("k_all1_minus_k_tilde", "K_all(1) = K~"),
                       ("kt_all0_minus_k_tilde", "K~_all(0) = K~")):
      gates.check(f"P3-B {label} exactly (max |difference|)", worst(key, max), 0.0,
                  worst(key, max) == 0.0)
    gates.check("P3-B mixed-feature Gram = expanded formula (max relative error)",
                worst("expanded_rel", max), f"<= {P3B_TOL:g}",
                worst("expanded_rel", max) <= P3B_TOL, cells=len(checked))
  if len(per_cell) >= P3C_MIN_CELLS:   # a rank correlation of fewer cells is noise
    for score in (n for n in kendall_scores if n.endswith("_lambda_min")):
      taus = kendall_scores[score]
      low = min((t for t in taus.values() if t is not None), default=None)
      ok = low is not None and all(t is not None and t > 0 for t in taus.values())
      gates.check(f"P3-C tau({score}) > 0 for every accuracy", low, "> 0", ok, per_metric=taus)
  return gates.checks


def _p3a(gates: Gates) -> None:
  n = len(search_space.canonical_ids())
  gates.check("P3-A non-isomorphic cells", n, search_space.NUM_CANONICAL,
              n == search_space.NUM_CANONICAL)
  for (op, c, n_cells), expected in PARAM_COUNTS.items():
    got = networks.num_params(Cell((op,) * 6), c, n_cells)
    gates.check(f"P3-A params {op} C={c} N={n_cells}", got, expected, got == expected)


def score_gap(kendall_scores, robust_metric: str, betas) -> dict[str, Any]:
  """tau(lambda_min(K~_all(beta)), robust acc) - tau(lambda_min(K_all(0)), robust acc): the
  robust-NTK scores' advantage over the clean NTK on robust accuracy, per beta."""
  clean = kendall_scores[robust_ntk.score_name("K_all", 0.0, "lambda_min")][robust_metric]
  out = {}
  for beta in betas:
    for kernel in ("K_all", "Kt_all"):
      tau = kendall_scores[robust_ntk.score_name(kernel, beta, "lambda_min")][robust_metric]
      out[robust_ntk.score_name(kernel, beta, "lambda_min")] = (
          None if tau is None or clean is None else tau - clean)
  return {"metric": robust_metric, "reference": "K_all_b0_lambda_min", "gap": out}


def _execute_mini(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  t0 = time.perf_counter()
  records = _run_cells(config, inputs, wd)
  bench, dataset = _write_benchmark(config, inputs, records, wd)
  names = cells.metric_names(config.eval_eps)
  tables = analysis.metric_tables(bench, dataset, names)
  per_cell = _per_cell(config, inputs, records, tables)
  scores = _score_tables(per_cell)
  ids, cols = sorted(tables[names[0]]), {m: t for m, t in tables.items()}
  targets = {m: [cols[m][i] for i in ids] for m in names}
  predictors = {s: [t[i] for i in ids] for s, t in scores.items()}
  kendall = analytics.rank_table(targets, predictors, analytics.kendall_tau)
  robust = benchmark.metric_name("pgd", max(config.eval_eps))
  metric_corr = analysis.metric_correlations(tables)
  times = [c["train_s"] + c["eval_s"] + c["ntk_s"] for c in per_cell]
  return {
      "num_cells": len(per_cell), "dataset": dataset,
      "benchmark_file": os.path.relpath(bench.path, wd.path),
      "metrics": names, "per_cell": per_cell,
      "kendall": {"scores": kendall, "metrics": metric_corr["kendall"]},
      "spearman": {"scores": analytics.rank_table(targets, predictors, analytics.spearman_rho),
                   "metrics": metric_corr["spearman"]},
      "top_k": analysis.top_k(tables, robust, {**scores, "val_acc": tables[names[0]]},
                              (5, 10)),
      "score_gap": score_gap(kendall, robust, config.ntk_betas),
      "search": analysis.search_regrets(tables, names[0], robust, config.search,
                                        inputs.search_key),
      "distribution": {m: [tables[m][i] for i in ids] for m in names},
      "timing": {"per_cell_median_s": float(np.median(times)), "first_cell_s": times[0],
                 "cells_s": time.perf_counter() - t0},
      "checks": _gates(config, per_cell, kendall)}


def _execute_released(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  del wd  # results.json and plots only
  bench, dataset = inputs.released, config.benchmark_dataset
  names = [m for m in bench.metrics(dataset) if m.startswith("val_")]
  tables = analysis.metric_tables(bench, dataset, names)
  metric_corr = analysis.metric_correlations(tables)
  pgd = sorted((m for m in names if m.startswith("val_pgd_")),
               key=lambda m: float(m.split("_")[2]))
  robust = pgd[-1] if pgd else names[-1]
  ids = sorted(tables[names[0]])
  return {
      "num_cells": len(ids), "dataset": dataset, "benchmark_file": bench.path,
      "metrics": names, "per_cell": [],
      "kendall": {"metrics": metric_corr["kendall"]},
      "spearman": {"metrics": metric_corr["spearman"]},
      "cross_dataset": analysis.cross_dataset(bench, names),
      "top_k": analysis.top_k(tables, robust, {"val_acc": tables["val_acc"]}, (10, 50, 100)),
      "search": analysis.search_regrets(tables, "val_acc", robust, config.search,
                                        inputs.search_key),
      "distribution": {m: [tables[m].get(i) for i in ids] for m in names},
      "checks": _gates(config, [], {})}


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """The study (see the module docstring); returns results.json."""
  if inputs.released is not None:
    return _execute_released(config, inputs, wd)
  return _execute_mini(config, inputs, wd)


STUDY = Study(name="robust_nas", presets={"default": default, "smoke": smoke,
                                          "cifar10": cifar10},
              prepare=prepare, execute=execute, plots=plots_lib.plot_all, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, cells.jsonl (one record per
  trained cell), metrics.jsonl, benchmark/<dataset>.json + meta.json, results.json, plots/."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
