"""Train one classifier on one dataset and write the experiment contract outputs.

  from jaxlab.training import classifier
  results = classifier.run(classifier.Config(dataset="digits", model="mlp"), "/tmp/run1")
  results["test_acc"]                                   # e.g. 0.97

The library function behind `python -m experiments.train_classifier`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import numpy as np
from absl import logging

from jaxlab import data as data_lib
from jaxlab import models
from jaxlab import plotting
from jaxlab.config import ConfigError, require, require_choice, to_dict
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import loop, optim, steps
from jaxlab.workdir import Workdir


@dataclasses.dataclass(frozen=True)
class Config:
  """Classifier training.

  Attributes:
    dataset: dataset name: digits, gaussian_mixture, or tfds:<name> (images or features).
    data_dir: directory of prepared tensorflow-datasets data (tfds:<name> only).
    image_size: resize digits to this side (0 keeps 8x8).
    input_noise: digits only: fixed Gaussian pixel noise on every image (a harder task).
    max_examples: read at most this many examples per tfds split (0 = all).
    model: mlp, cnn or vit.
    width: hidden width (mlp, cnn dense layer) or token width (vit).
    depth: hidden layers (mlp), conv layers (cnn) or encoder blocks (vit).
    patch_size: vit patch side.
    num_heads: vit attention heads.
    optimizer: sgd, adam or adamw.
    learning_rate: peak learning rate.
    schedule: constant, cosine, warmup_cosine or triangular.
    weight_decay: weight decay (L2 for sgd/adam, decoupled for adamw).
    momentum: sgd momentum.
    label_smoothing: label smoothing of the cross-entropy.
    num_epochs: training epochs.
    batch_size: training batch size.
    eval_batch_size: evaluation batch size.
    seed: seed of the data split, initialisation and shuffling.
    data_parallel: shard each batch over all devices (jax.sharding).
    checkpoint: save an orbax checkpoint every epoch (needed for --resume).
  """

  dataset: str = "digits"
  data_dir: str = ""
  image_size: int = 0
  input_noise: float = 0.0
  max_examples: int = 0
  model: str = "mlp"
  width: int = 256
  depth: int = 2
  patch_size: int = 2
  num_heads: int = 4
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  schedule: str = "cosine"
  weight_decay: float = 0.0
  momentum: float = 0.9
  label_smoothing: float = 0.0
  num_epochs: int = 20
  batch_size: int = 64
  eval_batch_size: int = 512
  seed: int = 0
  data_parallel: bool = False
  checkpoint: bool = True

  def __post_init__(self):
    check_data_and_model(self)
    for name in ("num_epochs", "batch_size", "eval_batch_size"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require_choice(self.optimizer, "optimizer", optim.OPTIMIZERS)
    require_choice(self.schedule, "schedule", optim.SCHEDULES)
    require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
    require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
    require(0 <= self.label_smoothing < 1, "label_smoothing",
            f"must be in [0, 1), got {self.label_smoothing}")
    if self.data_parallel:
      require(self.batch_size % jax.device_count() == 0, "batch_size",
              f"must be a multiple of the {jax.device_count()} devices with data_parallel")


def check_data_and_model(config) -> None:
  """Validates the data and model fields shared by classifier-style configs (dataset, data_dir,
  image_size, input_noise, max_examples, model, width, depth, patch_size, num_heads); raises
  `ConfigError` naming the field."""
  try:
    data_lib.check_name(config.dataset)
  except ValueError as e:
    raise ConfigError("dataset", str(e)) from None
  require(config.dataset not in ("tweets", "teacher_student"), "dataset",
          f"{config.dataset!r} is not an image/feature classification set; valid here: digits, "
          "gaussian_mixture, tfds:<name>")
  is_tfds = config.dataset.startswith(data_lib.TFDS_PREFIX)
  require(not config.data_dir or is_tfds, "data_dir", "only used with tfds:<name> datasets")
  require(bool(config.data_dir) or not is_tfds, "data_dir",
          f"{config.dataset} needs a directory where the dataset is prepared (see README, "
          "'Real datasets')")
  require(config.image_size == 0 or (config.dataset == "digits" and config.image_size >= 2),
          "image_size", "only digits can be resized, to a side >= 2 (0 keeps 8)")
  require(config.input_noise == 0 or (config.dataset == "digits" and config.input_noise > 0),
          "input_noise", f"only digits take input noise, a value > 0; got {config.input_noise}")
  require(config.max_examples >= 0, "max_examples", f"must be >= 0, got {config.max_examples}")
  require_choice(config.model, "model", models.MODELS)
  for name in ("width", "depth", "patch_size", "num_heads"):
    require(getattr(config, name) >= 1, name, f"must be >= 1, got {getattr(config, name)}")
  require(config.model != "vit" or config.width % config.num_heads == 0, "num_heads",
          f"must divide width ({config.width}), got {config.num_heads}")


def load_data(config) -> data_lib.Dataset:
  """The config's dataset (a `Config`, or any config with the fields `check_data_and_model`
  validates plus `seed`); data problems are reported as `ConfigError` on the flag to fix."""
  options: dict[str, Any] = {}
  if config.image_size:
    options["image_size"] = config.image_size
  if config.input_noise:
    options["noise_std"] = config.input_noise
  if config.max_examples:
    options["max_examples"] = config.max_examples
  try:
    ds = data_lib.load(config.dataset, seed=config.seed, data_dir=config.data_dir or None,
                       **options)
  except FileNotFoundError as e:
    raise ConfigError("data_dir", str(e)) from e
  except (ValueError, TypeError) as e:
    raise ConfigError("dataset", str(e)) from e
  require(ds.num_classes is not None and ds.train.x.dtype != object, "dataset",
          f"{config.dataset!r} is not an image or feature classification dataset")
  require(config.model == "mlp" or ds.train.x.ndim == 4, "model",
          f"{config.model} needs images (N, H, W, C); {config.dataset} has inputs "
          f"{ds.input_shape}; use --model=mlp")
  if config.model == "vit":
    h, w = ds.input_shape[:2]
    require(h % config.patch_size == 0 and w % config.patch_size == 0, "patch_size",
            f"must divide the image sides {h}x{w}, got {config.patch_size}")
  return ds


def plot_curves(history: list[dict[str, float]], workdir: Workdir) -> str:
  fig, (ax1, ax2) = plotting.figure(1, 2)
  epochs = np.arange(1, len(history) + 1)
  ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
  ax1.plot(epochs, [h["val_loss"] for h in history], label="val")
  ax1.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
  ax2.plot(epochs, [h["train_accuracy"] for h in history], label="train")
  ax2.plot(epochs, [h["val_acc"] for h in history], label="val")
  ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
  for ax in (ax1, ax2):
    ax.legend()
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "curves")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Trains `config.model` on `config.dataset` and writes config.json, metrics.jsonl (one line
  per epoch), results.json (test_acc, val_acc, train_loss, test_loss, num_params, wall_s),
  plots/curves.png and, if `config.checkpoint`, checkpoints/ and params/.

  Args:
    config: the run's `Config`.
    workdir: a `Workdir` or a path (then created with `overwrite` / `resume`).

  Returns:
    The results dict.
  """
  t_start = time.perf_counter()
  ds = load_data(config)  # every data-dependent check before the workdir is touched
  steps_per_epoch = len(ds.train) // config.batch_size
  require(steps_per_epoch >= 1, "batch_size",
          f"must be <= the {len(ds.train)} training examples, got {config.batch_size}")
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite,
                                                            resume=resume)
  wd.write_config(to_dict(config))
  logging.info("data: %s", ds.summary())

  key = jax.random.key(config.seed)
  init_key, train_key = jax.random.split(key)
  del key
  model = models.build(config.model, outputs=ds.num_classes, width=config.width,
                       depth=config.depth, patch_size=config.patch_size,
                       num_heads=config.num_heads)
  params = models.init(model, init_key, ds.train.x[:1])
  n_params = models.num_params(params)
  logging.info("%s with %d parameters", config.model, n_params)
  schedule = optim.make_schedule(config.schedule, config.learning_rate,
                                 steps_per_epoch * config.num_epochs)
  tx = optim.make_optimizer(config.optimizer, schedule, weight_decay=config.weight_decay,
                            momentum=config.momentum)
  state = steps.TrainState.create(params, tx)
  train_step = steps.make_train_step(
      steps.classification_loss(model.apply, config.label_smoothing), tx)
  eval_step = steps.make_eval_step(model.apply)
  mesh = loop.data_parallel_mesh() if config.data_parallel else None

  def evaluate_fn(p):
    val = loop.evaluate(eval_step, p, ds.val, config.eval_batch_size, mesh)
    return {"val_loss": val["loss"], "val_acc": val["acc"]}

  checkpoint_dir = wd.checkpoint_dir if config.checkpoint else None
  if wd.resumed and checkpoint_dir:
    with ckpt_lib.checkpoint_manager(checkpoint_dir) as mngr:
      wd.truncate_metrics(mngr.latest_step())
  state, _ = loop.fit(state, train_step, ds.train, key=train_key, num_epochs=config.num_epochs,
                      batch_size=config.batch_size, evaluate_fn=evaluate_fn, log_fn=wd.log,
                      checkpoint_dir=checkpoint_dir, mesh=mesh)
  history = wd.read_metrics()  # every epoch, also those before a resume

  val = loop.evaluate(eval_step, state.params, ds.val, config.eval_batch_size, mesh)
  test = loop.evaluate(eval_step, state.params, ds.test, config.eval_batch_size, mesh)
  if config.checkpoint:
    ckpt_lib.save_pytree(wd.file("params"), jax.device_get(state.params),
                         force=True)
  results = {
      "test_acc": test["acc"], "val_acc": val["acc"], "test_loss": test["loss"],
      "val_loss": val["loss"],
      "train_loss": history[-1]["train_loss"] if history else float("nan"),
      "num_params": n_params, "epochs": config.num_epochs, "data": ds.summary(),
      "wall_s": time.perf_counter() - t_start,
  }
  wd.write_results(results)
  if history:
    plot_curves(history, wd)
  logging.info("test_acc=%.4f val_acc=%.4f (%.1fs)", test["acc"], val["acc"], results["wall_s"])
  return results
