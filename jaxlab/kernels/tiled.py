"""Kernel matrices and kernel-vector products in row tiles, sharded over a device mesh.

  k = kernel_fns.rbf(1.0)
  mesh = row_mesh()                              # every local device on one axis "rows"
  g = gram(k, x, mesh=mesh)                      # (n, n) = k(x), rows sharded over the devices
  kv = matvec(k, x, v, mesh=mesh)                # (n,) = k(x) @ v; no (n, n) matrix is formed
  f = matvec(k, x_test, alpha, x, mesh=mesh)     # (m,) = k(x_test, x) @ alpha: KRR predictions

The rows of `x1` are split evenly over the mesh's devices (`NamedSharding`, one `PartitionSpec`
entry over all the mesh's axes; `shard_map` runs one program per device); `x2` and `v` are
replicated. Each device walks its rows in tiles of `tile_size` rows (`lax.map`), so one device
holds at most `tile_size x n2` kernel values at a time in `matvec`, and its own `n1 / devices`
rows of the result in `gram`: an n x n Gram larger than one device's memory fits on a mesh.
`v` may be `(n2,)` or `(n2, o)` (several right-hand sides for the price of one kernel pass).

Each device gets ceil(n1 / devices) rows, padded to whole tiles by repeating the last row (the
padding is cut from the result); `gram` on a mesh needs n1 divisible by the device count, so
that its result is evenly row-sharded (an uneven `jax.Array` sharding does not exist). For the
Gram of `x1` with itself (`x2=None`) the diagonal tiles are
`kernel(x_tile)`, so they follow `kernel(x)`'s convention of an exactly zero self-distance:
Laplace / Matern kernels take a square root of the squared distance, whose round-off would
otherwise show on the diagonal (sqrt(eps), 3e-4 in float32).

Any jaxlab kernel `kernel(x1, x2=None) -> (n1, n2)` works (`jaxlab.kernels.kernel_fns`,
including `from_kernel_fn` around an infinite-width `jaxlab.ntk.stax` `kernel_fn`); it must be
traceable (it runs inside `lax.map` and `shard_map`). Meshes with `Auto` axes (`row_mesh`,
`jax.sharding.Mesh`) and with `Explicit` axes (`jax.make_mesh`'s default) both work.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

Kernel = Callable[..., jax.Array]

TILE_ENTRIES = 2**21  # kernel values per tile when tile_size is not given (16 MiB in float64)


def row_mesh(num_devices: Optional[int] = None, devices: Optional[Sequence] = None,
             axis_name: str = "rows") -> Mesh:
  """A one-axis mesh (`Auto` axis `axis_name`) over `devices` (default: the first
  `num_devices` of `jax.devices()`, all of them if None)."""
  if devices is None:
    devices = jax.devices()
    if num_devices is not None:
      if not isinstance(num_devices, int) or not 1 <= num_devices <= len(devices):
        raise ValueError(f"num_devices must be an int in [1, {len(devices)}] (the devices "
                         f"available), got {num_devices!r}")
      devices = devices[:num_devices]
  return Mesh(np.asarray(devices).reshape(-1), (axis_name,))


def default_tile_size(n2: int) -> int:
  """Rows per tile so that one tile holds about `TILE_ENTRIES` kernel values."""
  return max(1, TILE_ENTRIES // max(int(n2), 1))


def _check(kernel, x1, x2, v, tile_size, mesh) -> None:
  if not callable(kernel):
    raise TypeError(f"kernel must be a callable kernel(x1, x2=None) -> (n1, n2), got "
                    f"{type(kernel).__name__}")
  if jnp.ndim(x1) != 2:
    raise ValueError(f"x1: expected inputs of shape (n, d), got {jnp.shape(x1)}")
  if x2 is not None and (jnp.ndim(x2) != 2 or jnp.shape(x2)[1] != jnp.shape(x1)[1]):
    raise ValueError(f"x2: expected inputs of shape (n2, {jnp.shape(x1)[1]}), got "
                     f"{jnp.shape(x2)}")
  n2 = jnp.shape(x1 if x2 is None else x2)[0]
  if v is not None and (jnp.ndim(v) not in (1, 2) or jnp.shape(v)[0] != n2):
    raise ValueError(f"v: expected a vector ({n2},) or matrix ({n2}, o) over the {n2} "
                     f"columns of the kernel, got {jnp.shape(v)}")
  if tile_size is not None and (not isinstance(tile_size, int) or tile_size < 1):
    raise ValueError(f"tile_size must be a positive int (rows per tile), got {tile_size!r}")
  if mesh is not None:
    if not isinstance(mesh, Mesh):
      raise TypeError(f"mesh must be a jax.sharding.Mesh (e.g. tiled.row_mesh()), got "
                      f"{type(mesh).__name__}")
    if len(set(mesh.axis_types)) != 1:
      raise ValueError(f"mesh: axes must be all Auto or all Explicit, got {mesh.axis_types}")


def _layout(n: int, tile_size: Optional[int], n2: int, shards: int) -> tuple[int, int, int]:
  """(real rows per shard, tile rows, rows per shard with tile padding): `n` rows split
  evenly over `shards` (the last shard padded if `n` does not divide), each in whole tiles."""
  per = math.ceil(n / shards)
  tile = min(tile_size or default_tile_size(n2), per)
  return per, tile, math.ceil(per / tile) * tile


def _sharded_rows(a: jax.Array, shards: int, per: int, local: int, fill) -> jax.Array:
  """`a (n, ...)` laid out as `shards` blocks of `local` rows, the first `per` of each
  block real (rows n.. and each block's tail filled with `fill`)."""
  def padded(b, axis, rows):
    pad = rows - b.shape[axis]
    if pad == 0:
      return b
    shape = b.shape[:axis] + (pad,) + b.shape[axis + 1:]
    return jnp.concatenate([b, jnp.broadcast_to(fill, shape).astype(b.dtype)], axis=axis)

  blocks = padded(a, 0, shards * per).reshape((shards, per) + a.shape[1:])
  return padded(blocks, 1, local).reshape((shards * local,) + a.shape[1:])


def _asarray(a):
  return None if a is None else jnp.asarray(a)


def _place(a: jax.Array, mesh: Mesh, spec: PartitionSpec) -> jax.Array:
  """`a` laid out as `spec` on `mesh` (reshard for Explicit axes, a constraint for Auto)."""
  sharding = NamedSharding(mesh, spec)
  if mesh.axis_types[0] == AxisType.Explicit:
    return jax.reshard(a, sharding)
  return jax.lax.with_sharding_constraint(a, sharding)


def _row_blocks(block_fn, kernel, x_rows, x_cols, tile, first_row, symmetric):
  """Stacks `block_fn(kernel(x_tile, x_cols))` over the row tiles of `x_rows (r, d)`;
  `first_row` is the column of `x_rows[0]` in `x_cols` (for the diagonal tiles when
  `symmetric`)."""
  r, d = x_rows.shape
  tiles = x_rows.reshape(r // tile, tile, d)
  starts = first_row + tile * jnp.arange(r // tile, dtype=jnp.int32)

  def one(args):
    x_t, start = args
    k_t = kernel(x_t, x_cols)
    if symmetric:
      corner = (jnp.zeros((), start.dtype), start)
      k_t = jax.lax.dynamic_update_slice(k_t, kernel(x_t).astype(k_t.dtype), corner)
    return block_fn(k_t)

  out = jax.lax.map(one, (tiles, starts))
  return out.reshape((r,) + out.shape[2:])


def _gram_block(k_t):
  return k_t


def _matvec_block(k_t, v):
  return k_t @ v


@functools.partial(jax.jit, static_argnums=(0, 1, 5, 6))
def _tiled(block_fn, kernel, x1, x2, v, tile_size, mesh):
  """`block_fn(k_tile[, v])` over the row tiles of k(x1, x2), rows sharded over `mesh`;
  returns the `(n1, ...)` rows stacked. With `x2` None the columns are `x1` in the padded
  row layout (`v` zero on the padding), so every diagonal tile lies inside the columns;
  `block_fn(k_tile)` (no `v`) then gets the real columns only."""
  symmetric = x2 is None
  n1 = x1.shape[0]
  shards = 1 if mesh is None else mesh.size
  per, tile, local = _layout(n1, tile_size, n1 if symmetric else jnp.shape(x2)[0], shards)
  x1p = _sharded_rows(x1, shards, per, local, x1[-1])
  x2p = x1p if symmetric else x2
  if v is not None:
    v = _sharded_rows(v, shards, per, local, jnp.zeros((), v.dtype)) if symmetric else v

  def real_columns(k_t):
    k_t = k_t.reshape(k_t.shape[0], shards, local)[:, :, :per]
    return k_t.reshape(k_t.shape[0], shards * per)[:, :n1]

  def local_fn(x_rows, x_cols, v_=None):
    first = 0 if mesh is None else jax.lax.axis_index(mesh.axis_names) * local
    if v_ is not None:
      fn = lambda k_t: block_fn(k_t, v_)
    elif symmetric:
      fn = lambda k_t: block_fn(real_columns(k_t))
    else:
      fn = block_fn
    return _row_blocks(fn, kernel, x_rows, x_cols, tile, first, symmetric)[:per]

  if mesh is None:
    out = local_fn(x1p, x2p, v)
  else:
    rows_spec, rep = PartitionSpec(mesh.axis_names), PartitionSpec()
    args = (_place(x1p, mesh, rows_spec), _place(x2p, mesh, rep))
    specs = (rows_spec, rep)
    if v is not None:
      args, specs = args + (_place(v, mesh, rep),), specs + (rep,)
    out = jax.shard_map(local_fn, mesh=mesh, in_specs=specs, out_specs=rows_spec)(*args)
  if out.shape[0] == n1:
    return out
  if mesh is not None and mesh.axis_types[0] == AxisType.Explicit:
    out = _place(out, mesh, PartitionSpec())   # an uneven cut of a sharded axis: replicate
  return out[:n1]


def gram(kernel: Kernel, x1: jax.Array, x2: Optional[jax.Array] = None, *,
         tile_size: Optional[int] = None, mesh: Optional[Mesh] = None) -> jax.Array:
  """The kernel matrix `kernel(x1, x2)` `(n1, n2)` computed in row tiles, its rows sharded
  over `mesh` (each device holds `n1 / devices` rows; one device if `mesh` is None).

  Args:
    kernel: `kernel(x1, x2=None) -> (n1, n2)`.
    x1: `(n1, d)` inputs (the rows).
    x2: `(n2, d)` inputs (the columns), or None for the Gram of `x1` with itself.
    tile_size: rows per tile (default: about `TILE_ENTRIES` kernel values per tile).
    mesh: a device mesh; rows are sharded over all its axes.
  """
  _check(kernel, x1, x2, None, tile_size, mesh)
  if mesh is not None and jnp.shape(x1)[0] % mesh.size:
    raise ValueError(f"x1: a Gram sharded over {mesh.size} devices needs a row count divisible "
                     f"by {mesh.size} (each device holds n1 / {mesh.size} rows), got "
                     f"{jnp.shape(x1)[0]}; pad x1, or use matvec")
  return _tiled(_gram_block, kernel, jnp.asarray(x1), _asarray(x2), None, tile_size, mesh)


def matvec(kernel: Kernel, x1: jax.Array, v: jax.Array, x2: Optional[jax.Array] = None, *,
           tile_size: Optional[int] = None, mesh: Optional[Mesh] = None) -> jax.Array:
  """`kernel(x1, x2) @ v` `(n1,)` or `(n1, o)` without forming the kernel matrix: one row
  tile `(tile_size, n2)` at a time per device, rows sharded over `mesh`.

  Args:
    kernel: `kernel(x1, x2=None) -> (n1, n2)`.
    x1: `(n1, d)` inputs (the rows).
    v: `(n2,)` or `(n2, o)`, over the columns (`x2`'s points, or `x1`'s if `x2` is None).
    x2: `(n2, d)` inputs (the columns), or None for `kernel(x1) @ v`.
    tile_size: rows per tile (default: about `TILE_ENTRIES` kernel values per tile).
    mesh: a device mesh; rows are sharded over all its axes, `x2` and `v` replicated.
  """
  _check(kernel, x1, x2, v, tile_size, mesh)
  return _tiled(_matvec_block, kernel, jnp.asarray(x1), _asarray(x2), jnp.asarray(v),
                tile_size, mesh)
