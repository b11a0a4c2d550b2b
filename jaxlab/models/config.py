"""The model part of an experiment's config: one of the shared image / feature classifiers.

  model = ModelConfig(name="vit", width=64, depth=2, patch_size=2)
  model = ModelConfig(name="preact_resnet", width=64, depth=18, normalization="cifar10")
  check_inputs(model, (8, 8, 1))            # ConfigError unless the inputs fit the model
  net = build(model, outputs=10)            # a Flax module

In a study's config it is the field `model`, so `--model=cnn` (the short form of
`--model.name`) and `--width=64` select it on the command line.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from jaxlab.experiment.config import ConfigError, require, require_choice
from jaxlab.models import MODELS
from jaxlab.models import build as build_model
from jaxlab.models import normalization as normalization_lib
from jaxlab.models.preact_resnet import blocks_for_depth

RESNETS = ("preact_resnet", "wide_resnet")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """A classifier from the knobs the shared models have in common.

  Attributes:
    name: mlp, cnn, vit, preact_resnet or wide_resnet.
    width: hidden width (mlp, cnn dense layer), token width (vit), base channels
      (preact_resnet: 64 in PreActResNet-18) or widening factor (wide_resnet: 10 in WRN-34-10).
    depth: hidden layers (mlp), conv layers (cnn), encoder blocks (vit) or the ResNet's depth
      (preact_resnet: 18, 34 or 2 + 8 b; wide_resnet: 6 n + 4).
    patch_size: vit patch side.
    num_heads: vit attention heads.
    normalization: the ResNets' first layer: none, or the channel statistics of a dataset
      (cifar10, cifar100, svhn), so that inputs and attack radii stay in [0, 1] pixels.
  """

  name: str = "mlp"
  width: int = 256
  depth: int = 2
  patch_size: int = 2
  num_heads: int = 4
  normalization: str = "none"

  def __post_init__(self):
    require_choice(self.name, "name", MODELS)
    for field in ("width", "depth", "patch_size", "num_heads"):
      require(getattr(self, field) >= 1, field, f"must be >= 1, got {getattr(self, field)}")
    require(self.name != "vit" or self.width % self.num_heads == 0, "num_heads",
            f"must divide width ({self.width}), got {self.num_heads}")
    require_choice(self.normalization, "normalization", normalization_lib.NAMES)
    require(self.normalization == "none" or self.name in RESNETS, "normalization",
            f"only {' and '.join(RESNETS)} take a normalization layer, not {self.name}")
    if self.name == "preact_resnet":
      try:
        blocks_for_depth(self.depth)
      except ValueError as e:
        raise ConfigError("depth", str(e)) from None
    require(self.name != "wide_resnet" or (self.depth >= 10 and (self.depth - 4) % 6 == 0),
            "depth", f"WideResNet depth must be 6 n + 4 with n >= 1, got {self.depth}")


def build(config: ModelConfig, outputs: int):
  """The Flax module of `config` with `outputs` classes."""
  return build_model(config.name, outputs=outputs, width=config.width, depth=config.depth,
                     patch_size=config.patch_size, num_heads=config.num_heads,
                     normalization=config.normalization)


def check_inputs(config: ModelConfig, input_shape: Sequence[int], *, field: str = "model",
                 dataset: str = "the dataset") -> None:
  """Raises `ConfigError` (on `<field>.name`, `<field>.patch_size` or
  `<field>.normalization`) unless inputs of shape `input_shape` (one example) fit the model:
  cnn, vit and the ResNets need images (H, W, C), a vit's patch side divides the image sides,
  and a normalisation layer has one value per channel."""
  require(config.name == "mlp" or len(input_shape) == 3, f"{field}.name",
          f"{config.name} needs images (N, H, W, C); {dataset} has inputs "
          f"{tuple(input_shape)}; use --{field}=mlp")
  if config.normalization != "none":
    mean, _ = normalization_lib.statistics(config.normalization)
    require(len(mean) in (1, input_shape[-1]), f"{field}.normalization",
            f"{config.normalization} has {len(mean)} channel statistics; {dataset} has "
            f"{input_shape[-1]} channels")
  if config.name == "vit":
    h, w = input_shape[:2]
    require(h % config.patch_size == 0 and w % config.patch_size == 0, f"{field}.patch_size",
            f"must divide the image sides {h}x{w}, got {config.patch_size}")
