"""The study's ingredients: the shared start and K fine-tunes from it, each saved with its
recipe in the workdir (`seed_0/ingredients/start`, `seed_0/ingredients/ingredient_000`, ...),
so a resumed run reuses what a killed one finished.

  start, info = make_start(config, ds.train, labeled, 10, start_key, build_model, path)
  infos = make_ingredients(config, store, start, labeled, recipe_key, evaluate, model.apply,
                           log)

The training itself is the soups core (`jaxlab.soups.ingredients`: `shared_start`,
`make_finetune`), which trains through `jaxlab.training.supervised.fit_classifier`.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import jax
from absl import logging

from jaxlab import models
from jaxlab.data.dataset import Split
from jaxlab.experiment import WorkdirError, progress
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.papers.mehl_soup.evaluation import Evaluator
from jaxlab.soups.ingredients import (Hyperparameters, IngredientStore, make_finetune,
                                      sample_hyperparameters, shared_start)
from jaxlab.training import checkpoint as ckpt_lib

LogFn = Callable[[dict[str, Any]], None]


def make_start(config: Config, train: Split, labeled: Split, num_classes: int,
               key: jax.Array, build_model: Callable[[int], Any], path: str):
  """The shared start (pre-trained on `config.source_task` for `config.pretrain_epochs`, head
  probed on `labeled`), read back from the checkpoint `path` if a previous run saved it.
  Returns `(params, info)`.

  The pre-training recipe's seed is drawn from `fold_in(key, 1)` while `shared_start` splits
  `key` itself (into the backbone's and the head's initialisation and the probe's shuffling);
  the two uses never meet."""
  model = build_model(num_classes)
  like = jax.eval_shape(lambda x: models.init(model, jax.random.key(0), x), labeled.x[:1])
  if os.path.isdir(path):
    logging.info("reusing the shared start in %s", path)
    return ckpt_lib.restore_pytree(path, like=like), ckpt_lib.restore_metadata(path)
  t0 = time.perf_counter()
  space = config.search_space
  pretrain = Hyperparameters(
      learning_rate=config.pretrain_lr, weight_decay=1e-4, epochs=config.pretrain_epochs,
      shift=space.max_shift, noise_std=space.noise_std,
      seed=int(jax.random.randint(jax.random.fold_in(key, 1), (), 0, 2**31 - 1)))
  source_task = config.source_task if config.pretrain_epochs > 0 else "none"
  params, info = shared_start(
      build_model, train, labeled, num_classes=num_classes, source_task=source_task,
      key=key, pretrain=pretrain, probe_epochs=config.probe_epochs, probe_lr=config.probe_lr,
      batch_size=config.batch_size, pad=space.max_shift)
  info = dict(info, wall_s=time.perf_counter() - t0)
  ckpt_lib.save_pytree(path, params, metadata=info, force=True)
  return params, info


def make_ingredients(config: Config, store: IngredientStore, start: Any, labeled: Split,
                     key: jax.Array, evaluate: Evaluator, apply_fn: Callable[..., jax.Array],
                     log: LogFn) -> list[dict[str, Any]]:
  """Fine-tunes the ingredients missing from `store` (recipe k from `fold_in(key, k)`, so
  ingredient k's recipe does not depend on K), `log`s one record per ingredient and returns
  every ingredient's metadata (its recipe, val / test accuracy, train loss, wall time).

  Raises:
    WorkdirError: a saved ingredient was made with another recipe (another config).
  """
  finetune = None
  infos = []
  for k in progress.bar(range(config.num_ingredients), desc="ingredients"):
    hp = sample_hyperparameters(jax.random.fold_in(key, k), config.search_space)
    if store.exists(k):
      info = store.metadata(k)
      if {n: info.get(n) for n in hp.as_dict()} != hp.as_dict():
        raise WorkdirError(f"ingredient {k} in {store.path(k)} was made with other "
                           "hyperparameters; start a new --workdir")
      logging.info("ingredient %d/%d: reused from its checkpoint", k + 1, config.num_ingredients)
    else:
      finetune = finetune or make_finetune(apply_fn, pad=config.search_space.max_shift)
      params, info = _fine_tune(finetune, start, hp, labeled, config.batch_size, evaluate)
      store.save(k, params, info)
      logging.info("ingredient %d/%d: lr=%.2g wd=%.2g epochs=%d val_acc=%.4f (%.1fs)", k + 1,
                   config.num_ingredients, hp.learning_rate, hp.weight_decay, hp.epochs,
                   info["val_acc"], info["wall_s"])
    log({"phase": "ingredient", "ingredient": k, **info})
    infos.append(info)
  return infos


def _fine_tune(finetune, start, hp: Hyperparameters, labeled: Split, batch_size: int,
               evaluate: Evaluator) -> tuple[Any, dict[str, Any]]:
  """One ingredient: `(params, {**recipe, "val_acc", "val_loss", "test_acc", "train_loss",
  "wall_s"})`."""
  t0 = time.perf_counter()
  params, history = finetune(start, hp, labeled, batch_size)
  val, test = evaluate(params, "val"), evaluate(params, "test")
  return params, {**hp.as_dict(), "val_acc": val["acc"], "val_loss": val["loss"],
                  "test_acc": test["acc"], "train_loss": history[-1]["train_loss"],
                  "wall_s": time.perf_counter() - t0}
