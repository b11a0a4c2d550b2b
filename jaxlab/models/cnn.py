"""Small convolutional classifier (Flax linen), no normalisation layers."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class CNN(nn.Module):
  """x `(N, H, W, C)` -> [Conv3x3(c) -> ReLU -> AvgPool2] for c in `channels` -> Dense(dense)
  -> ReLU -> Dense(outputs).

  Pooling is skipped once the feature map is 1x1, so any input side >= 1 works.

  Attributes:
    channels: output channels of each conv layer.
    dense: width of the hidden dense layer.
    outputs: number of classes.
  """

  channels: Sequence[int] = (32, 64)
  dense: int = 128
  outputs: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for c in self.channels:
      x = nn.relu(nn.Conv(c, (3, 3))(x))
      if x.shape[1] > 1 and x.shape[2] > 1:
        with jax.numpy_dtype_promotion("standard"):  # flax divides by an int32 window size
          x = nn.avg_pool(x, (2, 2), strides=(2, 2))
    x = jnp.reshape(x, (x.shape[0], -1))
    x = nn.relu(nn.Dense(self.dense)(x))
    return nn.Dense(self.outputs)(x)
