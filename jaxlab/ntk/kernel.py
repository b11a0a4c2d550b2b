"""Infinite-width kernels of `stax` networks: the `Kernel` they return and the machinery that
turns a layer's covariance map into an NT-style `kernel_fn(x1, x2=None, get=None)`.

  from jaxlab.ntk import stax
  _, _, kernel_fn = stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(1))
  kernel_fn(x1, x2, "ntk")                 # (N1, N2) for inputs (N, d)
  kernel_fn(t1, None, ("nngp", "ntk"))     # AnalyticKernel(nngp=(N1, N1, T, T), ntk=...)
  k = kernel_fn(x1)                        # Kernel: nngp, ntk, cov1 (N1,), cov2=None, shapes

Layout (neural-tangents'): inputs `(N, *spatial, C)` (batch first, channels last, the channel
axis taken to infinity); `nngp`/`ntk` have shape `(N1, N2, S1, S1, S2, S2, ...)` (each
spatial axis twice, zipped) and `cov1` = the per-example covariance `(N1, S1, S1, ...)`.

Inside, every layer maps `Covariances` in a flattened layout: one token axis T = prod(spatial)
(T = 1 without spatial axes), so `nngp` is `(N1, N2, T, T)` and `cov1` is `(N1, T, T)`.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Kernel:
  """Infinite-width NNGP / NTK of a network on two batches of inputs (NT's `Kernel`).

  Attributes:
    nngp: `(N1, N2, [S, S, ...])` covariance of the outputs (spatial axes zipped), or
      `(N1, N2, [S, ...])` if `diagonal_spatial`.
    ntk: the neural tangent kernel, same shape as `nngp` (None if not computed).
    cov1: `(N1, [S, S, ...])` covariance of each x1 example with itself.
    cov2: same for x2; None when `x2` is None (x2 = x1).
    is_gaussian: whether the outputs are (mean-zero) Gaussian given the inputs, i.e. an
      affine layer came last; activations and `LayerNorm` need it.
    diagonal_batch, diagonal_spatial: whether cov1/cov2 keep only the batch diagonal (always
      True here) and whether spatial axes keep only their diagonal.
    shape1, shape2: finite-width activation shapes (batch, spatial..., channels).
    batch_axis, channel_axis: 0 and -1 (the only layout supported).
  """

  nngp: jax.Array
  ntk: jax.Array | None
  cov1: jax.Array
  cov2: jax.Array | None
  is_gaussian: bool = dataclasses.field(default=False, metadata=dict(static=True))
  diagonal_batch: bool = dataclasses.field(default=True, metadata=dict(static=True))
  diagonal_spatial: bool = dataclasses.field(default=False, metadata=dict(static=True))
  shape1: tuple = dataclasses.field(default=(), metadata=dict(static=True))
  shape2: tuple = dataclasses.field(default=(), metadata=dict(static=True))
  batch_axis: int = dataclasses.field(default=0, metadata=dict(static=True))
  channel_axis: int = dataclasses.field(default=-1, metadata=dict(static=True))

  def replace(self, **changes) -> "Kernel":
    return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Covariances:
  """What a layer's covariance map transforms (flattened spatial layout, see module doc).

  Attributes:
    nngp: `(N1, N2, T, T)`; ntk: same or None (not requested); cov1: `(N1, T, T)`;
    cov2: `(N2, T, T)` or None (x2 = x1); shape1/shape2: finite-width activation shapes
    `(N, *spatial, C)`; is_gaussian: see `Kernel`.
  """

  nngp: jax.Array
  ntk: jax.Array | None
  cov1: jax.Array
  cov2: jax.Array | None
  shape1: tuple
  shape2: tuple
  is_gaussian: bool

  def replace(self, **changes) -> "Covariances":
    return dataclasses.replace(self, **changes)

  @property
  def spatial(self) -> tuple:
    return self.shape1[1:-1]

  def variances(self) -> tuple[jax.Array, jax.Array]:
    """Per-position variances `(N1, T)`, `(N2, T)` (the second is the first if x2 = x1)."""
    v1 = jnp.diagonal(self.cov1, axis1=1, axis2=2)
    v2 = v1 if self.cov2 is None else jnp.diagonal(self.cov2, axis1=1, axis2=2)
    return v1, v2

  def map(self, fn: Callable[[jax.Array], jax.Array], ntk_too: bool = True) -> "Covariances":
    """`fn` applied to nngp, cov1, cov2 (and ntk if `ntk_too`)."""
    return self.replace(nngp=fn(self.nngp), cov1=fn(self.cov1),
                        cov2=None if self.cov2 is None else fn(self.cov2),
                        ntk=fn(self.ntk) if self.ntk is not None and ntk_too else self.ntk)


def outer(v1: jax.Array, v2: jax.Array) -> jax.Array:
  """`(N1, T)`, `(N2, T)` -> `(N1, N2, T, T)` products v1[a, t] v2[b, s] (nngp layout)."""
  return v1[:, None, :, None] * v2[None, :, None, :]


def outer_self(v: jax.Array) -> jax.Array:
  """`(N, T)` -> `(N, T, T)` products v[a, t] v[a, s] (cov layout)."""
  return v[:, :, None] * v[:, None, :]


# ---------------------------------------------------------------------------------------------
# Inputs -> Covariances -> Kernel (NT layout).


def _flat_tokens(x: jax.Array) -> jax.Array:
  if x.ndim < 2:
    raise ValueError(f"inputs must be at least 2D (batch, ..., channels), got shape {x.shape}")
  return x.reshape(x.shape[0], -1, x.shape[-1])


def inputs_to_covariances(x1: jax.Array, x2: jax.Array | None, compute_ntk: bool
                          ) -> Covariances:
  """Input covariances x1 x2^T / C per pair of positions (float64 under `jax_enable_x64`)."""
  dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
  x1 = jnp.asarray(x1).astype(dtype)
  f1 = _flat_tokens(x1)
  if x2 is not None:
    x2 = jnp.asarray(x2).astype(dtype)
    if x2.shape[1:] != x1.shape[1:]:
      raise ValueError(f"x1 and x2 must match in all but the batch axis, got {x1.shape} and "
                       f"{x2.shape}")
  f2 = f1 if x2 is None else _flat_tokens(x2)
  c = x1.shape[-1]
  nngp = jnp.einsum("atc,bsc->abts", f1, f2) / c
  return Covariances(
      nngp=nngp, ntk=jnp.zeros_like(nngp) if compute_ntk else None,
      cov1=jnp.einsum("atc,asc->ats", f1, f1) / c,
      cov2=None if x2 is None else jnp.einsum("atc,asc->ats", f2, f2) / c,
      shape1=tuple(x1.shape), shape2=tuple((x1 if x2 is None else x2).shape), is_gaussian=False)


def _zip(mat: jax.Array, n_batch: int, spatial: tuple, diagonal: bool) -> jax.Array:
  """`(batch..., T, T)` -> NT layout `(batch..., S1, S1, S2, S2, ...)` (or diagonal)."""
  batch = mat.shape[:n_batch]
  if diagonal:
    return jnp.diagonal(mat, axis1=-2, axis2=-1).reshape(batch + spatial)
  mat = mat.reshape(batch + spatial + spatial)
  k = len(spatial)
  order = list(range(n_batch)) + [n_batch + i + j * k for i in range(k) for j in range(2)]
  return mat.transpose(order)


def _unzip(mat: jax.Array, n_batch: int, spatial: tuple) -> jax.Array:
  """Inverse of `_zip` (non-diagonal)."""
  k = len(spatial)
  batch = mat.shape[:n_batch]
  order = (list(range(n_batch)) + [n_batch + 2 * i for i in range(k)]
           + [n_batch + 2 * i + 1 for i in range(k)])
  t = math.prod(spatial)
  return mat.transpose(order).reshape(batch + (t, t))


def covariances_to_kernel(c: Covariances, diagonal_spatial: bool = False) -> Kernel:
  spatial = c.spatial
  zipped = lambda m, n: None if m is None else _zip(m, n, spatial, diagonal_spatial)
  return Kernel(nngp=zipped(c.nngp, 2), ntk=zipped(c.ntk, 2), cov1=zipped(c.cov1, 1),
                cov2=zipped(c.cov2, 1), is_gaussian=c.is_gaussian,
                diagonal_spatial=diagonal_spatial, shape1=c.shape1, shape2=c.shape2)


def kernel_to_covariances(k: Kernel) -> Covariances:
  spatial = k.shape1[1:-1]
  if k.diagonal_spatial and spatial:
    raise ValueError("a Kernel with diagonal_spatial=True cannot be propagated further; "
                     "recompute it with diagonal_spatial=False")
  unzipped = lambda m, n: None if m is None else _unzip(m, n, spatial)
  return Covariances(nngp=unzipped(k.nngp, 2), ntk=unzipped(k.ntk, 2), cov1=unzipped(k.cov1, 1),
                     cov2=unzipped(k.cov2, 1), shape1=k.shape1, shape2=k.shape2,
                     is_gaussian=k.is_gaussian)


# ---------------------------------------------------------------------------------------------
# Layer kernel functions.

Transform = Callable[[Any], Any]   # Covariances (or a list of them) -> the same


def _tree_map(fn, tree):
  """`fn` on every Covariances/Kernel in nested lists/tuples, keeping their types."""
  if isinstance(tree, (list, tuple)):
    return type(tree)(_tree_map(fn, t) for t in tree)
  return fn(tree)


def _is_kernel_tree(x) -> bool:
  if isinstance(x, (list, tuple)):
    return len(x) > 0 and all(_is_kernel_tree(t) for t in x)
  return isinstance(x, Kernel)


def _get(kernel: Kernel, get):
  if get is None:
    return kernel
  names = (get,) if isinstance(get, str) else tuple(get)
  fields = [f.name for f in dataclasses.fields(Kernel)]
  for g in names:
    if g not in fields:
      raise ValueError(f"get must name Kernel fields ({', '.join(fields)}) or be None, got "
                       f"{get!r}")
  if isinstance(get, str):
    return getattr(kernel, get)
  return collections.namedtuple("AnalyticKernel", names)(*(getattr(kernel, g) for g in names))


def layer_kernel_fn(transform: Transform, diagonal_spatial_ok: bool, name: str = "layer"):
  """NT-style `kernel_fn(x1_or_kernel, x2=None, get=None, *, diagonal_spatial=None,
  diagonal_batch=None)` from a covariance map.

  `transform` maps `Covariances` (or lists of them, for `parallel` branches) to the same;
  `diagonal_spatial_ok` says whether the layer keeps diagonal-only spatial covariances
  closed (False for layers mixing positions: attention, global pooling).

  The returned function takes inputs `(N, *spatial, C)` (or lists of them for `parallel`
  networks) or a `Kernel` from another `kernel_fn`. `get` is 'nngp', 'ntk', any `Kernel`
  field, a tuple of them (-> namedtuple `AnalyticKernel`), or None (-> the `Kernel`). It is
  pure: `jax.jit(kernel_fn, static_argnames="get")` compiles it.
  """

  def kernel_fn(x1_or_kernel, x2=None, get=None, *, diagonal_spatial: bool | None = None,
                diagonal_batch: bool | None = None, mask_constant=None):
    if diagonal_batch is False:
      raise NotImplementedError("diagonal_batch=False (full batch covariances cov1/cov2) is "
                                "not supported; cov1 and cov2 hold per-example covariances")
    if mask_constant is not None:
      raise NotImplementedError("mask_constant (masked inputs) is not supported")
    if diagonal_spatial and not diagonal_spatial_ok:
      raise ValueError(f"{name} mixes spatial positions, so it requires "
                       f"diagonal_spatial=False; got diagonal_spatial=True")
    if _is_kernel_tree(x1_or_kernel):
      if x2 is not None:
        raise ValueError("x2 must be None when kernel_fn is applied to a Kernel")
      out = transform(_tree_map(kernel_to_covariances, x1_or_kernel))
    else:
      names = ("nngp", "ntk") if get is None else ((get,) if isinstance(get, str) else get)
      compute_ntk = "ntk" in names
      if isinstance(x1_or_kernel, (list, tuple)):
        x2s = [None] * len(x1_or_kernel) if x2 is None else x2
        if len(x2s) != len(x1_or_kernel):
          raise ValueError(f"x1 and x2 must be lists of the same length, got "
                           f"{len(x1_or_kernel)} and {len(x2s)}")
        inputs = type(x1_or_kernel)(inputs_to_covariances(a, b, compute_ntk)
                                    for a, b in zip(x1_or_kernel, x2s))
      else:
        inputs = inputs_to_covariances(x1_or_kernel, x2, compute_ntk)
      out = transform(inputs)
    kernels = _tree_map(lambda c: covariances_to_kernel(c, bool(diagonal_spatial)), out)
    return _tree_map(lambda k: _get(k, get), kernels)

  kernel_fn.transform = transform
  kernel_fn.diagonal_spatial_ok = diagonal_spatial_ok
  kernel_fn.__name__ = name
  return kernel_fn


def transform_of(kernel_fn) -> Transform:
  """The covariance map behind a `jaxlab.ntk.stax` kernel_fn (to compose layers)."""
  if not hasattr(kernel_fn, "transform"):
    raise TypeError(f"{kernel_fn!r} is not a jaxlab.ntk.stax kernel_fn; serial/parallel "
                    f"compose layers built by jaxlab.ntk.stax (or kernel.layer_kernel_fn)")
  return kernel_fn.transform


def diagonal_spatial_ok(kernel_fns: Sequence) -> bool:
  return all(getattr(k, "diagonal_spatial_ok", False) for k in kernel_fns)


def check_shapes_equal(cs: Sequence[Covariances], name: str) -> None:
  for c in cs[1:]:
    if c.shape1 != cs[0].shape1 or c.shape2 != cs[0].shape2:
      raise ValueError(f"{name}: all branches must have the same activation shapes, got "
                       f"{[c.shape1 for c in cs]} and {[c.shape2 for c in cs]}")


def spatial_size(shape: tuple) -> int:
  return int(np.prod(shape[1:-1], dtype=int))
