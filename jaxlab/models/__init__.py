"""Flax linen models: `MLP`, `CNN`, `ViT`, and `build` for the experiments' uniform knobs.

  from jaxlab import models
  model = models.build("vit", outputs=10, width=64, depth=2, patch_size=2)
  params = models.init(model, jax.random.key(0), x[:1])
  logits = model.apply(params, x)                   # (N, 10)
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxlab.models.cnn import CNN
from jaxlab.models.mlp import MLP
from jaxlab.models.vit import ViT

MODELS = ("mlp", "cnn", "vit")


def build(name: str, *, outputs: int, width: int = 256, depth: int = 2, patch_size: int = 2,
          num_heads: int = 4):
  """A model from the knobs shared by all experiments.

  Args:
    name: 'mlp' (`depth` hidden layers of `width`), 'cnn' (`depth` conv layers with
      `width/2^(depth-1) ... width` channels, then a dense layer of `width`) or 'vit'
      (`depth` blocks of `width`, patches of `patch_size`, `num_heads` heads).
    outputs: number of classes.
  """
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


__all__ = ["CNN", "MLP", "MODELS", "ViT", "build", "init", "num_params"]
