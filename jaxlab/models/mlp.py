"""Multi-layer perceptron classifier/regressor (Flax linen)."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
  """x `(N, ...)` -> flatten -> [Dense(h) -> activation] for h in `hidden` -> Dense(outputs).

  Attributes:
    hidden: widths of the hidden layers.
    outputs: number of outputs (classes, or 1 for scalar regression).
    activation: elementwise nonlinearity.
  """

  hidden: Sequence[int]
  outputs: int
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = jnp.reshape(x, (x.shape[0], -1))
    for h in self.hidden:
      x = self.activation(nn.Dense(h)(x))
    return nn.Dense(self.outputs)(x)
