"""Victim classifiers: a character-level model, its vocabulary and parameters, trained on texts,
saved with orbax in a `Workdir`, restored, and exposed as a batched black-box `score_fn`.

  spec = VictimSpec(model="cnn", num_epochs=8)
  victim, results = train(spec, data.load("tweets"), Workdir("/tmp/victims/cnn"))
  results["test_acc"]                         # about 0.84
  score_fn = make_score_fn(victim)            # list[str] -> logits (N, 2) numpy float32
  score_fn(["what a lovely flight", "lost my bag again"])      # (2, 2)
  victim, results = load("/tmp/victims/cnn")  # the same victim, later

A victim directory holds config.json (the spec), metrics.jsonl (one line per epoch), results.json
(val/test accuracy), params/ (orbax) and checkpoints/ (per-epoch, for resuming training).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np
from absl import logging

from jaxlab.data.dataset import Dataset, Split
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import classifier, loop, optim, steps
from jaxlab.text import models
from jaxlab.text.vocab import BUCKETS, PRINTABLE, CharVocab
from jaxlab.workdir import Workdir, to_jsonable

PARAMS = "params"


@dataclasses.dataclass(frozen=True)
class VictimSpec:
  """Everything that defines a trained victim (stored as its config.json).

  Attributes:
    model: 'cnn' or 'transformer' (`jaxlab.text.models.build`).
    num_classes: number of classes.
    embed_dim, filters, hidden: CharCNN knobs.
    width, depth, num_heads, patch_size: CharTransformer knobs.
    chars, buckets: the `CharVocab`.
    optimizer, learning_rate, weight_decay, num_epochs, batch_size: training (cosine schedule).
    seed: initialisation and shuffling seed.
    data: the dataset's provenance (`Dataset.summary()`), to refuse a victim trained on other
      data.
  """

  model: str = "cnn"
  num_classes: int = 2
  embed_dim: int = 32
  filters: int = 64
  hidden: int = 128
  width: int = 64
  depth: int = 2
  num_heads: int = 4
  patch_size: int = 4
  chars: str = PRINTABLE
  buckets: tuple[int, ...] = BUCKETS
  optimizer: str = "adamw"
  learning_rate: float = 2e-3
  weight_decay: float = 1e-2
  num_epochs: int = 8
  batch_size: int = 64
  seed: int = 0
  data: dict[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):  # normalised as stored in config.json, so a loaded spec is equal
    object.__setattr__(self, "buckets", tuple(self.buckets))
    object.__setattr__(self, "data", to_jsonable(self.data))

  @property
  def vocab(self) -> CharVocab:
    return CharVocab(self.chars, self.buckets)

  def build(self):
    return models.build(self.model, outputs=self.num_classes, vocab_size=self.vocab.size,
                        embed_dim=self.embed_dim, filters=self.filters, hidden=self.hidden,
                        width=self.width, depth=self.depth, num_heads=self.num_heads,
                        patch_size=self.patch_size, max_len=self.vocab.max_len)

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


class Victim(NamedTuple):
  """A trained classifier: `model.apply(params, vocab.encode(texts))` are its logits."""

  spec: VictimSpec
  model: Any
  params: Any

  @property
  def vocab(self) -> CharVocab:
    return self.spec.vocab


def make_score_fn(victim: Victim, batch_size: int = 1024,
                  min_batch: int = 16) -> Callable[[Sequence[str]], np.ndarray]:
  """The victim as a batched black box: `score_fn(list[str]) -> logits (N, C)` numpy.

  Texts are grouped by length bucket and each group is cut into chunks whose sizes are powers of
  two between `min_batch` and `batch_size` (e.g. 540 rows: 512 + 16 + 12 padded to 16), so the
  jitted model compiles once per (bucket, chunk size) pair, never per call, and pads little.
  """
  if batch_size < 1 or min_batch < 1 or batch_size & (batch_size - 1) or min_batch & (
      min_batch - 1):
    raise ValueError(f"batch_size and min_batch must be powers of two, got {batch_size}, "
                     f"{min_batch}")
  apply = jax.jit(victim.model.apply)
  vocab = victim.vocab

  def chunks(rows: np.ndarray):
    start = 0
    while start < len(rows):
      left = len(rows) - start
      size = min(batch_size, max(min_batch, 1 << (left.bit_length() - 1)))
      yield rows[start:start + size], size
      start += size

  def score_fn(texts: Sequence[str]) -> np.ndarray:
    texts = list(texts)
    buckets = np.array([vocab.bucket(len(t)) for t in texts], np.int64)
    pending = []
    for b in np.unique(buckets):
      for chunk, size in chunks(np.flatnonzero(buckets == b)):
        ids = np.zeros((size, int(b)), np.int32)
        ids[:len(chunk)] = vocab.encode([texts[i] for i in chunk], int(b))
        pending.append((chunk, apply(victim.params, ids)))  # dispatched asynchronously
    out = np.zeros((len(texts), victim.spec.num_classes), np.float32)
    for chunk, logits in pending:
      out[chunk] = np.asarray(logits)[:len(chunk)]
    return out

  score_fn.apply = apply  # the jitted model (e.g. to inspect what it has compiled)
  return score_fn


def init(spec: VictimSpec, key: jax.Array) -> Victim:
  """An untrained victim: the spec's model with freshly initialised parameters."""
  model = spec.build()
  return Victim(spec, model, models.init(model, key, np.zeros((1, spec.buckets[0]), np.int32)))


def train(spec: VictimSpec, ds: Dataset, workdir: Workdir, *,
          extra_train: tuple[Sequence[str], Sequence[int]] | None = None,
          init_params: Any = None) -> tuple[Victim, dict[str, Any]]:
  """Trains the victim on `ds.train` (plus `extra_train` texts and labels, e.g. adversarial
  examples), selects nothing on test, and saves it in `workdir` (resuming an interrupted
  training from its per-epoch checkpoints).

  Args:
    spec: the victim.
    ds: a text dataset (`x` object arrays of str).
    workdir: the victim's directory; its config must be new or equal `spec` (on resume).
    extra_train: more training examples, appended to `ds.train`.
    init_params: start from these parameters (fine-tuning) instead of a fresh initialisation.

  Returns:
    The victim and its results (val_acc, test_acc, val_loss, test_loss, num_params, wall_s).
  """
  t0 = time.perf_counter()
  workdir.write_config(spec.to_json())
  vocab = spec.vocab
  key = jax.random.key(spec.seed)
  init_key, train_key = jax.random.split(key)
  del key
  model, params = init(spec, init_key)[1:]
  if init_params is not None:
    params = init_params
  train_split = ds.train
  if extra_train is not None:
    texts, labels = extra_train
    train_split = Split(
        np.concatenate([ds.train.x, np.array(list(texts), dtype=object)]),
        np.concatenate([ds.train.y, np.asarray(labels, ds.train.y.dtype)]))
  steps_per_epoch = len(train_split) // spec.batch_size
  if steps_per_epoch < 1:
    raise ValueError(f"batch_size {spec.batch_size} exceeds the {len(train_split)} training "
                     "examples")
  schedule = optim.make_schedule("cosine", spec.learning_rate, steps_per_epoch * spec.num_epochs)
  tx = optim.make_optimizer(spec.optimizer, schedule, weight_decay=spec.weight_decay)
  state = steps.TrainState.create(params, tx)
  train_step = steps.make_train_step(steps.classification_loss(model.apply), tx)
  eval_step = steps.make_eval_step(model.apply)

  def evaluate_fn(p):
    val = loop.evaluate(eval_step, p, ds.val, encode=vocab.encode)
    return {"val_loss": val["loss"], "val_acc": val["acc"]}

  if workdir.resumed:
    with ckpt_lib.checkpoint_manager(workdir.checkpoint_dir) as mngr:
      workdir.truncate_metrics(mngr.latest_step())
  state, _ = loop.fit(state, train_step, train_split, key=train_key,
                      num_epochs=spec.num_epochs, batch_size=spec.batch_size,
                      evaluate_fn=evaluate_fn, log_fn=workdir.log,
                      checkpoint_dir=workdir.checkpoint_dir, encode=vocab.encode)
  params = jax.device_get(state.params)
  val = loop.evaluate(eval_step, params, ds.val, encode=vocab.encode)
  test = loop.evaluate(eval_step, params, ds.test, encode=vocab.encode)
  ckpt_lib.save_pytree(workdir.file(PARAMS), params, force=True)
  history = workdir.read_metrics()
  results = {"val_acc": val["acc"], "test_acc": test["acc"], "val_loss": val["loss"],
             "test_loss": test["loss"], "num_params": models.num_params(params),
             "train_examples": len(train_split), "wall_s": time.perf_counter() - t0}
  workdir.write_results(results)
  if history:
    classifier.plot_curves(history, workdir)
  logging.info("victim %s: test_acc=%.4f val_acc=%.4f (%.0fs)", spec.model, test["acc"],
               val["acc"], results["wall_s"])
  return Victim(spec, model, params), results


def is_trained(path: str) -> bool:
  """Whether `path` holds a finished victim (results and parameters saved)."""
  return (os.path.isfile(os.path.join(path, "results.json"))
          and os.path.isdir(os.path.join(path, PARAMS)))


def load(path: str) -> tuple[Victim, dict[str, Any]]:
  """The victim saved in `path` by `train`, and its results."""
  if not is_trained(path):
    raise FileNotFoundError(f"no trained victim in {path} (expected results.json and {PARAMS}/)")
  wd = Workdir(path, resume=True)
  spec = VictimSpec(**wd.read_config()["config"])
  _, model, like = init(spec, jax.random.key(0))
  params = ckpt_lib.restore_pytree(wd.file(PARAMS), like=like)
  return Victim(spec, model, params), wd.read_results()
