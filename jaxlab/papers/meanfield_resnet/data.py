"""The synthetic regression task of the mean-field ResNet study (arXiv 2403.09889):

  x, y = sphere_data(jax.random.key(0), 16, 16)   # x (16, 16) float64 rows of unit norm, y (16,)
  target(x)                                       # y = sin(3 x_1) + x_2 x_3
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.data import synthetic


def target(x: jax.Array) -> jax.Array:
  """y = sin(3 x_1) + x_2 x_3 for `x (n, d)`, d >= 3."""
  return jnp.sin(3.0 * x[:, 0]) + x[:, 1] * x[:, 2]


def sphere_data(key: jax.Array, n: int, dim: int) -> tuple[jax.Array, jax.Array]:
  """`n` float64 inputs `(n, dim)` uniform on the unit sphere of R^dim and their targets `(n,)`
  (needs float64 enabled, e.g. `jax.enable_x64(True)`)."""
  x = synthetic.sphere(key, n, dim, dtype=jnp.float64)
  return x, target(x)
