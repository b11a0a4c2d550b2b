"""Linear layers acting on channels or positions (Dense, DotGeneral, Index, Dropout,
LayerNorm) and their infinite-width kernel maps, with neural-tangents' `stax` names,
arguments, defaults and values.

  from jaxlab.ntk import stax
  init_fn, apply_fn, kernel_fn = stax.serial(
      stax.Dense(64), stax.Relu(), stax.Index(stax.Slice[:, ::2]),   # every other token
      stax.Dropout(0.9), stax.Dense(1))
  _, params = init_fn(key, (8, 6, 16))      # x: (N, tokens, d)
  apply_fn(params, x, rng=key)              # (8, 3, 1)
  kernel_fn(x, None, "ntk")                 # (8, 8, 3, 3)

Layers act on the channel axis (`channel_axis`, default -1) of inputs with a batch axis
(`batch_axis`, default 0); the kernel reads the layout from the first layer that names it.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxlab.ntk.kernel import (Covariances, Diagonal, Bool, Requirements, check_layout,
                               layer_kernel_fn, spatial_shape, with_spatial)


def affine(m: jax.Array, w_std: float, b_std: float | None) -> jax.Array:
  """Covariance of x W + b for i.i.d. weights of variance w_std^2 (and biases b_std^2)."""
  m = w_std ** 2 * m
  return m if b_std is None else m + b_std ** 2


def check_parameterization(parameterization: str) -> str:
  parameterization = parameterization.lower()
  if parameterization not in ("ntk", "standard"):
    raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
  return parameterization


def Identity():
  """Identity (no-op)."""
  return (lambda rng, input_shape: (input_shape, ()),
          lambda params, inputs, **kwargs: inputs,
          layer_kernel_fn(lambda c: c, Requirements(), "Identity"))


def Dense(out_dim: int, W_std: float = 1.0, b_std: float | None = None, batch_axis: int = 0,
          channel_axis: int = -1, parameterization: str = "ntk", s: tuple[int, int] = (1, 1)):
  """Fully-connected layer on the channel axis.

  `parameterization='ntk'` (Jacot et al. 2018, arXiv:1806.07572): W_ij, b_i ~ N(0, 1) and
  z = W_std / sqrt(n_in) x W + b_std b; the kernel map is
  nngp' = W_std^2 nngp + b_std^2, ntk' = nngp' + W_std^2 ntk (independent of `out_dim`).
  `parameterization='standard'` (Sohl-Dickstein et al. 2020, arXiv:2001.07301): W_ij ~
  N(0, W_std^2 / (n_in / s[0])), b_i ~ N(0, b_std^2), z = x W / sqrt(s[0]) + b, width of W
  `(s[0] n_in, s[1] out_dim)`; ntk' = (n_in / s[0]) nngp + W_std^2 ntk + [1 if bias].

  Args:
    out_dim: output channels. W_std, b_std: weight / bias standard deviations (`b_std=None`:
    no bias). batch_axis, channel_axis: the layout of the inputs. parameterization: 'ntk' or
    'standard'. s: width scalings of the standard parameterization.
  """
  standard = check_parameterization(parameterization) == "standard"
  width_out = out_dim * s[1] if standard else out_dim

  def init_fn(rng, input_shape):
    ch = channel_axis % len(input_shape)
    k_w, k_b = jax.random.split(rng)
    w = jax.random.normal(k_w, (input_shape[ch], width_out))
    b_shape = [1] * len(input_shape)
    b_shape[ch] = width_out
    b = None if b_std is None else jax.random.normal(k_b, tuple(b_shape))
    if standard:
      w = w * W_std / (input_shape[ch] / s[0]) ** 0.5
      b = None if b is None else b * b_std
    out_shape = list(input_shape)
    out_shape[ch] = width_out
    return tuple(out_shape), (w, b)

  def apply_fn(params, inputs, **kwargs):
    del kwargs
    w, b = params
    ch = channel_axis % inputs.ndim
    out = jnp.moveaxis(jnp.moveaxis(inputs, ch, -1) @ w, -1, ch)
    if standard:
      out = out / s[0] ** 0.5
      return out if b is None else out + b
    out = (W_std / inputs.shape[ch] ** 0.5) * out
    return out if b is None else out + b_std * b

  def transform(c: Covariances) -> Covariances:
    check_layout(c, "Dense", batch_axis, channel_axis)
    if standard:
      ntk = None
      if c.ntk is not None:
        ntk = (c.width / s[0]) * c.nngp + W_std ** 2 * c.ntk
        ntk = ntk if b_std is None else ntk + 1.0
      c = c.map(lambda m: affine(m, W_std, b_std), ntk_too=False).replace(ntk=ntk)
    else:
      c = c.map(lambda m: affine(m, W_std, b_std), ntk_too=False)
      c = c.replace(ntk=None if c.ntk is None else c.nngp + W_std ** 2 * c.ntk)
    shape = lambda sh: with_spatial(sh, c.batch_axis, c.channel_axis,
                                    spatial_shape(sh, c.batch_axis, c.channel_axis), width_out)
    return c.replace(shape1=shape(c.shape1), shape2=shape(c.shape2), is_gaussian=True,
                     is_input=False)

  return init_fn, apply_fn, layer_kernel_fn(
      transform, Requirements(Diagonal(), batch_axis, channel_axis), "Dense")


# ---------------------------------------------------------------------------------------------
# Linear maps of positions: DotGeneral with a constant, Index / Slice.


def _positions_map(c: Covariances, a: jax.Array, diagonal_ok: bool) -> dict:
  """nngp/ntk/cov after the linear map of positions `a (T_out, T_in)` (per channel)."""
  if c.diagonal:
    if not diagonal_ok:
      raise ValueError("this layer mixes spatial positions; recompute with "
                       "diagonal_spatial=False")
    sq = a ** 2
    f2 = lambda m: jnp.einsum("ot,abt->abo", sq, m)
    f1 = lambda m: jnp.einsum("ot,at->ao", sq, m)
  else:
    f2 = lambda m: jnp.einsum("ot,abts,ps->abop", a, m, a)
    f1 = lambda m: jnp.einsum("ot,ats,ps->aop", a, m, a)
  return dict(nngp=f2(c.nngp), ntk=None if c.ntk is None else f2(c.ntk), cov1=f1(c.cov1),
              cov2=None if c.cov2 is None else f1(c.cov2))


def DotGeneral(*, lhs=None, rhs=None, dimension_numbers=(((), ()), ((), ())), precision=None,
               batch_axis: int = 0, channel_axis: int = -1):
  """`lax.dot_general` of the inputs with a constant `lhs` or `rhs` (at most one given; the
  other operand is the layer input). The map acts on positions only: the batch and channel
  axes must be neither contracted nor batched, so each channel of each example undergoes the
  same linear map A of positions and nngp' = A nngp A^T (NT's `DotGeneral`)."""
  if lhs is not None and rhs is not None:
    raise ValueError("DotGeneral: at most one of the constants lhs and rhs can be given; the "
                     "other operand is the layer input")
  is_lhs = rhs is None
  other = None if (lhs is None and rhs is None) else jnp.asarray(lhs if is_lhs else rhs)

  def dot_fn(x):
    if other is None:
      return x
    args = (other.astype(x.dtype), x) if is_lhs else (x, other.astype(x.dtype))
    return jax.lax.dot_general(*args, dimension_numbers, precision)

  def init_fn(rng, input_shape):
    del rng
    return jax.eval_shape(dot_fn, jax.ShapeDtypeStruct(input_shape, jnp.float32)).shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return dot_fn(inputs)

  (c_l, c_r), (b_l, b_r) = dimension_numbers
  input_c, input_b = (c_r, b_r) if is_lhs else (c_l, b_l)
  mixes = bool(input_c)

  def transform(c: Covariances) -> Covariances:
    check_layout(c, "DotGeneral", batch_axis, channel_axis)
    if other is None:
      return c
    ndim = len(c.shape1)
    used = {a % ndim for a in tuple(input_c) + tuple(input_b)}
    if c.batch_axis in used or c.channel_axis in used:
      raise NotImplementedError("DotGeneral: contracting or batching the batch or channel "
                                "axis is not supported (the kernel needs a map of positions)")
    return _apply_position_map(c, dot_fn, not mixes, _dot_axes)

  def _dot_axes(c: Covariances) -> tuple[int, int]:
    """Positions of the input's batch / channel axes in the dot_general output: batch
    dimensions, then lhs free dimensions, then rhs free dimensions."""
    ndim = len(c.shape1)
    batch_dims = tuple(a % ndim for a in input_b)
    free = [a for a in range(ndim) if a not in batch_dims + tuple(a % ndim for a in input_c)]
    n_other_free = other.ndim - len(c_l if is_lhs else c_r) - len(b_l)
    offset = len(batch_dims) + (n_other_free if is_lhs else 0)
    return offset + free.index(c.batch_axis), offset + free.index(c.channel_axis)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      Diagonal(input=Bool.NO if mixes else Bool.YES), batch_axis, channel_axis), "DotGeneral")


def _apply_position_map(c: Covariances, fn, diagonal_ok: bool, axes_out) -> Covariances:
  """Kernel of the linear map `fn` of positions (batch and channel axes carried along),
  found by applying `fn` to one-hot inputs (batch = input position, one channel).
  `axes_out(ndim_in)` gives the output's (batch_axis, channel_axis)."""
  spatial = c.spatial
  t_in = max(math.prod(spatial), 1)
  ndim = len(c.shape1)
  basis = jnp.eye(t_in, dtype=jnp.float32).reshape((t_in,) + spatial + (1,))
  basis = jnp.moveaxis(basis, (0, ndim - 1), (c.batch_axis, c.channel_axis))
  b_out, ch_out = axes_out(c)
  out = jnp.moveaxis(fn(basis), (ch_out, b_out), (0, -1))[0]              # (*S_out, T_in)
  a = out.reshape(-1, t_in).astype(c.nngp.dtype)
  shape = lambda sh: tuple(jax.eval_shape(fn, jax.ShapeDtypeStruct(sh, jnp.float32)).shape)
  return c.replace(**_positions_map(c, a, diagonal_ok), shape1=shape(c.shape1),
                   shape2=shape(c.shape2), batch_axis=b_out, channel_axis=ch_out,
                   is_reversed=False)


class _Slice:
  """`stax.Slice[...]` returns the index `...` (NT's helper for `Index`)."""

  def __getitem__(self, idx):
    return idx


Slice = _Slice()


def _canonical_index(idx, ndim: int) -> tuple:
  idx = idx if isinstance(idx, tuple) else (idx,)
  if any(i is None for i in idx):
    raise NotImplementedError("Index: None (new axes) is not supported")
  if Ellipsis in idx:
    i = idx.index(Ellipsis)
    idx = idx[:i] + (slice(None),) * (ndim - len(idx) + 1) + idx[i + 1:]
  return idx + (slice(None),) * (ndim - len(idx))


def Index(idx, batch_axis: int = 0, channel_axis: int = -1):
  """`x[idx]` (use `stax.Slice[...]` to write `idx`). The channel axis cannot be indexed;
  the batch axis only with a slice (it must remain); spatial axes freely (an integer
  removes the axis). The kernel indexes nngp / ntk on both examples' positions."""

  def init_fn(rng, input_shape):
    del rng
    return jax.eval_shape(lambda x: x[idx], jax.ShapeDtypeStruct(input_shape,
                                                                  jnp.float32)).shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return inputs[idx]

  def transform(c: Covariances) -> Covariances:
    check_layout(c, "Index", batch_axis, channel_axis)
    full = _canonical_index(idx, len(c.shape1))
    if full[c.channel_axis] != slice(None):
      raise NotImplementedError("Index: indexing the (infinite) channel axis is not supported")
    batch_idx = full[c.batch_axis]
    if not isinstance(batch_idx, slice):
      raise NotImplementedError("Index: the batch axis can only be sliced (e.g. `:2`), since "
                                "kernels always keep a batch axis")
    spatial_only = tuple(slice(None) if i == c.batch_axis else s for i, s in enumerate(full))
    for i, s_ in enumerate(full):
      if not isinstance(s_, (int, slice)):
        raise NotImplementedError(f"Index: only ints and slices are supported, got {s_!r}")
    removed = lambda axis: axis - sum(isinstance(s_, int) for s_ in full[:axis])
    c = _apply_position_map(c, lambda x: x[spatial_only], True,
                            lambda c: (removed(c.batch_axis), removed(c.channel_axis)))
    if batch_idx != slice(None):
      c = _slice_batch(c, batch_idx)
    return c

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      None, batch_axis, channel_axis), "Index")


def _slice_batch(c: Covariances, batch_idx: slice) -> Covariances:
  def resized(shape):
    shape = list(shape)
    shape[c.batch_axis] = len(range(*batch_idx.indices(shape[c.batch_axis])))
    return tuple(shape)

  return c.replace(nngp=c.nngp[batch_idx][:, batch_idx],
                   ntk=None if c.ntk is None else c.ntk[batch_idx][:, batch_idx],
                   cov1=c.cov1[batch_idx], cov2=None if c.cov2 is None else c.cov2[batch_idx],
                   shape1=resized(c.shape1), shape2=resized(c.shape2))


# ---------------------------------------------------------------------------------------------
# Dropout and LayerNorm.


def _diagonal_mul(m: jax.Array, factor, n_batch: int, diagonal: bool) -> jax.Array:
  """Multiplies the entries of equal examples (n_batch = 2: a = b) and equal positions by
  `factor`."""
  mask = jnp.ones((1,) * m.ndim, m.dtype)
  if n_batch == 2:
    if m.shape[0] != m.shape[1]:
      return m
    mask = jnp.eye(m.shape[0], dtype=m.dtype).reshape(m.shape[:2] + (1,) * (m.ndim - 2))
  if not diagonal:
    t = m.shape[-1]
    mask = mask * jnp.eye(t, dtype=m.dtype).reshape((1,) * (m.ndim - 2) + (t, t))
  return m * (1 + (factor - 1) * mask)


def Dropout(rate: float, mode: str = "train"):
  """Inverted dropout with keep probability `rate` (jax.example_libraries.stax semantics):
  `apply_fn(params, x, rng=key)` keeps each entry with probability `rate` and divides it by
  `rate`; `mode='test'` is the identity. The kernel (train mode) multiplies the variance of
  every entry (same example, same position) by 1 / rate; across x1 and x2 only if they are
  the same inputs."""
  if mode not in ("train", "test"):
    raise ValueError(f"Dropout: mode must be 'train' or 'test', got {mode!r}")
  if not 0.0 < rate <= 1.0:
    raise ValueError(f"Dropout: rate (the keep probability) must be in (0, 1], got {rate!r}")

  def init_fn(rng, input_shape):
    del rng
    return input_shape, ()

  def apply_fn(params, inputs, rng=None, **kwargs):
    del params, kwargs
    if mode == "test":
      return inputs
    if rng is None:
      raise ValueError("Dropout(mode='train') needs apply_fn(params, inputs, rng=key)")
    keep = jax.random.bernoulli(rng, rate, inputs.shape)
    return jnp.where(keep, inputs / rate, jnp.zeros_like(inputs))

  def transform(c: Covariances) -> Covariances:
    if mode == "test":
      return c
    if c.is_input:
      raise ValueError("Dropout cannot be applied to the inputs directly (its kernel needs a "
                       "layer before it)")
    factor = 1.0 / rate
    cross = jnp.where(c.x1_is_x2, factor, 1.0).astype(c.nngp.dtype)
    return c.replace(
        cov1=_diagonal_mul(c.cov1, factor, 1, c.diagonal),
        cov2=None if c.cov2 is None else _diagonal_mul(c.cov2, factor, 1, c.diagonal),
        nngp=_diagonal_mul(c.nngp, cross, 2, c.diagonal),
        ntk=None if c.ntk is None else _diagonal_mul(c.ntk, cross, 2, c.diagonal),
        is_gaussian=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(), "Dropout")


def _norm_axes(axis, ndim: int) -> tuple[int, ...]:
  axes = (axis,) if isinstance(axis, int) else tuple(axis)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(f"LayerNorm: axis {a} is out of range for inputs of rank {ndim}")
  return tuple(sorted({a % ndim for a in axes}))


def LayerNorm(axis: int | Sequence[int] = -1, eps: float = 1e-12, batch_axis: int = 0,
              channel_axis: int = -1):
  """(x - mean) / sqrt(eps + var) over `axis` (which must include the channel axis), without
  learned scale or shift. For Gaussian inputs in the infinite-width limit the mean vanishes
  and the variance concentrates on the mean of cov's diagonal over the normalised positions:
  nngp'[a, b, t, s] = nngp[a, b, t, s] / sqrt((eps + v1[a, t]) (eps + v2[b, s])), ntk alike.
  """

  def init_fn(rng, input_shape):
    del rng
    return input_shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    axes = _norm_axes(axis, inputs.ndim)
    mean = jnp.mean(inputs, axis=axes, keepdims=True)
    var = jnp.var(inputs, axis=axes, keepdims=True)
    return (inputs - mean) / jnp.sqrt(eps + var)

  def transform(c: Covariances) -> Covariances:
    check_layout(c, "LayerNorm", batch_axis, channel_axis)
    if not c.is_gaussian:
      raise NotImplementedError("LayerNorm is only implemented for Gaussian inputs (after an "
                                "affine layer such as Dense)")
    ndim = len(c.shape1)
    axes = _norm_axes(axis, ndim)
    if c.channel_axis not in axes:
      raise ValueError(f"LayerNorm must normalise over the channel axis ({c.channel_axis}) "
                       f"for the infinite-width kernel to exist; got axis={axis}")
    # Axes of the per-position variances (N, *spatial) that are averaged.
    kept = [i for i in range(ndim) if i != c.channel_axis]
    mean_axes = tuple(kept.index(a) for a in axes if a != c.channel_axis)

    def scale(v, shape):
      dims = tuple(shape[i] for i in kept)
      v = eps + jnp.moveaxis(v.reshape((shape[c.batch_axis],) + c.spatial),
                             0, kept.index(c.batch_axis)).reshape(dims)
      if mean_axes:
        v = jnp.broadcast_to(jnp.mean(v, axis=mean_axes, keepdims=True), v.shape)
      return jnp.moveaxis(v, kept.index(c.batch_axis), 0).reshape(shape[c.batch_axis], -1)

    v1, v2 = c.variances()
    s1 = scale(v1, c.shape1)
    s2 = s1 if c.cov2 is None else scale(v2, c.shape2)
    a, b = c.pair(s1, s2)
    root = jnp.sqrt(a * b)
    cov = lambda m, s: None if m is None else m / jnp.sqrt(
        c.pair_self(s)[0] * c.pair_self(s)[1])
    return c.replace(nngp=c.nngp / root, ntk=None if c.ntk is None else c.ntk / root,
                     cov1=cov(c.cov1, s1), cov2=cov(c.cov2, s2))

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      None, batch_axis, channel_axis), "LayerNorm")

