"""Configs of `train_classifier`: one classifier on one dataset.

  config = default()                                # the study of train_classifier.flags
  config = dataclasses.replace(smoke(), num_epochs=3)
"""

from __future__ import annotations

import dataclasses

import jax

from jaxlab.data.config import DataConfig
from jaxlab.experiment.config import require
from jaxlab.models.config import RESNETS, ModelConfig
from jaxlab.training.optim import OptimConfig


@dataclasses.dataclass(frozen=True)
class Config:
  """Classifier training.

  Attributes:
    dataset: the data (`--dataset=digits`, `--data_dir=...`).
    model: the classifier (`--model=mlp`, `--width=256`, ...).
    optim: the optimiser and its schedule (`--learning_rate=1e-3`, ...).
    label_smoothing: label smoothing of the cross-entropy.
    num_epochs: training epochs.
    batch_size: training batch size.
    eval_batch_size: evaluation batch size.
    seed: seed of the data split, initialisation and shuffling.
    data_parallel: shard each batch over all devices (jax.sharding).
    checkpoint: save an orbax checkpoint every epoch (needed for --resume).
  """

  dataset: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  optim: OptimConfig = OptimConfig()
  label_smoothing: float = 0.0
  num_epochs: int = 20
  batch_size: int = 64
  eval_batch_size: int = 512
  seed: int = 0
  data_parallel: bool = False
  checkpoint: bool = True

  def __post_init__(self):
    require(self.dataset.name not in ("tweets", "teacher_student"), "dataset.name",
            f"{self.dataset.name!r} is not an image/feature classification set; valid here: "
            "digits, gaussian_mixture, tfds:<name>")
    require(self.model.name not in RESNETS, "model.name",
            f"{self.model.name} keeps BatchNorm statistics, which this study's training step "
            "does not update; use mlp, cnn or vit here (the elle and robust_nas studies train "
            "the ResNets)")
    for name in ("num_epochs", "batch_size", "eval_batch_size"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(0 <= self.label_smoothing < 1, "label_smoothing",
            f"must be in [0, 1), got {self.label_smoothing}")
    if self.data_parallel:
      require(self.batch_size % jax.device_count() == 0, "batch_size",
              f"must be a multiple of the {jax.device_count()} devices with data_parallel")


def default() -> Config:
  """A small ViT on digits upsampled to 16x16 (the kind of model the soup experiments use):
  patches 4x4, width 64, 2 blocks, 4 heads; AdamW 2e-3 (wd 1e-4), warm-up + cosine, 40
  epochs of batch 64."""
  return Config(
      dataset=DataConfig(name="digits", image_size=16),
      model=ModelConfig(name="vit", width=64, depth=2, patch_size=4, num_heads=4),
      optim=OptimConfig(optimizer="adamw", learning_rate=2e-3, schedule="warmup_cosine",
                        weight_decay=1e-4),
      num_epochs=40, batch_size=64)


def smoke() -> Config:
  """An MLP 2x256 on the 8x8 digits, Adam 1e-3 with cosine decay, 10 epochs: about 10 s on
  2 CPU cores."""
  return Config(dataset=DataConfig(name="digits"),
                model=ModelConfig(name="mlp", width=256, depth=2),
                optim=OptimConfig(optimizer="adam", learning_rate=1e-3, schedule="cosine"),
                num_epochs=10, batch_size=64)


def cifar10() -> Config:
  """A CNN on CIFAR-10 read with tensorflow-datasets from `--data_dir` (GPU work)."""
  return dataclasses.replace(
      default(), dataset=DataConfig(name="tfds:cifar10", data_dir="~/tensorflow_datasets"),
      model=ModelConfig(name="cnn", width=128, depth=3),
      optim=OptimConfig(optimizer="sgd", learning_rate=0.05, schedule="warmup_cosine",
                        weight_decay=5e-4),
      num_epochs=30, batch_size=128)
