"""The MEHL-Soup study: over several seeds, K ingredients, every soup and the best single
model, their accuracy, memory and time; the paper's table paired by seed, the robustness
table and the effective weights.

  from jaxlab.papers import mehl_soup
  results = mehl_soup.run(mehl_soup.smoke(), "/tmp/soup")
  results["methods"]["mehl_plus"]["test_acc"]          # mean over the seeds
  results["methods"]["mehl_plus"]["diff_best"]         # {"mean", "se", ...}: paired by seed
  results["checks"]                                    # the targets, {"value", "target", "pass"}

Steps (`execute`), for every seed of `seeds` (`pipeline.run_seed`; a finished seed is a line
of seeds.jsonl, which `resume` keeps):
1. the seed's data split and the shared start: pre-train on a source task (`source_task`),
   linear-probe a fresh head on the labelled training data (`label_fraction` of train);
2. K ingredients fine-tuned from it with random recipes, one checkpoint each in
   `seed_<s>/ingredients/` (reused by `resume`);
3. every method of `methods` built from val only (the ingredients are streamed from their
   checkpoints), then evaluated once on test; soups and coefficients in `seed_<s>/soups/`;
4. the robustness study: the top k ingredients (by val) removed, greedy and MEHL-Soup+
   rebuilt (`drop_top`);
then the tables over seeds (`summary`) and the coefficient-step memory of Learned-Soup+ and
MEHL-Soup+ at every K of `memory_ks` (compiled, not run). The `ablation` preset runs the
study once per cell of a grid instead (`ablation_grid.execute`).

Memory accounting: `peak_bytes` = arguments + outputs + temporaries - donated aliases of the
method's largest compiled step (coefficient step for the learned soups and MEHL; accumulation
for uniform; val evaluation for greedy and the best individual) + resident bytes outside that
step (greedy: the current soup; MEHL with the global-mean centre: the mean). `peak_rss_bytes`
is the process's high-water mark while the method runs (it includes the JAX runtime and data,
and memory a previous method freed but the allocator kept; methods run in the catalogue's
order). `coef_wall_s` is the construction time with compilation excluded (`compile_s`) and
checkpoint loading included.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from absl import logging

from jaxlab import models
from jaxlab.data import config as data_config
from jaxlab.experiment import Study, Workdir, progress
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import require
from jaxlab.models import config as model_config
from jaxlab.papers.mehl_soup import ablation_grid, summary
from jaxlab.papers.mehl_soup.config import Config, ablation as ablation_preset
from jaxlab.papers.mehl_soup.config import cifar10, default, smoke
from jaxlab.papers.mehl_soup.memory_vs_k import memory_vs_k
from jaxlab.papers.mehl_soup.pipeline import (Paths, SeedData, StepLog, leaf_names, load_seed,
                                              model_facts, run_seed)
from jaxlab.papers.mehl_soup.plots import plots
from jaxlab.soups.ingredients import source_labels

SEEDS = "seeds.jsonl"


class Inputs(NamedTuple):
  """What `prepare` loaded and checked: the first seed's data (the other seeds' splits have
  the same sizes, so the checks hold for them too)."""

  first: SeedData


def prepare(config: Config) -> Inputs:
  """Loads the first seed's data and makes every check that needs it: a classification set,
  inputs that fit the model, batches no larger than the labelled split, the source task's
  split and val."""
  data = load_seed(config, config.seeds[0])
  ds, labeled = data
  data_config.require_classification(ds, config.dataset)
  model_config.check_inputs(config.model, ds.input_shape, dataset=config.dataset.name)
  require(config.batch_size <= len(labeled), "batch_size",
          f"must be <= the {len(labeled)} labelled training examples, got {config.batch_size}")
  if config.source_task != "none":
    n_source = int(source_labels(ds.train.y, ds.num_classes, config.source_task)[0].sum())
    require(config.batch_size <= n_source, "batch_size",
            f"must be <= the {n_source} training examples of the source task "
            f"{config.source_task!r}, got {config.batch_size}")
  require(config.coef_batch_size <= len(ds.val), "coef_batch_size",
          f"must be <= the {len(ds.val)} val examples, got {config.coef_batch_size}")
  return Inputs(data)


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Every seed (finished ones read back on resume), then the tables; returns results.json.
  The ablation preset runs `ablation_grid.execute` instead."""
  if config.ablation.active:
    return ablation_grid.execute(config, inputs.first, wd)
  records = run_seeds(config, inputs.first, wd)
  return summarise(config, records, inputs.first)


def run_seeds(config: Config, first: SeedData, wd: Workdir) -> list[dict[str, Any]]:
  """One `run_seed` record per seed, in order; on resume the seeds recorded in seeds.jsonl
  are kept (with their metrics.jsonl lines) and the first unfinished one restarts from its
  checkpoints."""
  done = {r["seed"]: r for r in wd.read_jsonl(SEEDS)} if wd.resumed else {}
  if wd.resumed:
    wd.truncate_metrics(max((r["last_step"] for r in done.values()), default=None))
  log = StepLog(wd, max((r["last_step"] + 1 for r in done.values()), default=0))
  records = []
  for seed in progress.bar(config.seeds, desc="seeds"):
    if seed in done:
      logging.info("seed %d: reused from %s", seed, SEEDS)
      records.append(done[seed])
      continue
    data = first if seed == config.seeds[0] else load_seed(config, seed)
    log.tags = {"seed": seed}
    record = run_seed(config, seed, data, Paths.under(wd, seed), log)
    record["last_step"] = log.step - 1
    wd.append_jsonl(SEEDS, record)
    records.append(record)
  return records


def summarise(config: Config, records: list[dict[str, Any]], first: SeedData
              ) -> dict[str, Any]:
  """results.json from the seeds' records: the paired table (`methods`), `robustness`,
  `premise`, `effective_weights`, `checks`, memory vs K, times."""
  ds = first.data
  model = model_config.build(config.model, ds.num_classes)
  like = jax.eval_shape(lambda x: models.init(model, jax.random.key(0), x), first.labeled.x[:1])
  table = summary.method_table(records)
  measured = {m: table[m]["peak_bytes"] for m in ("learned_plus", "mehl_plus") if m in table}
  return {
      "seeds": list(config.seeds),
      "num_ingredients": config.num_ingredients,
      "block_size": min(config.block_size, config.num_ingredients),
      "methods": table,
      "robustness": summary.robustness_table(records) if config.drop_top else {},
      "premise": summary.premise(records),
      "effective_weights": summary.effective_weights(records, leaf_names(like)),
      "per_seed": records,
      **model_facts(config, first),
      "memory_vs_k": memory_vs_k(config, model.apply, like, ds.val, measured),
      "data": dict(ds.summary(), labeled=len(first.labeled)),
      "time": {"wall_s_per_seed": [r["wall_s"] for r in records],
               "cpu_s_per_seed": [r["cpu_s"] for r in records],
               "cpu_s": sum(r["cpu_s"] for r in records)},
      "checks": summary.study_checks(records, table),
  }


STUDY = Study(name="mehl_soup",
              presets={"default": default, "smoke": smoke, "ablation": ablation_preset,
                       "cifar10": cifar10},
              prepare=prepare, execute=execute, plots=plots, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, metrics.jsonl (per seed: the
  start, one line per ingredient, per Learned-Soup epoch, MEHL block, method and robustness
  rebuild, each tagged with its seed), seeds.jsonl (one record per finished seed),
  results.json, plots/accuracy and plots/memory_vs_k (plots/ablation for the ablation
  preset), seed_<s>/ingredients/ (checkpoints with their recipes) and seed_<s>/soups/ (every
  soup's parameters and the learned coefficients). With `resume`, finished seeds are read
  back from seeds.jsonl and finished ingredients from their checkpoints.

  Returns:
    The results: `{"seeds", "num_ingredients", "block_size", "methods": {method:
    {"test_acc", "test_std", "val_acc", "diff_best": {"mean", "se", ...}, "peak_bytes",
    "peak_rss_bytes", "coef_wall_s", ...}}, "robustness", "premise", "effective_weights",
    "per_seed", "num_params", "param_bytes", "memory_vs_k", "data", "time", "checks",
    "wall_s"}`.
  """
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
