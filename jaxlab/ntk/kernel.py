"""Infinite-width kernels of `stax` networks: the `Kernel` they return, the `Covariances`
every layer maps, and the machinery that turns a layer's covariance map into an NT-style
`kernel_fn(x1_or_kernel, x2=None, get=None, **kwargs)`.

  from jaxlab.ntk import stax
  _, _, kernel_fn = stax.serial(stax.Conv(64, (3, 3), padding="SAME"), stax.Relu(),
                                stax.Flatten(), stax.Dense(1))
  kernel_fn(x1, x2, "ntk")                 # (N1, N2) for images x (N, H, W, C)
  k = kernel_fn(x1)                        # Kernel: nngp, ntk, cov1 (N1,), cov2=None, shapes

Layout (neural-tangents'): inputs `(N, *spatial, C)` by default (`batch_axis`, `channel_axis`
of the first layer that names them say otherwise; the channel axis is taken to infinity);
`nngp`/`ntk` have shape `(N1, N2, S1, S1, S2, S2, ...)` (each spatial axis twice, zipped)
or `(N1, N2, S1, S2, ...)` when only the spatial diagonal is kept (`diagonal_spatial`), and
`cov1` is the per-example covariance `(N1, S1, S1, ...)` (`(N1, N1, S1, S1, ...)` with
`diagonal_batch=False`). As in NT, an odd number of full-spatial `Conv` layers leaves the
spatial axes in reverse order (`Kernel.is_reversed`).

Whether only the spatial diagonal is computed is decided for the whole network, as NT does:
each layer states a `Diagonal(input, output)` allowance (`Bool.YES / MAYBE / NO`); `serial`
composes them with `>>`, `parallel` with `&`, and the input kernel is diagonal iff the result
allows it (e.g. Conv-Relu-...-Flatten networks, never ones with pooling or attention).

Inside, a `Covariances` keeps spatial positions flattened to one axis T = prod(spatial)
(T = 1 without spatial axes), in the order of the activation's spatial axes: `nngp` is
`(N1, N2, T, T)` (or `(N1, N2, T)` if diagonal) and `cov1` is `(N1, T, T)` (or `(N1, T)`).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax import tree_util


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Kernel:
  """Infinite-width NNGP / NTK of a network on two batches of inputs (NT's `Kernel`).

  Attributes:
    nngp: `(N1, N2, [S1, S1, S2, S2, ...])` covariance of the outputs (spatial axes zipped),
      or `(N1, N2, [S1, S2, ...])` if `diagonal_spatial`.
    ntk: the neural tangent kernel, same shape as `nngp` (None if not computed).
    cov1: `(N1, [S1, S1, ...])` covariance of each x1 example with itself (`(N1, N1, ...)` if
      not `diagonal_batch`).
    cov2: same for x2; None when `x2` is None (x2 = x1).
    is_gaussian: whether the outputs are (mean-zero) Gaussian given the inputs, i.e. an
      affine layer came last; activations and `LayerNorm` need it.
    is_reversed: whether the spatial axes are in reverse order (NT's convention after an odd
      number of full-spatial convolutions).
    diagonal_batch, diagonal_spatial: whether cov1/cov2 keep only the batch diagonal and
      whether the spatial axes keep only their diagonal.
    shape1, shape2: finite-width activation shapes.
    batch_axis, channel_axis: where the batch and channel axes of those shapes are.
  """

  nngp: jax.Array
  ntk: jax.Array | None
  cov1: jax.Array
  cov2: jax.Array | None
  is_gaussian: bool = dataclasses.field(default=False, metadata=dict(static=True))
  is_reversed: bool = dataclasses.field(default=False, metadata=dict(static=True))
  diagonal_batch: bool = dataclasses.field(default=True, metadata=dict(static=True))
  diagonal_spatial: bool = dataclasses.field(default=False, metadata=dict(static=True))
  shape1: tuple = dataclasses.field(default=(), metadata=dict(static=True))
  shape2: tuple = dataclasses.field(default=(), metadata=dict(static=True))
  batch_axis: int = dataclasses.field(default=0, metadata=dict(static=True))
  channel_axis: int = dataclasses.field(default=-1, metadata=dict(static=True))

  def replace(self, **changes) -> "Kernel":
    return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------
# Requirements: which covariances a layer needs (NT's `Bool` / `Diagonal` algebra).


class Bool(enum.IntEnum):
  """Three-valued answer: NO < MAYBE < YES."""

  NO = 0
  MAYBE = 1
  YES = 2


@dataclasses.dataclass(frozen=True)
class Diagonal:
  """Whether a layer can run on diagonal-only (spatial) covariances.

  `input`: YES (the diagonal suffices), MAYBE (it suffices if the off-diagonal entries are
  zero) or NO. `output`: YES (all later outputs may be diagonal-only, e.g. after `Flatten`),
  MAYBE (the layer's own output has zero off-diagonal entries) or NO.
  """

  input: Bool = Bool.YES
  output: Bool = Bool.NO

  def __rshift__(self, other: "Diagonal") -> "Diagonal":
    """`self` then `other` (serial composition)."""
    if self.output == Bool.YES:
      return self
    if self.output != Bool.NO and other.input != Bool.NO:
      first = self.input
    elif self.output == Bool.NO and other.input != Bool.YES:
      first = Bool.NO
    else:
      first = min(self.input, other.input)
    return Diagonal(input=first, output=other.output)

  def __and__(self, other: "Diagonal") -> "Diagonal":
    """Both (parallel branches)."""
    return Diagonal(input=min(self.input, other.input), output=min(self.output, other.output))

  def __bool__(self) -> bool:
    return self.input == Bool.YES and self.output != Bool.NO


@dataclasses.dataclass(frozen=True)
class Requirements:
  """What a layer needs from its input covariances; None means no requirement."""

  diagonal_spatial: Diagonal | None = None
  batch_axis: int | None = None
  channel_axis: int | None = None

  def then(self, other: "Requirements") -> "Requirements":
    """Requirements of `self` followed by `other` (serial)."""
    diag = _fold(self.diagonal_spatial, other.diagonal_spatial, lambda a, b: a >> b)
    return Requirements(diag, _first(self.batch_axis, other.batch_axis),
                        _first(self.channel_axis, other.channel_axis))

  def both(self, other: "Requirements") -> "Requirements":
    """Requirements of `self` and `other` side by side (parallel)."""
    diag = _fold(self.diagonal_spatial, other.diagonal_spatial, lambda a, b: a & b)
    return Requirements(diag, _first(self.batch_axis, other.batch_axis),
                        _first(self.channel_axis, other.channel_axis))


def _fold(a, b, op):
  if a is None:
    return b
  return a if b is None else op(a, b)


def _first(a, b):
  return a if a is not None else b


# ---------------------------------------------------------------------------------------------
# Covariances: what every layer's covariance map transforms.


@dataclasses.dataclass(frozen=True)
class Covariances:
  """Second moments of one activation in the flattened spatial layout (see module doc).

  Attributes:
    nngp: `(N1, N2, T, T)` or `(N1, N2, T)` if `diagonal`; ntk: same or None (not requested);
    cov1: `(N1, T, T)` or `(N1, T)`; cov2: same for x2 or None (x2 = x1).
    shape1, shape2: finite-width activation shapes; batch_axis, channel_axis: their batch
      and channel axes (non-negative). The spatial axes are the others, in order.
    is_gaussian: see `Kernel`. is_reversed: the flag NT would report (the arrays here are
      always in the activation's order). diagonal: only the spatial diagonal is kept.
    x1_is_x2: whether the two batches are the same inputs (a bool or a traced scalar).
    is_input: no layer has been applied yet.
  """

  nngp: jax.Array
  ntk: jax.Array | None
  cov1: jax.Array
  cov2: jax.Array | None
  shape1: tuple
  shape2: tuple
  batch_axis: int
  channel_axis: int
  is_gaussian: bool = False
  is_reversed: bool = False
  diagonal: bool = False
  x1_is_x2: Any = False
  is_input: bool = False

  def replace(self, **changes) -> "Covariances":
    return dataclasses.replace(self, **changes)

  @property
  def spatial(self) -> tuple:
    """Spatial shape of x1's activation (x2's is the same)."""
    return spatial_shape(self.shape1, self.batch_axis, self.channel_axis)

  @property
  def width(self) -> int:
    return self.shape1[self.channel_axis]

  def variances(self) -> tuple[jax.Array, jax.Array]:
    """Per-position variances `(N1, T)`, `(N2, T)` (the second is the first if x2 = x1)."""
    diag = (lambda m: m) if self.diagonal else (
        lambda m: jnp.diagonal(m, axis1=1, axis2=2))
    v1 = diag(self.cov1)
    return v1, v1 if self.cov2 is None else diag(self.cov2)

  def pair(self, v1: jax.Array, v2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`(N1, T)`, `(N2, T)` -> factors broadcasting to the nngp layout: v1[a, t], v2[b, s]."""
    if self.diagonal:
      return v1[:, None, :], v2[None, :, :]
    return v1[:, None, :, None], v2[None, :, None, :]

  def pair_self(self, v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`(N, T)` -> factors broadcasting to the cov layout: v[a, t], v[a, s]."""
    if self.diagonal:
      return v, v
    return v[:, :, None], v[:, None, :]

  def map(self, fn: Callable[[jax.Array], jax.Array], ntk_too: bool = True) -> "Covariances":
    """`fn` applied to nngp, cov1, cov2 (and ntk if `ntk_too`)."""
    return self.replace(nngp=fn(self.nngp), cov1=fn(self.cov1),
                        cov2=None if self.cov2 is None else fn(self.cov2),
                        ntk=fn(self.ntk) if self.ntk is not None and ntk_too else self.ntk)

  def grid(self, m: jax.Array, n_batch: int) -> jax.Array:
    """Flattened `(batch..., T, T)` -> `(batch..., *S, *S)` (or `(batch..., *S)`)."""
    spatial = self.spatial
    tail = spatial if self.diagonal else spatial + spatial
    return m.reshape(m.shape[:n_batch] + tail)

  def map_grid(self, fn: Callable[[jax.Array, int], jax.Array], ntk_too: bool = True
               ) -> tuple[jax.Array | None, ...]:
    """`fn(grid_array, n_batch)` on nngp, ntk, cov1, cov2, flattened back; returns the
    four arrays and the new spatial shape (read off `fn`'s output for nngp)."""
    new_nngp = fn(self.grid(self.nngp, 2), 2)
    k = (new_nngp.ndim - 2) if self.diagonal else (new_nngp.ndim - 2) // 2
    new_spatial = tuple(new_nngp.shape[2:2 + k])

    def flat(m, n_batch):
      t = math.prod(new_spatial)
      return m.reshape(m.shape[:n_batch] + ((t,) if self.diagonal else (t, t)))

    ntk = self.ntk
    if ntk is not None and ntk_too:
      ntk = flat(fn(self.grid(ntk, 2), 2), 2)
    cov1 = flat(fn(self.grid(self.cov1, 1), 1), 1)
    cov2 = None if self.cov2 is None else flat(fn(self.grid(self.cov2, 1), 1), 1)
    return flat(new_nngp, 2), ntk, cov1, cov2, new_spatial


def spatial_shape(shape: tuple, batch_axis: int, channel_axis: int) -> tuple:
  return tuple(s for i, s in enumerate(shape) if i not in (batch_axis, channel_axis))


def with_spatial(shape: tuple, batch_axis: int, channel_axis: int, spatial: tuple,
                 channels: int | None = None) -> tuple:
  """`shape` with its spatial axes replaced by `spatial` (and channels by `channels`)."""
  it = iter(spatial)
  out = []
  for i, s in enumerate(shape):
    if i == batch_axis:
      out.append(s)
    elif i == channel_axis:
      out.append(s if channels is None else channels)
    else:
      out.append(next(it))
  return tuple(out)


def check_layout(c: Covariances, name: str, batch_axis: int | None,
                 channel_axis: int | None) -> None:
  """Raises if the layer's `batch_axis` / `channel_axis` do not match the activation's."""
  ndim = len(c.shape1)
  for arg, want, have in (("batch_axis", batch_axis, c.batch_axis),
                          ("channel_axis", channel_axis, c.channel_axis)):
    if want is not None and want % ndim != have:
      raise ValueError(f"{name}: {arg}={want} does not match the activation's {arg} "
                       f"({have}) for shape {c.shape1}; every layer of a network must use "
                       f"the same layout")


# ---------------------------------------------------------------------------------------------
# Inputs -> Covariances -> Kernel (NT layout).


def _canonical_layout(x: jax.Array, reqs: Requirements) -> tuple[int, int]:
  if x.ndim < 2:
    raise ValueError(f"inputs must be at least 2D (batch, ..., channels), got shape {x.shape}")
  batch_axis = (0 if reqs.batch_axis is None else reqs.batch_axis) % x.ndim
  channel_axis = (-1 if reqs.channel_axis is None else reqs.channel_axis) % x.ndim
  if batch_axis == channel_axis:
    raise ValueError(f"batch_axis and channel_axis must differ, got both = {batch_axis} for "
                     f"inputs of shape {x.shape}")
  return batch_axis, channel_axis


def _tokens(x: jax.Array, batch_axis: int, channel_axis: int) -> jax.Array:
  """`x` -> `(N, T, C)` with the spatial axes flattened in order."""
  x = jnp.moveaxis(x, (batch_axis, channel_axis), (0, -1))
  return x.reshape(x.shape[0], -1, x.shape[-1])


def inputs_to_covariances(x1: jax.Array, x2: jax.Array | None, compute_ntk: bool,
                          diagonal: bool = False, reqs: Requirements = Requirements(),
                          eps: float = 1e-12) -> Covariances:
  """Input covariances x1 x2^T / C per pair of positions (float64 under `jax_enable_x64`)."""
  dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
  x1 = jnp.asarray(x1).astype(dtype)
  batch_axis, channel_axis = _canonical_layout(x1, reqs)
  if x2 is not None:
    x2 = jnp.asarray(x2).astype(dtype)
    if x2.ndim != x1.ndim or (x2.shape[:batch_axis] + x2.shape[batch_axis + 1:]
                              != x1.shape[:batch_axis] + x1.shape[batch_axis + 1:]):
      raise ValueError(f"x1 and x2 must match in all but the batch axis ({batch_axis}), got "
                       f"{x1.shape} and {x2.shape}")
  f1 = _tokens(x1, batch_axis, channel_axis)
  f2 = f1 if x2 is None else _tokens(x2, batch_axis, channel_axis)
  c = x1.shape[channel_axis]
  if diagonal:
    nngp = jnp.einsum("atc,btc->abt", f1, f2) / c
    cov = lambda f: jnp.einsum("atc,atc->at", f, f) / c
  else:
    nngp = jnp.einsum("atc,bsc->abts", f1, f2) / c
    cov = lambda f: jnp.einsum("atc,asc->ats", f, f) / c
  if x2 is None:
    same = True
  elif x1.shape == x2.shape:
    same = jnp.all(jnp.abs(x1 - x2) < eps)
  else:
    same = False
  return Covariances(
      nngp=nngp, ntk=jnp.zeros_like(nngp) if compute_ntk else None, cov1=cov(f1),
      cov2=None if x2 is None else cov(f2), shape1=tuple(x1.shape),
      shape2=tuple((x1 if x2 is None else x2).shape), batch_axis=batch_axis,
      channel_axis=channel_axis, diagonal=diagonal, x1_is_x2=same, is_input=True)


def _zip(mat: jax.Array, n_batch: int, spatial: tuple, diagonal: bool, reverse: bool
         ) -> jax.Array:
  """Flattened `(batch..., T, T)` -> NT layout `(batch..., S1, S1, S2, S2, ...)` (spatial
  order reversed if `reverse`), or `(batch..., S1, S2, ...)` if `diagonal`."""
  batch = mat.shape[:n_batch]
  k = len(spatial)
  axes = list(range(k))[::-1] if reverse else list(range(k))
  if diagonal:
    mat = mat.reshape(batch + spatial)
    return mat.transpose(list(range(n_batch)) + [n_batch + i for i in axes])
  mat = mat.reshape(batch + spatial + spatial)
  order = list(range(n_batch)) + [n_batch + i + j * k for i in axes for j in range(2)]
  return mat.transpose(order)


def _unzip(mat: jax.Array, n_batch: int, spatial: tuple, diagonal: bool, reverse: bool
           ) -> jax.Array:
  """Inverse of `_zip`."""
  k = len(spatial)
  batch = mat.shape[:n_batch]
  t = math.prod(spatial)
  stored = list(range(k))[::-1] if reverse else list(range(k))   # stored position -> axis
  if diagonal:
    order = [stored.index(i) for i in range(k)]
    return mat.transpose(list(range(n_batch)) + [n_batch + p for p in order]).reshape(
        batch + (t,))
  order = ([n_batch + 2 * stored.index(i) for i in range(k)]
           + [n_batch + 2 * stored.index(i) + 1 for i in range(k)])
  return mat.transpose(list(range(n_batch)) + order).reshape(batch + (t, t))


def covariances_to_kernel(c: Covariances) -> Kernel:
  spatial = c.spatial
  zipped = lambda m, n: None if m is None else _zip(m, n, spatial, c.diagonal, c.is_reversed)
  return Kernel(nngp=zipped(c.nngp, 2), ntk=zipped(c.ntk, 2), cov1=zipped(c.cov1, 1),
                cov2=zipped(c.cov2, 1), is_gaussian=c.is_gaussian, is_reversed=c.is_reversed,
                diagonal_spatial=c.diagonal and bool(spatial), shape1=c.shape1,
                shape2=c.shape2, batch_axis=c.batch_axis, channel_axis=c.channel_axis)


def kernel_to_covariances(k: Kernel) -> Covariances:
  ndim = len(k.shape1)
  batch_axis, channel_axis = k.batch_axis % ndim, k.channel_axis % ndim
  spatial = spatial_shape(k.shape1, batch_axis, channel_axis)
  if not k.diagonal_batch:
    raise NotImplementedError("kernel_fn applied to a Kernel with diagonal_batch=False: "
                              "recompute it with diagonal_batch=True (the default)")
  diagonal = k.diagonal_spatial and bool(spatial)
  unzipped = lambda m, n: None if m is None else _unzip(
      jnp.broadcast_to(m, k.nngp.shape) if n == 2 else m, n, spatial, diagonal, k.is_reversed)
  return Covariances(nngp=unzipped(k.nngp, 2), ntk=unzipped(k.ntk, 2), cov1=unzipped(k.cov1, 1),
                     cov2=unzipped(k.cov2, 1), shape1=tuple(k.shape1), shape2=tuple(k.shape2),
                     batch_axis=batch_axis, channel_axis=channel_axis,
                     is_gaussian=k.is_gaussian, is_reversed=k.is_reversed, diagonal=diagonal,
                     x1_is_x2=k.cov2 is None)


# ---------------------------------------------------------------------------------------------
# Trees of inputs / kernels (parallel networks take lists of inputs, nested at any depth).

Transform = Callable[[Any], Any]   # Covariances (or a list of them) -> the same


def tree_map(fn, tree, *rest):
  """`fn` on every Covariances / Kernel / array in nested lists/tuples, keeping their types."""
  if isinstance(tree, (list, tuple)):
    return type(tree)(tree_map(fn, t, *(r[i] for r in rest)) for i, t in enumerate(tree))
  return fn(tree, *rest)


def _is_kernel_tree(x) -> bool:
  if isinstance(x, (list, tuple)):
    return len(x) > 0 and all(_is_kernel_tree(t) for t in x)
  return isinstance(x, Kernel)


def _all_none(x) -> bool:
  if isinstance(x, (list, tuple)):
    return all(_all_none(t) for t in x)
  return x is None


def _check_same_structure(x1, x2) -> None:
  s1 = tree_util.tree_structure(x1, is_leaf=lambda a: a is None)
  s2 = tree_util.tree_structure(x2, is_leaf=lambda a: a is None)
  if s1 != s2:
    raise ValueError(f"x1 and x2 must have the same (list) structure, got {s1} and {s2}")


@functools.lru_cache(maxsize=None)
def namedtuple_type(name: str, fields: tuple[str, ...]):
  """One namedtuple class per (name, fields), so outputs of repeated calls share a pytree
  type (tiles can be concatenated, jit caches hit)."""
  return collections.namedtuple(name, fields)


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
  return namedtuple_type("AnalyticKernel", names)(*(getattr(kernel, g) for g in names))


def _diagonal_mode(reqs: Requirements, diagonal_spatial: bool | None, name: str) -> bool:
  """Whether the input covariances keep only the spatial diagonal (NT's fusion rule)."""
  req = reqs.diagonal_spatial
  if diagonal_spatial is None:
    return bool(req) if req is not None else False
  if diagonal_spatial and req is not None and req.input == Bool.NO:
    raise ValueError(f"{name}: asked for diagonal_spatial=True, but the network mixes "
                     f"spatial positions (pooling, attention, ...) and needs the full "
                     f"spatial covariance; use diagonal_spatial=False")
  return bool(diagonal_spatial)


def layer_kernel_fn(transform: Transform, reqs: Requirements = Requirements(),
                    name: str = "layer"):
  """NT-style `kernel_fn(x1_or_kernel, x2=None, get=None, *, diagonal_spatial=None,
  diagonal_batch=None)` from a covariance map `transform` (Covariances, or lists of them for
  `parallel` branches, to the same) and the layer's `Requirements`.

  The returned function takes inputs `x1`, `x2` (arrays, or nested lists of them for
  `parallel` networks; `x2=None` or a list of Nones means x2 = x1) or a `Kernel` from
  another `kernel_fn`. `get` is 'nngp', 'ntk', any `Kernel` field, a tuple of them
  (-> namedtuple `AnalyticKernel`), or None (-> the `Kernel`). `diagonal_spatial=True` keeps
  only the spatial diagonal; `diagonal_batch=False` returns cov1/cov2 for all pairs of
  examples of a batch, `(N1, N1, ...)`. It is pure: `jax.jit(kernel_fn,
  static_argnames="get")` compiles it.
  """

  def kernel_fn(x1_or_kernel, x2=None, get=None, *, diagonal_spatial: bool | None = None,
                diagonal_batch: bool | None = None, mask_constant=None, **unused_kwargs):
    del unused_kwargs   # e.g. `rng`, `pattern`: accepted as NT does, unused here
    if mask_constant is not None:
      raise NotImplementedError("mask_constant (masked inputs) is not supported")
    if _is_kernel_tree(x1_or_kernel):
      if not _all_none(x2):
        raise ValueError("x2 must be None when kernel_fn is applied to a Kernel")
      out = transform(tree_map(kernel_to_covariances, x1_or_kernel))
      return tree_map(lambda c: _get(covariances_to_kernel(c), get), out)
    diagonal = _diagonal_mode(reqs, diagonal_spatial, name)
    names = ("nngp", "ntk") if get is None else ((get,) if isinstance(get, str) else get)
    x2 = None if _all_none(x2) else x2
    if x2 is not None:
      _check_same_structure(x1_or_kernel, x2)

    def run(a, b, compute_ntk):
      covs = tree_map(lambda xa, xb: inputs_to_covariances(xa, xb, compute_ntk, diagonal,
                                                           reqs),
                      a, tree_map(lambda _: None, a) if b is None else b)
      return transform(covs)

    out = tree_map(covariances_to_kernel, run(x1_or_kernel, x2, "ntk" in names))
    if diagonal_batch is False:
      full1 = tree_map(lambda k: k.nngp, tree_map(covariances_to_kernel,
                                                  run(x1_or_kernel, None, False)))
      full2 = None if x2 is None else tree_map(
          lambda k: k.nngp, tree_map(covariances_to_kernel, run(x2, None, False)))
      out = tree_map(lambda k, c1, c2: k.replace(cov1=c1, cov2=c2, diagonal_batch=False),
                     out, full1, tree_map(lambda _: None, full1) if full2 is None else full2)
    return tree_map(lambda k: _get(k, get), out)

  kernel_fn.transform = transform
  kernel_fn.requirements = reqs
  kernel_fn.__name__ = name
  return kernel_fn


def transform_of(kernel_fn) -> Transform:
  """The covariance map behind a `jaxlab.ntk.stax` kernel_fn (to compose layers)."""
  if not hasattr(kernel_fn, "transform"):
    raise TypeError(f"{kernel_fn!r} is not a jaxlab.ntk.stax kernel_fn; serial/parallel "
                    f"compose layers built by jaxlab.ntk.stax (or kernel.layer_kernel_fn)")
  return kernel_fn.transform


def requirements_of(kernel_fn) -> Requirements:
  return getattr(kernel_fn, "requirements", Requirements())


def check_shapes_equal(cs: Sequence[Covariances], name: str) -> None:
  for c in cs[1:]:
    if c.shape1 != cs[0].shape1 or c.shape2 != cs[0].shape2:
      raise ValueError(f"{name}: all branches must have the same activation shapes, got "
                       f"{[c.shape1 for c in cs]} and {[c.shape2 for c in cs]}")


def check_same_layout(cs: Sequence[Covariances], name: str) -> None:
  for c in cs[1:]:
    if (c.diagonal, c.batch_axis, c.channel_axis) != (cs[0].diagonal, cs[0].batch_axis,
                                                      cs[0].channel_axis):
      raise NotImplementedError(f"{name}: all branches must have the same covariance layout "
                                f"(diagonal_spatial, batch_axis, channel_axis)")


def majority_reversed(cs: Sequence[Covariances]) -> bool:
  """NT's `is_reversed` after a fan-in: that of the majority of the branches."""
  return sum(c.is_reversed for c in cs) > len(cs) / 2
