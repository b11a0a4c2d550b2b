"""The MEHL-Soup study: K ingredients, six soups and the best individual, their accuracy,
memory and time.

  from jaxlab.papers import mehl_soup
  results = mehl_soup.run(mehl_soup.smoke(), "/tmp/soup")
  results["methods"]["mehl_plus"]["test_acc"]         # e.g. 0.28 at smoke size
  results["methods"]["learned_plus"]["peak_bytes"]    # XLA step bytes + resident ingredients

Steps (`execute`):
1. the shared start: pre-train on a source task (`source_task`), linear-probe a fresh head on
   the labelled training data (`label_fraction` of train);
2. K ingredients fine-tuned from it with random recipes, one checkpoint each in
   `ingredients/` (reused by `resume`);
3. every method of `methods` built from val only (the ingredients are streamed from their
   checkpoints), then evaluated once on test; soups and coefficients saved in `soups/`;
4. peak bytes of each method's largest jitted step (XLA memory analysis) plus the ingredient
   bytes it keeps resident, the process's peak RSS during it, and the coefficient-step bytes of
   Learned-Soup+ and MEHL-Soup+ for every K in `memory_ks` (compiled, not run).

Memory accounting: `peak_bytes` = arguments + outputs + temporaries - donated aliases of the
method's largest compiled step (coefficient step for the learned soups and MEHL; accumulation
for uniform; val evaluation for greedy and the best individual) + resident bytes outside that
step (greedy: the current soup; MEHL with the global-mean centre: the mean). `peak_rss_bytes`
is the process's high-water mark while the method runs (it includes the JAX runtime and data,
and memory a previous method freed but the allocator kept; methods run in the catalogue's
order, so MEHL runs before the learned soups). `coef_wall_s` is the construction time with
compilation excluded (`compile_s`) and checkpoint loading included.
"""

from __future__ import annotations

import functools
import os
from typing import Any, NamedTuple

import jax
import numpy as np
from absl import logging

from jaxlab import models
from jaxlab.data import Dataset
from jaxlab.data import config as data_config
from jaxlab.data.dataset import Split
from jaxlab.experiment import Study, Workdir, progress
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import require
from jaxlab.models import config as model_config
from jaxlab.papers.mehl_soup.config import Config, cifar10, default, smoke
from jaxlab.papers.mehl_soup.evaluation import Evaluator
from jaxlab.papers.mehl_soup.ingredients import make_ingredients, make_start
from jaxlab.papers.mehl_soup.memory_vs_k import memory_vs_k
from jaxlab.papers.mehl_soup.methods import Soup, SoupInputs, method_keys, selected
from jaxlab.papers.mehl_soup.plots import plots
from jaxlab.soups import combine, memory
from jaxlab.soups.ingredients import IngredientStore, source_labels, take_labeled
from jaxlab.training import checkpoint as ckpt_lib


class Inputs(NamedTuple):
  """What `prepare` loaded and checked: the data and the labelled part of its train split."""

  data: Dataset
  labeled: Split


def prepare(config: Config) -> Inputs:
  """Loads the data and makes every check that needs it: a classification set, inputs that fit
  the model, batches no larger than the labelled split, the source task's split and val."""
  ds = data_config.load(config.dataset, seed=config.seed)
  data_config.require_classification(ds, config.dataset)
  model_config.check_inputs(config.model, ds.input_shape, dataset=config.dataset.name)
  labeled = take_labeled(ds.train, config.label_fraction, seed=config.seed)
  require(config.batch_size <= len(labeled), "batch_size",
          f"must be <= the {len(labeled)} labelled training examples, got {config.batch_size}")
  if config.source_task != "none":
    n_source = int(source_labels(ds.train.y, ds.num_classes, config.source_task)[0].sum())
    require(config.batch_size <= n_source, "batch_size",
            f"must be <= the {n_source} training examples of the source task "
            f"{config.source_task!r}, got {config.batch_size}")
  require(config.coef_batch_size <= len(ds.val), "coef_batch_size",
          f"must be <= the {len(ds.val)} val examples, got {config.coef_batch_size}")
  return Inputs(ds, labeled)


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """The shared start, the K ingredients and every soup; returns results.json."""
  ds = inputs.data
  logging.info("data: %s", ds.summary())
  if wd.resumed:
    wd.truncate_metrics(None)  # rebuilt below from the checkpoints
  key = jax.random.key(config.seed)
  start_key, recipe_key, soup_key = jax.random.split(key, 3)
  del key
  build_model = functools.partial(model_config.build, config.model)  # outputs -> module
  model = build_model(ds.num_classes)
  evaluate = Evaluator(model.apply, ds, config.eval_batch_size)
  start, start_info = make_start(config, ds.train, inputs.labeled, ds.num_classes, start_key,
                                 build_model, wd)
  start_eval = {split: evaluate(start, split)["acc"] for split in ("val", "test")}
  wd.log(0, {"phase": "start", **start_info, "val_acc": start_eval["val"],
             "test_acc": start_eval["test"]})
  logging.info("shared start: val_acc=%.4f", start_eval["val"])
  like = memory.abstract(start)
  store = IngredientStore(wd.file("ingredients"), like=like, size=config.num_ingredients)
  infos = make_ingredients(config, store, start, inputs.labeled, recipe_key, evaluate,
                           model.apply, wd)
  del start
  soup_inputs = SoupInputs(config, store, [float(i["val_acc"]) for i in infos], ds.val,
                           model.apply, evaluate, like)
  methods = build_soups(soup_inputs, soup_key, wd)
  return {
      "num_ingredients": config.num_ingredients,
      "block_size": min(config.block_size, config.num_ingredients),
      "methods": methods,
      "ingredients": _ingredient_summary(infos),
      "start": {"val_acc": start_eval["val"], "test_acc": start_eval["test"]},
      "num_params": models.num_params(like), "param_bytes": combine.tree_bytes(like),
      "memory_vs_k": memory_vs_k(config, model.apply, like, ds.val, {
          m: methods[m]["peak_bytes"] for m in ("learned_plus", "mehl_plus") if m in methods}),
      "data": dict(ds.summary(), labeled=len(inputs.labeled)),
  }


def build_soups(inputs: SoupInputs, key: jax.Array, wd: Workdir) -> dict[str, dict[str, Any]]:
  """Builds every selected method from val (each with its own key, `method_keys`), evaluates
  it once on val and test, saves it in soups/ and logs it; returns `{method: entry}`."""
  log = _StepLog(wd, inputs.config.num_ingredients)
  keys = method_keys(key)
  entries = {}
  for method in progress.bar(selected(inputs.config.methods), desc="soups"):
    logging.info("building %s", method.name)
    with memory.PeakRSS() as rss:
      soup = method.build(method, inputs, keys[method.name],
                          functools.partial(log.block, method.name))
    entries[method.name] = entry = _entry(soup, rss, inputs.evaluate)
    _save_soup(wd, method.name, soup, entry, inputs.like)
    log.soup(method.name, entry)
    logging.info("%s: test_acc=%.4f val_acc=%.4f peak=%.2f MiB rss=%.0f MiB (%.2fs)",
                 method.name, entry["test_acc"], entry["val_acc"], entry["peak_bytes"] / 2**20,
                 entry["peak_rss_bytes"] / 2**20, entry["coef_wall_s"])
    del soup
  return entries


class _StepLog:
  """metrics.jsonl lines after the ingredients' (step K): one per learned-soup epoch or MEHL
  block (`phase` = the method) and one per finished soup (`phase` = 'soup')."""

  def __init__(self, wd: Workdir, last_step: int):
    self.wd = wd
    self.step = last_step

  def block(self, method: str, number: int, metrics: dict[str, Any]) -> None:
    self.step += 1
    self.wd.log(self.step, {"phase": method, "index": number, **metrics})

  def soup(self, method: str, entry: dict[str, Any]) -> None:
    self.step += 1
    self.wd.log(self.step, {"phase": "soup", "method": method, **entry})


def _entry(soup: Soup, rss: memory.PeakRSS, evaluate: Evaluator) -> dict[str, Any]:
  """One method's results: accuracy and loss on val and test, memory, time and extras."""
  val, test = evaluate(soup.params, "val"), evaluate(soup.params, "test")
  cost = soup.cost.as_dict()
  return {"test_acc": test["acc"], "val_acc": val["acc"], "peak_bytes": cost.pop("peak_bytes"),
          "peak_rss_bytes": rss.peak_bytes, "coef_wall_s": cost.pop("wall_s"),
          "rss_start_bytes": rss.start_bytes, "test_loss": test["loss"],
          "val_loss": val["loss"], **cost, **soup.extras}


def _save_soup(wd: Workdir, name: str, soup: Soup, entry: dict[str, Any], like: Any) -> None:
  """soups/<name> (the parameters) and soups/<name>_coefficients (learned coefficients)."""
  soup_dir = wd.file(os.path.join("soups", name))
  ckpt_lib.save_pytree(soup_dir, jax.device_get(soup.params), force=True,
                       metadata={"method": name, "val_acc": entry["val_acc"],
                                 "test_acc": entry["test_acc"]})
  if soup.coefficients is not None:
    leaves = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(like)[0]]
    ckpt_lib.save_pytree(soup_dir + "_coefficients", soup.coefficients, force=True,
                         metadata={"method": name, "leaves": leaves})


def _ingredient_summary(infos: list[dict[str, Any]]) -> dict[str, float]:
  test = np.array([float(i["test_acc"]) for i in infos])
  val = np.array([float(i["val_acc"]) for i in infos])
  return {"val_acc_mean": float(val.mean()), "val_acc_max": float(val.max()),
          "test_acc_mean": float(test.mean()), "test_acc_min": float(test.min()),
          "test_acc_max": float(test.max())}


STUDY = Study(name="mehl_soup", presets={"default": default, "smoke": smoke, "cifar10": cifar10},
              prepare=prepare, execute=execute, plots=plots, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, metrics.jsonl (the start at
  step 0, one line per ingredient, then per Learned-Soup epoch, MEHL block and method),
  results.json, plots/accuracy and plots/memory_vs_k, ingredients/ (checkpoints with their
  recipes) and soups/ (every soup's parameters and the learned coefficients). With `resume`,
  finished ingredients are read from their checkpoints, not trained again.

  Returns:
    The results: `{"num_ingredients", "block_size", "methods": {method: {"test_acc",
    "val_acc", "peak_bytes", "peak_rss_bytes", "coef_wall_s", ...}}, "ingredients", "start",
    "num_params", "param_bytes", "memory_vs_k", "data", "wall_s"}`.
  """
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
