"""Kernels in tiles, spread over devices: neural-tangents' `nt.batch` on `jax.sharding`.

  kernel_fn = stax.serial(stax.Conv(64, (3, 3)), stax.Relu(), stax.Flatten(), stax.Dense(1))[2]
  batched = batch(kernel_fn, batch_size=32, device_count=-1)
  batched(x1, x2, "ntk")            # (N1, N2): 32 x 32 tiles, each device one row block
  batched(x1, None)                 # a Kernel: nngp/ntk tiled, cov1 by rows, cov2 None
  ntk_fn = empirical_ntk_fn(f, vmap_axes=0)
  batch(ntk_fn, 64)(x1, None, params)   # only two 64-row Jacobians alive per device

Rows of x1 are processed `device_count * batch_size` at a time: each device gets
`batch_size` of them (a `shard_map` over a one-axis `Mesh` of the devices, no `pmap`), and
every device pairs them with the same `batch_size` rows of x2. Outputs are pytrees whose
leaves start with the two batch axes `(N1, N2, ...)`, or `Kernel`s (cov1 follows x1's rows,
cov2 x2's). Inputs that are not a multiple of the tile are padded by repeating their last
row; the padding is cut from the result (NT requires exact multiples instead).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util
from jax.sharding import Mesh, PartitionSpec

from jaxlab.ntk.kernel import Kernel


def _batch_size_of(x) -> int:
  sizes = {leaf.shape[0] for leaf in tree_util.tree_leaves(x)}
  if len(sizes) != 1:
    raise ValueError(f"batch: all input leaves need the same leading batch size, got "
                     f"{sorted(sizes)}")
  return sizes.pop()


def _padded(x, multiple: int):
  """`x` with its leading axis padded to a multiple of `multiple` (repeating the last row)."""
  def pad(a):
    extra = -a.shape[0] % multiple
    if not extra:
      return a
    return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)], axis=0)
  return tree_util.tree_map(pad, x)


def _rows(x, start: int, size: int):
  return tree_util.tree_map(lambda a: a[start:start + size], x)


def _is_array(a) -> bool:
  return isinstance(a, (jax.Array, np.ndarray)) or (
      hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, type))


def _split_static(args, kwargs):
  """(array leaves, rebuild(array leaves) -> (args, kwargs)); other leaves stay static."""
  leaves, treedef = tree_util.tree_flatten((args, kwargs), is_leaf=lambda a: a is None)
  is_dyn = [_is_array(l) for l in leaves]
  dynamic = [l for l, d in zip(leaves, is_dyn) if d]
  static = [None if d else l for l, d in zip(leaves, is_dyn)]

  def rebuild(dyn):
    it = iter(dyn)
    return tree_util.tree_unflatten(treedef, [next(it) if d else s for s, d in
                                              zip(static, is_dyn)])
  return dynamic, rebuild


class _Layout:
  """How each output leaf is tiled: 'both' (N1, N2, ...), 'rows' (N1, ...), 'cols' (N2, ...).
  """

  @staticmethod
  def of(out):
    def kinds(o):
      if isinstance(o, Kernel):
        maybe = lambda value, kind: None if value is None else kind
        return dataclasses.replace(o, nngp="both", ntk=maybe(o.ntk, "both"), cov1="rows",
                                   cov2=maybe(o.cov2, "cols"))
      return tree_util.tree_map(lambda _: "both", o)
    return tree_util.tree_map(kinds, out, is_leaf=lambda o: isinstance(o, Kernel))


def _check_tile(out, kinds, rows: int, cols: int) -> None:
  for leaf, kind in zip(tree_util.tree_leaves(out), tree_util.tree_leaves(kinds)):
    want = {"both": (rows, cols), "rows": (rows,), "cols": (cols,)}[kind]
    if tuple(leaf.shape[:len(want)]) != want:
      raise ValueError(
          f"batch needs kernels whose leading axes are the batch axes of x1 and x2 {want}, "
          f"got an output of shape {leaf.shape}; a batch axis in trace_axes or "
          f"diagonal_axes, or a kernel of diagonal_batch=False, cannot be tiled")


def _device_count(device_count: int) -> int:
  available = jax.local_device_count()
  if device_count == -1:
    return available
  if not isinstance(device_count, int) or device_count < 0:
    raise ValueError(f"device_count must be -1 (all), 0 (none) or a positive int, got "
                     f"{device_count!r}")
  if device_count > available:
    raise ValueError(f"device_count={device_count} but only {available} devices are "
                     f"available")
  return max(device_count, 1)


def _tile_fn(kernel_fn: Callable, rebuild, devices: int):
  """Jitted `(x1_block, x2_tile, dynamic) -> outputs` with x1's rows split over devices
  (a leading device axis on every output leaf when devices > 1)."""

  def call(x1, x2, dynamic):
    args, kwargs = rebuild(dynamic)
    return kernel_fn(x1, x2, *args, **kwargs)

  if devices == 1:
    return jax.jit(call)
  mesh = Mesh(np.asarray(jax.local_devices()[:devices]), ("devices",))
  per_device = lambda x1, x2, dynamic: tree_util.tree_map(
      lambda a: a[None], call(x1, x2, dynamic))
  spec = PartitionSpec("devices")
  return jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=(spec, PartitionSpec(),
                                                                PartitionSpec()),
                               out_specs=spec, check_vma=False))


def batch(kernel_fn: Callable, batch_size: int = 0, device_count: int = -1,
          store_on_device: bool = True) -> Callable:
  """Returns `batched(x1, x2=None, *args, **kwargs)`, equal to `kernel_fn(x1, x2, *args,
  **kwargs)` computed tile by tile over devices (neural-tangents' `nt.batch`).

  Args:
    kernel_fn: `kernel_fn(x1, x2, *args, **kwargs)` returning an array, a pytree of arrays of
      shape `(N1, N2, ...)`, or a `Kernel` (`jaxlab.ntk.stax` with `get=None`). Array
      arguments are traced, others (`get`, ...) static; it is jitted inside (do not jit the
      result, whose purpose is to run tiles one after the other).
    batch_size: rows of x1 per device and of x2 per tile; 0: whole batches.
    device_count: devices to spread x1's rows over; -1 all local devices, 0 one device.
    store_on_device: False moves each tile to host memory as soon as it is computed.
  """
  if not isinstance(batch_size, int) or batch_size < 0:
    raise ValueError(f"batch_size must be a non-negative int, got {batch_size!r}")
  devices = _device_count(device_count)

  def batched(x1, x2=None, *args, **kwargs):
    n1 = _batch_size_of(x1)
    n2 = n1 if x2 is None else _batch_size_of(x2)
    rows = min(batch_size or -(-n1 // devices), -(-n1 // devices))
    cols = min(batch_size or n2, n2)
    x1p = _padded(x1, rows * devices)
    x2p = _padded(x1 if x2 is None else x2, cols)
    dynamic, rebuild = _split_static(args, kwargs)
    tile = _tile_fn(kernel_fn, rebuild, devices)
    keep = (lambda a: a) if store_on_device else np.asarray
    blocks = []
    for i in range(0, n1 + (-n1 % (rows * devices)), rows * devices):
      row = []
      for j in range(0, n2 + (-n2 % cols), cols):
        out = tile(_rows(x1p, i, rows * devices), _rows(x2p, j, cols), dynamic)
        kinds = _Layout.of(out)
        if devices > 1:
          out = _merge_devices(out, kinds)
        _check_tile(out, kinds, rows * devices, cols)
        row.append(tree_util.tree_map(keep, out))
      blocks.append(row)
    return _assemble(blocks, n1, n2, x2 is None, store_on_device)

  return batched


def _merge_devices(out, kinds):
  """Leaves `(D, b, ...)` -> `(D b, ...)` (rows, both) or the first device's (cols)."""
  def merge(leaf, kind):
    if kind == "cols":
      return leaf[0]
    return leaf.reshape((-1,) + leaf.shape[2:])
  return tree_util.tree_map(merge, out, kinds)


def _assemble(blocks, n1: int, n2: int, x2_is_none: bool, on_device: bool):
  """Concatenates the tiles and cuts the padding."""
  concat = jnp.concatenate if on_device else np.concatenate
  kinds = _Layout.of(blocks[0][0])

  def join(kind, *tiles):
    grid = [tiles[r * len(blocks[0]):(r + 1) * len(blocks[0])] for r in range(len(blocks))]
    if kind == "both":
      out = concat([concat(list(r), axis=1) for r in grid], axis=0)
      return out[:n1, :n2]
    if kind == "rows":
      return concat([r[0] for r in grid], axis=0)[:n1]
    return concat(list(grid[0]), axis=0)[:n2]

  flat = [t for row in blocks for t in row]
  out = tree_util.tree_map(join, kinds, *flat)
  if not on_device:
    cpu = jax.devices("cpu")[0]
    out = tree_util.tree_map(lambda a: jax.device_put(a, cpu), out)

  def fix(o):
    if not isinstance(o, Kernel):
      return o
    shape1 = _with_batch(o.shape1, o.batch_axis, n1)
    shape2 = _with_batch(o.shape2, o.batch_axis, n2)
    return o.replace(shape1=shape1, shape2=shape2, cov2=None if x2_is_none else o.cov2)
  return tree_util.tree_map(fix, out, is_leaf=lambda o: isinstance(o, Kernel))


def _with_batch(shape: tuple, axis: int, n: int) -> tuple:
  if not shape:
    return shape
  shape = list(shape)
  shape[axis % len(shape)] = n
  return tuple(shape)

