"""Soup ingredients: one shared start, K fine-tunes from it with randomly drawn
hyperparameters, one orbax checkpoint per ingredient (its hyperparameters stored with it).

  space = SearchSpace(max_shift=2)
  hp = sample_hyperparameters(recipe_key, space)              # Hyperparameters(lr=..., ...)
  finetune = make_finetune(model.apply, pad=space.max_shift)   # one compiled step for all
  params, history = finetune(start, hp, labeled, batch_size=32)
  store = IngredientStore(path, like=start, size=K)
  store.save(k, params, {**hp.as_dict(), "val_acc": 0.9})
  store[k]                       # params, restored from ingredient k's checkpoint
  store.metadata(k)["learning_rate"]

The shared start (the paper's pretrained backbone plus a linear-probed head) comes from
`shared_start`: pre-train on a source task (`source_labels`), move the backbone into the target
model with a fresh head, then train only the head on the target task.

Every recipe hyperparameter (learning rate, weight decay, schedule length, label smoothing,
shift and noise augmentation, mixup) is an array in the optimiser state or the batch, not a
Python constant, so all K fine-tunes run one compiled training step. The fine-tunes, the
start's pre-training and the linear probe all train through the one supervised pipeline,
`jaxlab.training.supervised.fit_classifier`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import os
from typing import Any, Callable, Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab import models
from jaxlab.data import augment
from jaxlab.data.dataset import Split, holdout
from jaxlab.experiment.config import require
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import steps
from jaxlab.training.supervised import fit_classifier

SOURCE_TASKS = ("half", "parity", "none")


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """One fine-tuning recipe.

  Attributes:
    learning_rate: AdamW peak learning rate (cosine decay to 0 over the run).
    weight_decay: AdamW decoupled weight decay.
    epochs: passes over the training split.
    label_smoothing: label smoothing of the cross-entropy.
    shift: random translation augmentation, in pixels (0: off; images only).
    noise_std: Gaussian input-noise augmentation (0: off).
    mixup: mixup Beta parameter alpha (0: off).
    seed: seed of shuffling, augmentation and mixup.
  """

  learning_rate: float
  weight_decay: float
  epochs: int
  label_smoothing: float = 0.0
  shift: int = 0
  noise_std: float = 0.0
  mixup: float = 0.0
  seed: int = 0

  def as_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """Random-search ranges of the ingredients' hyperparameters (the paper's ingredients use a
  random search over lr, wd, epochs, augmentation, mixup and label smoothing).

  Attributes:
    learning_rate: (low, high), log-uniform.
    weight_decay: (low, high), log-uniform.
    epochs: (low, high), uniform over the integers, both included.
    label_smoothing: (low, high), uniform.
    augment_prob: probability that shift + noise augmentation is on.
    max_shift: shift in pixels when augmentation is on.
    noise_std: noise standard deviation when augmentation is on.
    mixup_prob: probability that mixup is on.
    mixup: (low, high) of alpha when mixup is on, uniform.
  """

  learning_rate: tuple[float, float] = (1e-4, 1e-2)
  weight_decay: tuple[float, float] = (1e-5, 0.5)
  epochs: tuple[int, int] = (2, 10)
  label_smoothing: tuple[float, float] = (0.0, 0.2)
  augment_prob: float = 0.5
  max_shift: int = 2
  noise_std: float = 0.1
  mixup_prob: float = 0.5
  mixup: tuple[float, float] = (0.0, 0.5)

  def __post_init__(self):
    for name in ("learning_rate", "weight_decay", "epochs", "label_smoothing", "mixup"):
      lo_hi = getattr(self, name)
      require(len(lo_hi) == 2 and lo_hi[0] <= lo_hi[1], name,
              f"expected two values low,high with low <= high, got {lo_hi}")
    require(self.learning_rate[0] > 0, "learning_rate", "must be > 0 (log-uniform)")
    require(self.weight_decay[0] > 0, "weight_decay", "must be > 0 (log-uniform)")
    require(self.epochs[0] >= 1, "epochs", "must be >= 1")
    require(0 <= self.label_smoothing[0] and self.label_smoothing[1] < 1, "label_smoothing",
            "must lie in [0, 1)")
    require(self.mixup[0] >= 0, "mixup", "must be >= 0")
    for name in ("augment_prob", "mixup_prob"):
      require(0 <= getattr(self, name) <= 1, name,
              f"must be in [0, 1], got {getattr(self, name)}")
    require(self.max_shift >= 0, "max_shift", f"must be >= 0, got {self.max_shift}")
    require(self.noise_std >= 0, "noise_std", f"must be >= 0, got {self.noise_std}")


def sample_hyperparameters(key: jax.Array, space: SearchSpace) -> Hyperparameters:
  """One random recipe from `space` (a pure function of `key`)."""
  keys = jax.random.split(key, 8)
  u = [float(jax.random.uniform(k)) for k in keys[:7]]

  def log_uniform(x, lo_hi):
    lo, hi = lo_hi
    return float(math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))))

  lo, hi = space.epochs
  augment_on = u[4] < space.augment_prob
  mixup_on = u[5] < space.mixup_prob
  return Hyperparameters(
      learning_rate=log_uniform(u[0], space.learning_rate),
      weight_decay=log_uniform(u[1], space.weight_decay),
      epochs=int(lo + min(int(u[2] * (hi - lo + 1)), hi - lo)),
      label_smoothing=space.label_smoothing[0] + u[3] * (space.label_smoothing[1]
                                                         - space.label_smoothing[0]),
      shift=space.max_shift if augment_on else 0,
      noise_std=space.noise_std if augment_on else 0.0,
      mixup=(space.mixup[0] + u[6] * (space.mixup[1] - space.mixup[0])) if mixup_on else 0.0,
      seed=int(jax.random.randint(keys[7], (), 0, 2**31 - 1)))


def recipe_loss(apply_fn: Callable[..., jax.Array], pad: int) -> steps.LossFn:
  """A `loss_fn(params, batch, key)` whose recipe is in the batch: besides 'x' and 'y', the
  scalars 'label_smoothing', 'shift' (int, at most `pad`), 'noise_std' and 'mixup'."""

  def loss_fn(params, batch, key):
    k_shift, k_noise, k_mix = jax.random.split(key, 3)
    x = batch["x"]
    if x.ndim == 4 and pad > 0:
      x = augment.random_shift(k_shift, x, batch["shift"], pad=pad)
    x = augment.gaussian_noise(k_noise, x, batch["noise_std"])
    x, y_mix, lam = augment.mixup(k_mix, x, batch["y"], batch["mixup"])
    logits = apply_fn(params, x)
    ls = batch["label_smoothing"]
    loss = jnp.mean(lam * steps.cross_entropy(logits, batch["y"], ls)
                    + (1 - lam) * steps.cross_entropy(logits, y_mix, ls))
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}

  return loss_fn


def _adamw_cosine(learning_rate, weight_decay, total_steps):
  def schedule(count):
    progress = jnp.minimum(count / total_steps, 1.0)
    return learning_rate * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))

  return optax.adamw(schedule, weight_decay=weight_decay)


def recipe_optimizer(learning_rate: float = 1e-3, weight_decay: float = 0.0,
                     total_steps: float = 1.0) -> optax.GradientTransformation:
  """A recipe's optimiser: AdamW with cosine decay to 0 over `total_steps`, whose learning
  rate, weight decay and length are arrays in the optimiser state (`inject_hyperparams`), so
  one compiled step serves every recipe."""
  return optax.inject_hyperparams(_adamw_cosine)(
      learning_rate=float(learning_rate), weight_decay=float(weight_decay),
      total_steps=float(total_steps))


def recipe_batch(hp: Hyperparameters) -> dict[str, jax.Array]:
  """The batch entries `recipe_loss` reads: the recipe's augmentation strengths as arrays."""
  return {"label_smoothing": jnp.float32(hp.label_smoothing), "shift": jnp.int32(hp.shift),
          "noise_std": jnp.float32(hp.noise_std), "mixup": jnp.float32(hp.mixup)}


def make_finetune(apply_fn: Callable[..., jax.Array], *, pad: int):
  """`finetune(params, hp, train, batch_size, log_fn=None) -> (params, history)`.

  Trains `params` with recipe `hp` (a `Hyperparameters`) on `train` through the supervised
  pipeline (`jaxlab.training.supervised.fit_classifier`): one prebuilt train step for all
  recipes (`recipe_loss`), the recipe's augmentation in the batch (`recipe_batch`), its
  learning rate, weight decay and length in the optimiser state, shuffling and step keys from
  `hp.seed`. Recipes with `shift > pad` raise.
  """
  train_step = steps.make_train_step(recipe_loss(apply_fn, pad), recipe_optimizer())

  def finetune(params, hp: Hyperparameters, train: Split, batch_size: int,
               log_fn: Callable[[int, dict[str, float]], None] | None = None):
    if hp.shift > pad:
      raise ValueError(f"shift {hp.shift} exceeds the compiled padding {pad}")
    steps_per_epoch = len(train) // batch_size
    if steps_per_epoch < 1:
      raise ValueError(f"batch_size {batch_size} exceeds the {len(train)} training examples")
    tx = recipe_optimizer(hp.learning_rate, hp.weight_decay, steps_per_epoch * hp.epochs)
    fit = fit_classifier(params, apply_fn, tx, train, key=jax.random.key(hp.seed),
                         num_epochs=hp.epochs, batch_size=batch_size, train_step=train_step,
                         batch_extras=recipe_batch(hp), log_fn=log_fn)
    return fit.params, fit.history

  return finetune


def source_labels(y: np.ndarray, num_classes: int, task: str
                  ) -> tuple[np.ndarray, np.ndarray, int]:
  """`(mask, labels, num_source_classes)` of a pre-training task on the same images.

  'half': only the first `num_classes // 2` classes (labels kept); 'parity': all images,
  label `y mod 2`.
  """
  if task == "half":
    keep = y < num_classes // 2
    return keep, y[keep], num_classes // 2
  if task == "parity":
    return np.ones(len(y), bool), (y % 2).astype(y.dtype), 2
  raise ValueError(f"unknown source task {task!r}; valid: half, parity")


def output_modules(build_model: Callable[[int], Any], x: Any, outputs: int) -> tuple[str, ...]:
  """Names of the top-level modules whose parameter shapes depend on the number of outputs
  (the head), found by comparing the abstract parameters for `outputs` and `outputs + 1`.

  Args:
    build_model: `outputs -> flax module`.
    x: an example input batch (only its shape and dtype are used).
    outputs: the number of outputs.
  """
  def shapes(n):
    tree = jax.eval_shape(build_model(n).init, jax.random.key(0), x)["params"]
    return {name: jax.tree_util.tree_map(lambda a: a.shape, value) for name, value in
            tree.items()}

  a, b = shapes(outputs), shapes(outputs + 1)
  heads = tuple(sorted(name for name in a if a[name] != b[name]))
  if not heads:
    raise ValueError("no parameter depends on the number of outputs; cannot find the head")
  return heads


def transplant_backbone(source, target, heads: Sequence[str]):
  """`target` with every top-level module except `heads` copied from `source`."""
  inner = dict(flax.core.unfreeze(target["params"]))
  for name, value in source["params"].items():
    if name not in heads:
      inner[name] = value
  return {**target, "params": inner}


def linear_probe(params, apply_fn, train: Split, *, heads: Sequence[str], key: jax.Array,
                 epochs: int, batch_size: int, learning_rate: float,
                 log_fn: Callable[[int, dict[str, float]], None] | None = None):
  """Trains only the modules `heads` of `params` (Adam, cosine; the other modules' updates
  are set to zero) on `train` through the supervised pipeline (`fit_classifier`)."""
  labels = {**params, "params": {name: jax.tree_util.tree_map(
      lambda _, trainable=(name in heads): "train" if trainable else "freeze", value)
      for name, value in params["params"].items()}}
  total = max(1, (len(train) // batch_size) * epochs)
  tx = optax.multi_transform(
      {"train": optax.adam(optax.cosine_decay_schedule(learning_rate, total)),
       "freeze": optax.set_to_zero()}, labels)
  fit = fit_classifier(params, apply_fn, tx, train, key=key, num_epochs=epochs,
                       batch_size=batch_size, log_fn=log_fn)
  return fit.params, fit.history


def shared_start(build_model: Callable[[int], Any], train: Split, labeled: Split, *,
                 num_classes: int, source_task: str, key: jax.Array, pretrain: Hyperparameters,
                 probe_epochs: int, probe_lr: float, batch_size: int, pad: int):
  """The shared start theta_0 of all ingredients.

  Args:
    build_model: `outputs -> flax module`.
    train: all training images (their labels define the source task).
    labeled: the labelled target-task training split (probe and fine-tunes).
    num_classes: classes of the target task.
    source_task: 'half', 'parity' (see `source_labels`) or 'none' (random backbone).
    key: initialisation and probe shuffling.
    pretrain: the pre-training recipe (heavy augmentation is typical).
    probe_epochs, probe_lr, batch_size: the linear probe.
    pad: largest shift of any recipe (compiled padding).

  Returns:
    `(params, info)` with `info` the source and probe accuracies on their training data.
  """
  if source_task not in SOURCE_TASKS:
    raise ValueError(f"source_task must be one of {SOURCE_TASKS}, got {source_task!r}")
  k_src, k_tgt, k_probe = jax.random.split(key, 3)
  target = build_model(num_classes)
  params = models.init(target, k_tgt, labeled.x[:1])
  heads = output_modules(build_model, labeled.x[:1], num_classes)
  info: dict[str, float] = {}
  if source_task != "none":
    keep, y_src, n_src = source_labels(train.y, num_classes, source_task)
    src_split = Split(train.x[keep], y_src)
    src_model = build_model(n_src)
    src_params = models.init(src_model, k_src, src_split.x[:1])
    src_params, hist = make_finetune(src_model.apply, pad=pad)(src_params, pretrain, src_split,
                                                               batch_size)
    info["source_train_loss"] = hist[-1]["train_loss"]
    info["source_train_accuracy"] = hist[-1]["train_accuracy"]
    params = transplant_backbone(src_params, params, heads)
  params, hist = linear_probe(params, target.apply, labeled, heads=heads, key=k_probe,
                              epochs=probe_epochs,
                              batch_size=batch_size, learning_rate=probe_lr)
  info["probe_train_accuracy"] = hist[-1]["train_accuracy"]
  return jax.device_get(params), info


class IngredientStore(collections.abc.Sequence):
  """K ingredient checkpoints in `directory` (`ingredient_000`, ...), read lazily.

  `store[k]` restores ingredient k's parameters from its orbax checkpoint, so a soup that
  indexes block by block keeps only that block resident; `metadata(k)` returns what was saved
  with it (hyperparameters, val accuracy). A checkpoint directory appears only when complete,
  so `exists(k)` after an interruption means ingredient k is finished.

  Args:
    directory: where the checkpoints live.
    like: a parameter pytree (or `ShapeDtypeStruct`s) fixing structure, shapes and dtypes.
    size: K.
  """

  def __init__(self, directory: str, like: Any, size: int):
    self.directory = os.path.abspath(directory)
    self.like = like
    self.size = int(size)
    self.loads = 0

  def path(self, k: int) -> str:
    return os.path.join(self.directory, f"ingredient_{k:03d}")

  def exists(self, k: int) -> bool:
    return os.path.isdir(self.path(k))

  def save(self, k: int, params: Any, metadata: dict[str, Any]) -> None:
    self._check(k)
    ckpt_lib.save_pytree(self.path(k), jax.device_get(params), metadata=dict(metadata),
                         force=True)

  def metadata(self, k: int) -> dict[str, Any]:
    self._check(k)
    return ckpt_lib.restore_metadata(self.path(k))

  def __len__(self) -> int:
    return self.size

  def __getitem__(self, k):
    if not isinstance(k, (int, np.integer)):
      raise TypeError(f"IngredientStore indices are ints, got {type(k).__name__}")
    self._check(int(k))
    self.loads += 1
    return ckpt_lib.restore_pytree(self.path(int(k)), like=self.like)

  def _check(self, k: int) -> None:
    if not 0 <= k < self.size:
      raise IndexError(f"ingredient {k} out of range [0, {self.size})")


def take_labeled(train: Split, fraction: float, *, seed: int) -> Split:
  """A seeded, stratified `fraction` of `train` (all of it if `fraction` is 1)."""
  if fraction >= 1.0:
    return train
  return holdout(train.x, train.y, fraction, seed=seed)[1]


def val_accuracies(store: Sequence[Any]) -> list[float]:
  """The 'val_acc' saved with every ingredient of an `IngredientStore`."""
  return [float(store.metadata(k)["val_acc"]) for k in range(len(store))]
