"""Flax linen models: `MLP`, `CNN`, `ViT`, `PreActResNet`, `WideResNet`, and `build` for the
experiments' uniform knobs.

  from jaxlab import models
  model = models.build("vit", outputs=10, width=64, depth=2, patch_size=2)
  params = models.init(model, jax.random.key(0), x[:1])
  logits = model.apply(params, x)                   # (N, 10)
  model = models.build("preact_resnet", outputs=10, width=64, depth=18,
                       normalization="cifar10")     # PreActResNet-18, BatchNorm
  variables = models.init(model, jax.random.key(0), x[:1])   # {"params", "batch_stats"}

The ResNets hold BatchNorm statistics: `models.model_state` splits their variables and runs
them in train mode (`train_apply`).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxlab.models.cnn import CNN
from jaxlab.models.mlp import MLP
from jaxlab.models.normalization import statistics as normalization_statistics
from jaxlab.models import preact_resnet as preact_resnet_lib
from jaxlab.models import wide_resnet as wide_resnet_lib
from jaxlab.models.preact_resnet import PreActResNet
from jaxlab.models.vit import ViT
from jaxlab.models.wide_resnet import WideResNet

MODELS = ("mlp", "cnn", "vit", "preact_resnet", "wide_resnet")


def build(name: str, *, outputs: int, width: int = 256, depth: int = 2, patch_size: int = 2,
          num_heads: int = 4, normalization: str = "none"):
  """A model from the knobs shared by all experiments.

  Args:
    name: 'mlp' (`depth` hidden layers of `width`), 'cnn' (`depth` conv layers with
      `width/2^(depth-1) ... width` channels, then a dense layer of `width`), 'vit'
      (`depth` blocks of `width`, patches of `patch_size`, `num_heads` heads),
      'preact_resnet' (PreActResNet-`depth`, `width` base channels: 18 and 64 is
      PreActResNet-18) or 'wide_resnet' (WRN-`depth`-`width`: 34 and 10 is WRN-34-10).
    outputs: number of classes.
    normalization: the ResNets' first-layer per-dataset normalisation ('none', 'cifar10',
      ...; `normalization.STATISTICS`); the other models take no normalisation.
  """
  normalization_statistics(normalization)  # a clear error for an unknown name
  if normalization != "none" and name not in ("preact_resnet", "wide_resnet"):
    raise ValueError(f"normalization={normalization!r} is only built into preact_resnet and "
                     f"wide_resnet, not {name!r}")
  if name == "preact_resnet":
    return preact_resnet_lib.preact_resnet(depth, width=width, num_classes=outputs, normalization=normalization)
  if name == "wide_resnet":
    return wide_resnet_lib.wide_resnet(depth, widen=width, num_classes=outputs, normalization=normalization)
  if name == "mlp":
    return MLP(hidden=(width,) * depth, outputs=outputs)
  if name == "cnn":
    channels = tuple(max(1, width // 2 ** (depth - 1 - i)) for i in range(depth))
    return CNN(channels=channels, dense=width, outputs=outputs)
  if name == "vit":
    if width % num_heads:
      raise ValueError(f"width ({width}) must be divisible by num_heads ({num_heads})")
    return ViT(patch_size=patch_size, width=width, depth=depth, num_heads=num_heads,
               outputs=outputs)
  raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")


def init(model, key: jax.Array, x: Any):
  """Parameters of `model` for inputs like `x` (only its shape and dtype are used)."""
  return jax.jit(model.init)(key, x)


def num_params(params) -> int:
  """Total number of scalars in a parameter pytree."""
  return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


__all__ = ["CNN", "MLP", "MODELS", "PreActResNet", "ViT", "WideResNet", "build", "init",
           "num_params"]
