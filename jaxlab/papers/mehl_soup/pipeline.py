"""One replicate of the study (one seed): the data split, the shared start, K ingredients,
every soup, the drop-top-k robustness study and the effective-weight analysis.

  data = load_seed(config, seed)
  record = run_seed(config, seed, data, Paths.under(wd, seed), log)
  record["methods"]["mehl_plus"]["test_acc"], record["robustness"]

The seed's key is split once into the start's, the recipes', the soups' and the robustness
study's keys, so each seed re-draws the split (the data loader's seed), the start, the
recipes and every soup's randomness. Everything is built from val; test is evaluated once per
soup, after it is built.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import resource
import time
from typing import Any, NamedTuple

import jax
import numpy as np
from absl import logging

from jaxlab import models
from jaxlab.data import Dataset
from jaxlab.data import config as data_config
from jaxlab.data.dataset import Split
from jaxlab.experiment import Workdir, progress
from jaxlab.models import config as model_config
from jaxlab.papers.mehl_soup import robustness
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.papers.mehl_soup.evaluation import Evaluator
from jaxlab.papers.mehl_soup.ingredients import make_ingredients, make_start
from jaxlab.papers.mehl_soup.methods import Soup, SoupInputs, method_keys, selected
from jaxlab.soups import combine, memory
from jaxlab.soups.ingredients import IngredientStore, take_labeled
from jaxlab.training import checkpoint as ckpt_lib


class SeedData(NamedTuple):
  """One seed's data: the split (seeded) and the labelled part of its train split."""

  data: Dataset
  labeled: Split


def load_seed(config: Config, seed: int) -> SeedData:
  """The data of replicate `seed`: the split, the fixed pixel noise and the labelled subset
  are all drawn from `seed`."""
  ds = data_config.load(config.dataset, seed=seed)
  return SeedData(ds, take_labeled(ds.train, config.label_fraction, seed=seed))


class Paths(NamedTuple):
  """Where one replicate keeps its checkpoints (absolute paths; None: nothing is saved).

  Attributes:
    start: the shared start's checkpoint.
    ingredients: the ingredient checkpoints' directory (None: kept in memory).
    soups: the soups' and coefficients' directory (None: not saved).
  """

  start: str
  ingredients: str | None
  soups: str | None

  @classmethod
  def under(cls, wd: Workdir, seed: int) -> "Paths":
    """`seed_<s>/ingredients/start`, `seed_<s>/ingredients/`, `seed_<s>/soups/`."""
    root = wd.file(f"seed_{seed}")
    return cls(os.path.join(root, "ingredients", "start"), os.path.join(root, "ingredients"),
               os.path.join(root, "soups"))


class StepLog:
  """metrics.jsonl lines numbered across seeds: `log(record)` writes one line at the next
  step, tagged with `tags` (the seed; an ablation cell), which the caller may reassign."""

  def __init__(self, wd: Workdir, step: int):
    self.wd, self.step, self.tags = wd, step, {}

  def __call__(self, record: dict[str, Any]) -> None:
    self.wd.log(self.step, {**self.tags, **record})
    self.step += 1

  def block(self, method: str, number: int, metrics: dict[str, Any]) -> None:
    """One Learned-Soup epoch or MEHL block of `method`."""
    self({"phase": method, "index": number, **metrics})


def cpu_seconds() -> float:
  """User + system CPU seconds of this process so far (all threads)."""
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def run_seed(config: Config, seed: int, data: SeedData, paths: Paths, log: StepLog
             ) -> dict[str, Any]:
  """One replicate: start, ingredients, soups, robustness, effective weights. Returns its
  record `{"seed", "start", "ingredients", "methods", "robustness", "wall_s", "cpu_s"}`
  (written by the caller to seeds.jsonl)."""
  t0, c0 = time.perf_counter(), cpu_seconds()
  ds = data.data
  start_key, recipe_key, soup_key, drop_key = jax.random.split(jax.random.key(seed), 4)
  build_model = functools.partial(model_config.build, config.model)  # outputs -> module
  model = build_model(ds.num_classes)
  evaluate = Evaluator(model.apply, ds, config.eval_batch_size)
  start, start_info = make_start(config, ds.train, data.labeled, ds.num_classes, start_key,
                                 build_model, paths.start)
  start_eval = {split: evaluate(start, split)["acc"] for split in ("val", "test")}
  log({"phase": "start", **start_info, "val_acc": start_eval["val"],
       "test_acc": start_eval["test"]})
  logging.info("seed %d: shared start val_acc=%.4f", seed, start_eval["val"])
  like = memory.abstract(start)
  store = (IngredientStore(paths.ingredients, like=like, size=config.num_ingredients)
           if paths.ingredients else robustness.MemoryStore(config.num_ingredients))
  infos = make_ingredients(config, store, start, data.labeled, recipe_key, evaluate,
                           model.apply, log)
  del start
  inputs = SoupInputs(config, store, [float(i["val_acc"]) for i in infos], ds.val,
                      model.apply, evaluate, like)
  methods = build_soups(inputs, soup_key, log, paths.soups)
  drops = robustness.drop_top(inputs, config.drop_top, drop_key, log)
  return {"seed": seed, "start": start_eval, "start_info": start_info,
          "ingredients": ingredient_summary(infos), "methods": methods,
          "robustness": robustness.with_k0(drops, methods, config.drop_top),
          "wall_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0}


def build_soups(inputs: SoupInputs, key: jax.Array, log: StepLog, soup_dir: str | None
                ) -> dict[str, dict[str, Any]]:
  """Builds every selected method from val (each with its own key, `method_keys`), evaluates
  it once on val and test, saves it in `soup_dir` (unless None) and logs it; returns
  `{method: entry}`."""
  keys = method_keys(key)
  entries = {}
  for method in progress.bar(selected(inputs.config.methods), desc="soups"):
    logging.info("building %s", method.name)
    with memory.PeakRSS() as rss:
      soup = method.build(method, inputs, keys[method.name],
                          functools.partial(log.block, method.name))
    entries[method.name] = entry = _entry(soup, rss, inputs.evaluate)
    if soup_dir is not None:
      _save_soup(soup_dir, method.name, soup, entry, inputs.like)
    log({"phase": "soup", "method": method.name, **entry})
    logging.info("%s: test_acc=%.4f val_acc=%.4f peak=%.2f MiB rss=%.0f MiB (%.2fs)",
                 method.name, entry["test_acc"], entry["val_acc"], entry["peak_bytes"] / 2**20,
                 entry["peak_rss_bytes"] / 2**20, entry["coef_wall_s"])
    del soup
  return entries


def _entry(soup: Soup, rss: memory.PeakRSS, evaluate: Evaluator) -> dict[str, Any]:
  """One method's results: accuracy and loss on val and test, memory, time and extras."""
  val, test = evaluate(soup.params, "val"), evaluate(soup.params, "test")
  cost = soup.cost.as_dict()
  return {"test_acc": test["acc"], "val_acc": val["acc"], "peak_bytes": cost.pop("peak_bytes"),
          "peak_rss_bytes": rss.peak_bytes, "coef_wall_s": cost.pop("wall_s"),
          "rss_start_bytes": rss.start_bytes, "test_loss": test["loss"],
          "val_loss": val["loss"], **cost, **soup.extras}


def _save_soup(soup_dir: str, name: str, soup: Soup, entry: dict[str, Any], like: Any) -> None:
  """`<soup_dir>/<name>` (the parameters) and `<name>_coefficients` (learned coefficients)."""
  path = os.path.join(soup_dir, name)
  ckpt_lib.save_pytree(path, jax.device_get(soup.params), force=True,
                       metadata={"method": name, "val_acc": entry["val_acc"],
                                 "test_acc": entry["test_acc"]})
  if soup.coefficients is not None:
    ckpt_lib.save_pytree(path + "_coefficients", soup.coefficients, force=True,
                         metadata={"method": name, "leaves": leaf_names(like)})


def leaf_names(like: Any) -> list[str]:
  """`jax.tree_util.keystr` of every leaf, in `tree_leaves` order (the coefficient groups of
  the "+" soups)."""
  return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(like)[0]]


def ingredient_summary(infos: list[dict[str, Any]]) -> dict[str, float]:
  test = np.array([float(i["test_acc"]) for i in infos])
  val = np.array([float(i["val_acc"]) for i in infos])
  return {"val_acc_mean": float(val.mean()), "val_acc_max": float(val.max()),
          "test_acc_mean": float(test.mean()), "test_acc_min": float(test.min()),
          "test_acc_max": float(test.max())}


def model_facts(config: Config, data: SeedData) -> dict[str, Any]:
  """Parameter count and bytes of the study's model (one ingredient)."""
  model = model_config.build(config.model, data.data.num_classes)
  like = jax.eval_shape(lambda x: models.init(model, jax.random.key(0), x), data.labeled.x[:1])
  return {"num_params": models.num_params(like), "param_bytes": combine.tree_bytes(like)}


def replace_lr(config: Config, lr_max: float, pretrain_epochs: int) -> Config:
  """`config` with the fine-tuning learning rates log-uniform in (lr_max / 10, lr_max) and
  `pretrain_epochs` epochs of pre-training (an ablation cell)."""
  space = dataclasses.replace(config.search_space, learning_rate=(lr_max / 10, lr_max))
  return dataclasses.replace(config, search_space=space, pretrain_epochs=pretrain_epochs)
