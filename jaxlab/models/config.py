"""The model part of an experiment's config: one of the shared image / feature classifiers.

  model = ModelConfig(name="vit", width=64, depth=2, patch_size=2)
  check_inputs(model, (8, 8, 1))            # ConfigError unless the inputs fit the model
  net = build(model, outputs=10)            # a Flax module

In a study's config it is the field `model`, so `--model=cnn` (the short form of
`--model.name`) and `--width=64` select it on the command line.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from jaxlab.experiment.config import require, require_choice
from jaxlab.models import MODELS
from jaxlab.models import build as build_model


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """A classifier from the knobs the shared models have in common.

  Attributes:
    name: mlp, cnn or vit.
    width: hidden width (mlp, cnn dense layer) or token width (vit).
    depth: hidden layers (mlp), conv layers (cnn) or encoder blocks (vit).
    patch_size: vit patch side.
    num_heads: vit attention heads.
  """

  name: str = "mlp"
  width: int = 256
  depth: int = 2
  patch_size: int = 2
  num_heads: int = 4

  def __post_init__(self):
    require_choice(self.name, "name", MODELS)
    for field in ("width", "depth", "patch_size", "num_heads"):
      require(getattr(self, field) >= 1, field, f"must be >= 1, got {getattr(self, field)}")
    require(self.name != "vit" or self.width % self.num_heads == 0, "num_heads",
            f"must divide width ({self.width}), got {self.num_heads}")


def build(config: ModelConfig, outputs: int):
  """The Flax module of `config` with `outputs` classes."""
  return build_model(config.name, outputs=outputs, width=config.width, depth=config.depth,
                     patch_size=config.patch_size, num_heads=config.num_heads)


def check_inputs(config: ModelConfig, input_shape: Sequence[int], *, field: str = "model",
                 dataset: str = "the dataset") -> None:
  """Raises `ConfigError` (on `<field>.name` or `<field>.patch_size`) unless inputs of shape
  `input_shape` (one example) fit the model: cnn and vit need images (H, W, C), and a vit's
  patch side divides the image sides."""
  require(config.name == "mlp" or len(input_shape) == 3, f"{field}.name",
          f"{config.name} needs images (N, H, W, C); {dataset} has inputs "
          f"{tuple(input_shape)}; use --{field}=mlp")
  if config.name == "vit":
    h, w = input_shape[:2]
    require(h % config.patch_size == 0 and w % config.patch_size == 0, f"{field}.patch_size",
            f"must divide the image sides {h}x{w}, got {config.patch_size}")
