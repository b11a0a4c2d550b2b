"""The synthetic task of the shallow-Transformer study (arXiv 2311.01575):

  x, y = sequences(jax.random.key(0), 20, 4, 16)   # x (20, 4, 16) N(0, 1) tokens, y (20,) +-1
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sequences(key: jax.Array, n: int, seq_len: int, dim: int) -> tuple[jax.Array, jax.Array]:
  """`n` float64 sequences `(n, d_s, d)` with N(0, 1) entries and random labels `(n,)` +-1
  (needs float64 enabled, e.g. `jax.enable_x64(True)`)."""
  kx, ky = jax.random.split(key)
  x = jax.random.normal(kx, (n, seq_len, dim), jnp.float64)
  y = jnp.where(jax.random.bernoulli(ky, 0.5, (n,)), 1.0, -1.0)
  return x, y
