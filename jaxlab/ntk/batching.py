"""Tiled evaluation of kernel functions: an N1 x N2 kernel from batch_size x batch_size tiles.

  ntk_fn = jax.jit(empirical_ntk_fn(f, vmap_axes=0))
  batched = batch(ntk_fn, batch_size=64)
  batched(x1, None, params)          # (N1, N1), only two 64-row Jacobians alive at a time

Works for every kernel function whose outputs start with the two batch axes `(N1, N2, ...)`:
empirical `ntk_fn` / `nngp_fn` / `kernel_fn` (unless the batch axis is traced or diagonal)
and `stax` `kernel_fn(x1, x2, get)` with `get` given. Inputs that are not a multiple of
`batch_size` are padded by repeating their last row; the padding is cut from the result.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
from jax import tree_util


def _batch_size_of(x) -> int:
  sizes = {leaf.shape[0] for leaf in tree_util.tree_leaves(x)}
  if len(sizes) != 1:
    raise ValueError(f"batch: all input leaves need the same leading batch size, got "
                     f"{sorted(sizes)}")
  return sizes.pop()


def _tiles(x, n: int, batch_size: int):
  """Row tiles of `x` (leading axis `n`), the last padded by repeating the last row."""
  pad = -n % batch_size

  def padded(a):
    if not pad:
      return a
    return jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0)

  x = tree_util.tree_map(padded, x)
  return [tree_util.tree_map(lambda a, i=i: a[i:i + batch_size], x)
          for i in range(0, n + pad, batch_size)]


def batch(kernel_fn: Callable, batch_size: int) -> Callable:
  """Returns `batched(x1, x2=None, *args, **kwargs)`, equal to `kernel_fn(x1, x2, ...)`
  evaluated tile by tile (neural-tangents' `nt.batch`, single device).

  Args:
    kernel_fn: `kernel_fn(x1, x2, *args, **kwargs)` returning an array or a pytree of arrays
      of shape `(N1, N2, ...)`. Jit it first: every tile has the same shape, so it compiles
      once.
    batch_size: tile size along the batch axes of `x1` and `x2`.
  """
  if not isinstance(batch_size, int) or batch_size < 1:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

  def batched(x1, x2=None, *args, **kwargs):
    n1 = _batch_size_of(x1)
    n2 = n1 if x2 is None else _batch_size_of(x2)
    tile = (min(batch_size, n1), min(batch_size, n2))
    tiles1 = _tiles(x1, n1, tile[0])
    tiles2 = tiles1 if x2 is None else _tiles(x2, n2, tile[1])
    rows = []
    for t1 in tiles1:
      row = []
      for t2 in tiles2:
        out = kernel_fn(t1, t2, *args, **kwargs)
        for leaf in tree_util.tree_leaves(out):
          if leaf.shape[:2] != tile:
            raise ValueError(
                f"batch needs kernels whose two leading axes are the batch axes of x1 and x2 "
                f"{tile}, got an output of shape {leaf.shape}; a batch axis in trace_axes or "
                f"diagonal_axes, or get=None (cov1, cov2), cannot be tiled")
        row.append(out)
      rows.append(tree_util.tree_map(lambda *b: jnp.concatenate(b, axis=1), *row))
    out = tree_util.tree_map(lambda *b: jnp.concatenate(b, axis=0), *rows)
    return tree_util.tree_map(lambda a: a[:n1, :n2], out)

  return batched

