"""Victim classifiers: a character-level model trained on texts through the supervised pipeline,
saved with orbax in a `Workdir`, restored, and exposed as a batched black-box `score_fn`.

  config = VictimConfig(model="cnn", num_epochs=8)
  victim, results = train(config, data.load("tweets"), Workdir("/tmp/victims/cnn"), seed=0)
  results["test_acc"]                         # about 0.84
  score_fn = make_score_fn(victim)            # list[str] -> logits (N, 2) numpy float32
  score_fn(["what a lovely flight", "lost my bag again"])      # (2, 2)
  victim, results = load("/tmp/victims/cnn")  # the same victim, later

`VictimConfig` is what a user chooses (a study's flag group, e.g. `--cnn.filters=32`); what a
trained victim came from (its seed, the data's summary, a fine-tuning's origin) is its
provenance, recorded beside it. A victim directory holds config.json (`{"victim": the config,
"num_classes", "seed", "provenance"}`, checked on resume), metrics.jsonl (one line per epoch),
results.json (val/test accuracy, with the seed and provenance), params/ (orbax), checkpoints/
(per epoch, for resuming training) and plots/curves.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import numpy as np
from absl import logging

from jaxlab.data.dataset import Dataset, Split
from jaxlab.experiment import config as config_lib
from jaxlab.experiment.config import require, require_choice
from jaxlab.experiment.workdir import Workdir, to_jsonable
from jaxlab.text import models
from jaxlab.text.vocab import BUCKETS, CharVocab
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import optim
from jaxlab.training.supervised import PARAMS, fit_classifier

VOCAB = CharVocab()  # printable ASCII with an OOV id, padded to the length buckets


@dataclasses.dataclass(frozen=True)
class VictimConfig:
  """A character-level victim: its model and how it is trained.

  Attributes:
    model: cnn (`CharCNN`) or transformer (`CharTransformer`).
    embed_dim: CharCNN character embedding width.
    filters: CharCNN filters per kernel size (3, 5, 7).
    hidden: CharCNN hidden dense width.
    width: CharTransformer token width.
    depth: CharTransformer encoder blocks.
    num_heads: CharTransformer attention heads.
    patch_size: characters per CharTransformer token.
    optim: the optimiser and its schedule (the victims use adamw, cosine decay).
    num_epochs: training epochs.
    batch_size: training batch size.
  """

  model: str = "cnn"
  embed_dim: int = 32
  filters: int = 64
  hidden: int = 128
  width: int = 64
  depth: int = 2
  num_heads: int = 4
  patch_size: int = 4
  optim: optim.OptimConfig = optim.OptimConfig(
      optimizer="adamw", learning_rate=2e-3, schedule="cosine", weight_decay=1e-2)
  num_epochs: int = 8
  batch_size: int = 64

  def __post_init__(self):
    require_choice(self.model, "model", models.MODELS)
    for name in ("embed_dim", "filters", "hidden", "width", "depth", "num_heads", "patch_size",
                 "num_epochs", "batch_size"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    if self.model == "transformer":
      require(self.width % self.num_heads == 0, "num_heads",
              f"must divide width ({self.width}), got {self.num_heads}")
      require(all(b % self.patch_size == 0 for b in BUCKETS), "patch_size",
              f"must divide the length buckets {BUCKETS}, got {self.patch_size}")

  def build(self, num_classes: int):
    """The Flax module of this victim with `num_classes` outputs."""
    return models.build(self.model, outputs=num_classes, vocab_size=VOCAB.size,
                        embed_dim=self.embed_dim, filters=self.filters, hidden=self.hidden,
                        width=self.width, depth=self.depth, num_heads=self.num_heads,
                        patch_size=self.patch_size, max_len=VOCAB.max_len)


class Victim(NamedTuple):
  """A classifier of texts: `model.apply(params, vocab.encode(texts))` are its logits
  `(N, num_classes)`."""

  config: VictimConfig
  num_classes: int
  model: Any
  params: Any

  @property
  def vocab(self) -> CharVocab:
    return VOCAB


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
    out = np.zeros((len(texts), victim.num_classes), np.float32)
    for chunk, logits in pending:
      out[chunk] = np.asarray(logits)[:len(chunk)]
    return out

  score_fn.apply = apply  # the jitted model (e.g. to inspect what it has compiled)
  return score_fn


def init(config: VictimConfig, num_classes: int, key: jax.Array) -> Victim:
  """An untrained victim: the config's model with freshly initialised parameters."""
  model = config.build(num_classes)
  params = models.init(model, key, np.zeros((1, VOCAB.buckets[0]), np.int32))
  return Victim(config, num_classes, model, params)


def _with_extra(train: Split, extra: tuple[Sequence[str], Sequence[int]] | None) -> Split:
  """`train` with the texts and labels of `extra` appended."""
  if extra is None:
    return train
  texts, labels = extra
  return Split(np.concatenate([train.x, np.array(list(texts), dtype=object)]),
               np.concatenate([train.y, np.asarray(labels, train.y.dtype)]))


def train(config: VictimConfig, ds: Dataset, workdir: Workdir, *, seed: int,
          extra_train: tuple[Sequence[str], Sequence[int]] | None = None,
          init_params: Any = None, provenance: Mapping[str, Any] | None = None
          ) -> tuple[Victim, dict[str, Any]]:
  """Trains the victim on `ds.train` (plus `extra_train`) with
  `jaxlab.training.supervised.fit_classifier`, selects nothing on test, and saves it in
  `workdir` (resuming an interrupted training from its per-epoch checkpoints).

  Args:
    config: the victim.
    ds: a text dataset (`x` object arrays of str).
    workdir: the victim's directory; on resume its stored record must equal this one.
    seed: initialisation and shuffling seed (`key(seed)` split into init and train keys).
    extra_train: more training examples (texts, labels), e.g. adversarial ones.
    init_params: start from these parameters (fine-tuning) instead of a fresh initialisation.
    provenance: what else the victim came from (e.g. `{"finetuned_from": "cnn", ...}`); the
      data's summary is always recorded.

  Returns:
    The victim and its results (val_acc, test_acc, val_loss, test_loss, num_params,
    train_examples, seed, provenance, wall_s).

  Raises:
    ValueError: `config.batch_size` exceeds the training examples.
  """
  t0 = time.perf_counter()
  provenance = to_jsonable({"data": ds.summary(), **(provenance or {})})
  workdir.write_config({"victim": config_lib.to_dict(config), "num_classes": ds.num_classes,
                        "seed": seed, "provenance": provenance})
  key = jax.random.key(seed)
  init_key, train_key = jax.random.split(key)
  del key
  victim = init(config, ds.num_classes, init_key)
  params = victim.params if init_params is None else init_params
  train_split = _with_extra(ds.train, extra_train)
  steps_per_epoch = len(train_split) // config.batch_size
  if steps_per_epoch < 1:
    raise ValueError(f"batch_size {config.batch_size} exceeds the {len(train_split)} training "
                     "examples")
  tx = optim.from_config(config.optim, steps_per_epoch * config.num_epochs)
  fit = fit_classifier(params, victim.model.apply, tx, train_split, key=train_key,
                       num_epochs=config.num_epochs, batch_size=config.batch_size,
                       val=ds.val, test=ds.test, encode=VOCAB.encode, workdir=workdir)
  results = {"val_acc": fit.val["acc"], "test_acc": fit.test["acc"],
             "val_loss": fit.val["loss"], "test_loss": fit.test["loss"],
             "num_params": models.num_params(fit.params), "train_examples": len(train_split),
             "seed": seed, "provenance": provenance, "wall_s": time.perf_counter() - t0}
  workdir.write_results(results)
  logging.info("victim %s: test_acc=%.4f val_acc=%.4f (%.0fs)", config.model,
               results["test_acc"], results["val_acc"], results["wall_s"])
  return victim._replace(params=fit.params), results


def is_trained(path: str) -> bool:
  """Whether `path` holds a finished victim (results and parameters saved)."""
  return (os.path.isfile(os.path.join(path, "results.json"))
          and os.path.isdir(os.path.join(path, PARAMS)))


def load(path: str) -> tuple[Victim, dict[str, Any]]:
  """The victim saved in `path` by `train`, and its results (with its seed and provenance)."""
  if not is_trained(path):
    raise FileNotFoundError(f"no trained victim in {path} (expected results.json and {PARAMS}/)")
  wd = Workdir(path, resume=True)
  record = wd.read_config()["config"]
  if "victim" not in record:
    raise ValueError(f"{path} holds a victim saved by an older jaxlab (no 'victim' config in "
                     "its config.json); train it again")
  config = config_lib.from_dict(VictimConfig, record["victim"])
  victim = init(config, record["num_classes"], jax.random.key(0))
  params = ckpt_lib.restore_pytree(os.path.join(path, PARAMS), like=victim.params)
  return victim._replace(params=params), wd.read_results()
