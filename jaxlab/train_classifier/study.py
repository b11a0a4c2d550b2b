"""The `train_classifier` study: one classifier on one dataset, through the supervised
pipeline (`jaxlab.training.supervised.fit_classifier`).

  from jaxlab import train_classifier
  results = train_classifier.run(train_classifier.smoke(), "/tmp/clf")
  results["test_acc"]                                   # about 0.95
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from absl import logging

from jaxlab import models
from jaxlab.data import Dataset
from jaxlab.data import config as data_config
from jaxlab.experiment import Study, Workdir
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import require
from jaxlab.models import config as model_config
from jaxlab.train_classifier.config import Config, cifar10, default, smoke
from jaxlab.training import loop, optim, steps
from jaxlab.training.supervised import fit_classifier


class Inputs(NamedTuple):
  """What `prepare` checked and loaded."""

  data: Dataset
  steps_per_epoch: int


def prepare(config: Config) -> Inputs:
  """Loads the data and checks what depends on it: a classification set, inputs that fit
  the model, a batch no larger than the training split."""
  ds = data_config.load(config.dataset, seed=config.seed)
  data_config.require_classification(ds, config.dataset)
  model_config.check_inputs(config.model, ds.input_shape, dataset=config.dataset.name)
  steps_per_epoch = len(ds.train) // config.batch_size
  require(steps_per_epoch >= 1, "batch_size",
          f"must be <= the {len(ds.train)} training examples, got {config.batch_size}")
  return Inputs(ds, steps_per_epoch)


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Trains and evaluates; returns results.json: test_acc, val_acc, test_loss, val_loss,
  train_loss, num_params, epochs, data."""
  ds = inputs.data
  logging.info("data: %s", ds.summary())
  key = jax.random.key(config.seed)
  init_key, train_key = jax.random.split(key)
  del key
  model = model_config.build(config.model, ds.num_classes)
  params = models.init(model, init_key, ds.train.x[:1])
  n_params = models.num_params(params)
  logging.info("%s with %d parameters", config.model.name, n_params)
  tx = optim.from_config(config.optim, inputs.steps_per_epoch * config.num_epochs)
  fit = fit_classifier(
      params, model.apply, tx, ds.train, key=train_key, num_epochs=config.num_epochs,
      batch_size=config.batch_size, val=ds.val, test=ds.test,
      loss_fn=steps.classification_loss(model.apply, config.label_smoothing),
      eval_batch_size=config.eval_batch_size,
      mesh=loop.data_parallel_mesh() if config.data_parallel else None, workdir=wd,
      checkpoint=config.checkpoint)
  logging.info("test_acc=%.4f val_acc=%.4f", fit.test["acc"], fit.val["acc"])
  return {"test_acc": fit.test["acc"], "val_acc": fit.val["acc"],
          "test_loss": fit.test["loss"], "val_loss": fit.val["loss"],
          "train_loss": fit.history[-1]["train_loss"] if fit.history else None,
          "num_params": n_params, "epochs": config.num_epochs, "data": ds.summary()}


STUDY = Study(name="train_classifier",
              presets={"default": default, "smoke": smoke, "cifar10": cifar10},
              prepare=prepare, execute=execute, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, metrics.jsonl (one line per
  epoch), results.json, plots/curves, checkpoints/ and params/."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
