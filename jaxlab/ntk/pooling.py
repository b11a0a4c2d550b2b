"""Pooling and flattening: `AvgPool`, `SumPool`, `GlobalAvgPool`, `GlobalSumPool`,
`Flatten` (NT's arguments and kernel values).

  from jaxlab.ntk import stax
  myrtle = stax.serial(
      stax.Conv(256, (3, 3), padding="SAME"), stax.Relu(),
      stax.AvgPool((2, 2), strides=(2, 2)),
      stax.Conv(256, (3, 3), padding="SAME"), stax.Relu(),
      stax.GlobalAvgPool(), stax.Dense(10))
  myrtle[2](x, None, "ntk")                 # (N, N) for x (N, H, W, C)

A window sum of activations has covariance sum_{o, o'} K(s i + o, s j + o') (all pairs of
window offsets), so pooling needs the full spatial covariance; averages divide by the window
size squared (by the number of non-padding entries with `normalize_edges` and SAME padding).
`Flatten` followed by a dense layer averages the per-position variances,
K' = mean_t K(t, t), and only needs the spatial diagonal.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from jaxlab.ntk.convolution import check_padding, circular_pad
from jaxlab.ntk.kernel import (Covariances, Bool, Diagonal, Requirements, check_layout,
                               layer_kernel_fn, with_spatial)


def _window_sum(x: jax.Array, window, strides, padding: str, axes: Sequence[int]) -> jax.Array:
  """Sums over windows of `x` on `axes` (zero padding for SAME, wrap-around for CIRCULAR)."""
  if padding == "CIRCULAR":
    x = circular_pad(x, axes, window, strides)
    padding = "VALID"
  dims, steps = [1] * x.ndim, [1] * x.ndim
  for a, w, s in zip(axes, window, strides):
    dims[a], steps[a] = w, s
  return lax.reduce_window(x, jnp.zeros((), x.dtype), lax.add, tuple(dims), tuple(steps),
                           padding)


def _Pool(average: bool, window_shape, strides, padding, normalize_edges, batch_axis,
          channel_axis, name):
  padding = check_padding(padding)
  window_shape = tuple(int(w) for w in window_shape)
  strides = tuple(strides) if strides else (1,) * len(window_shape)

  def spatial_axes(ndim):
    non = (batch_axis % ndim, channel_axis % ndim)
    return tuple(i for i in range(ndim) if i not in non)

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    axes = spatial_axes(inputs.ndim)
    out = _window_sum(inputs, window_shape, strides, padding, axes)
    if not average:
      return out
    if padding == "SAME" and normalize_edges:
      return out / _window_sum(jnp.ones_like(inputs), window_shape, strides, padding, axes)
    return out / math.prod(window_shape)

  def init_fn(rng, input_shape):
    del rng
    out = jax.eval_shape(lambda x: apply_fn((), x), jax.ShapeDtypeStruct(input_shape,
                                                                         jnp.float32))
    return out.shape, ()

  def transform(c: Covariances) -> Covariances:
    check_layout(c, name, batch_axis, channel_axis)
    k = len(window_shape)
    if len(c.spatial) != k:
      raise ValueError(f"{name}: window_shape {window_shape} needs {k} spatial axes, got "
                       f"activations of shape {c.shape1}")

    def pool(m, n_batch):
      copies = 1 if c.diagonal else 2
      axes = tuple(range(n_batch, n_batch + copies * k))
      window, steps = window_shape * copies, strides * copies
      out = _window_sum(m, window, steps, padding, axes)
      if not average:
        return out
      if padding == "SAME" and normalize_edges:
        counts = _window_sum(jnp.ones(m.shape[n_batch:], m.dtype), window, steps, padding,
                             tuple(range(copies * k)))
        counts = counts if copies == 2 else counts ** 2
        return out / counts.reshape((1,) * n_batch + counts.shape)
      return out / math.prod(window_shape) ** 2

    nngp, ntk, cov1, cov2, spatial = c.map_grid(pool)
    shape = lambda sh: with_spatial(sh, c.batch_axis, c.channel_axis, spatial)
    return c.replace(nngp=nngp, ntk=ntk, cov1=cov1, cov2=cov2, shape1=shape(c.shape1),
                     shape2=shape(c.shape2))

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      Diagonal(input=Bool.MAYBE), batch_axis, channel_axis), name)


def AvgPool(window_shape: Sequence[int], strides: Sequence[int] | None = None,
            padding: str = "VALID", normalize_edges: bool = False, batch_axis: int = 0,
            channel_axis: int = -1):
  """Average pooling over spatial windows (strides default to 1). `normalize_edges=True`
  divides SAME-padded windows by their number of non-padding entries (as
  `jax.example_libraries.stax.AvgPool`), False by the window size; 'CIRCULAR' wraps."""
  return _Pool(True, window_shape, strides, padding, normalize_edges, batch_axis,
               channel_axis, "AvgPool")


def SumPool(window_shape: Sequence[int], strides: Sequence[int] | None = None,
            padding: str = "VALID", batch_axis: int = 0, channel_axis: int = -1):
  """Sum pooling over spatial windows (strides default to 1)."""
  return _Pool(False, window_shape, strides, padding, False, batch_axis, channel_axis,
               "SumPool")


def _GlobalPool(average: bool, batch_axis: int, channel_axis: int, name: str):
  def non_spatial(ndim):
    return batch_axis % ndim, channel_axis % ndim

  def init_fn(rng, input_shape):
    del rng
    keep = non_spatial(len(input_shape))
    return tuple(s for i, s in enumerate(input_shape) if i in keep), ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    keep = non_spatial(inputs.ndim)
    axes = tuple(i for i in range(inputs.ndim) if i not in keep)
    return jnp.mean(inputs, axis=axes) if average else jnp.sum(inputs, axis=axes)

  def transform(c: Covariances) -> Covariances:
    check_layout(c, name, batch_axis, channel_axis)
    t = max(math.prod(c.spatial), 1)

    def pool(m):
      if c.diagonal:
        total = jnp.sum(m, axis=-1)
        return (total / t ** 2 if average else total)[..., None, None]
      reduce = jnp.mean if average else jnp.sum
      return reduce(m, axis=(-2, -1), keepdims=True)

    keep = lambda sh: tuple(s for i, s in enumerate(sh) if i in (c.batch_axis, c.channel_axis))
    b_out = 0 if c.batch_axis < c.channel_axis else 1
    return c.map(pool).replace(shape1=keep(c.shape1), shape2=keep(c.shape2), diagonal=False,
                               batch_axis=b_out, channel_axis=1 - b_out, is_reversed=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      Diagonal(input=Bool.MAYBE, output=Bool.YES), batch_axis, channel_axis), name)


def GlobalAvgPool(batch_axis: int = 0, channel_axis: int = -1):
  """Mean over all spatial axes: nngp'[a, b] = mean_{t, s} nngp[a, b, t, s]."""
  return _GlobalPool(True, batch_axis, channel_axis, "GlobalAvgPool")


def GlobalSumPool(batch_axis: int = 0, channel_axis: int = -1):
  """Sum over all spatial axes: nngp'[a, b] = sum_{t, s} nngp[a, b, t, s]."""
  return _GlobalPool(False, batch_axis, channel_axis, "GlobalSumPool")


def Flatten(batch_axis: int = 0, batch_axis_out: int = 0):
  """Flatten all non-batch axes into one (the channel axis of the output): nngp'[a, b] =
  mean_t nngp[a, b, t, t] (the 1 / fan-in of the next layer averages the positions); the
  result is not Gaussian (NT semantics). `batch_axis_out` 0 or 1 (-2 / -1) places the batch
  axis of the (N, features) output."""
  if batch_axis_out in (0, -2):
    b_out = 0
  elif batch_axis_out in (1, -1):
    b_out = 1
  else:
    raise ValueError(f"Flatten: batch_axis_out must be 0 or 1, got {batch_axis_out}")

  def flat(shape):
    n = shape[batch_axis % len(shape)]
    rest = math.prod(shape) // n if n else 0
    return (n, rest) if b_out == 0 else (rest, n)

  def init_fn(rng, input_shape):
    del rng
    return flat(input_shape), ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    moved = jnp.moveaxis(inputs, batch_axis % inputs.ndim, 0 if b_out == 0 else -1)
    return moved.reshape(flat(inputs.shape))

  def transform(c: Covariances) -> Covariances:
    check_layout(c, "Flatten", batch_axis, None)

    def trace(m):
      diag = m if c.diagonal else jnp.diagonal(m, axis1=-2, axis2=-1)
      return jnp.mean(diag, axis=-1)[..., None, None]

    return c.map(trace).replace(shape1=flat(c.shape1), shape2=flat(c.shape2),
                                is_gaussian=False, is_reversed=False, diagonal=False,
                                batch_axis=b_out, channel_axis=1 - b_out)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      Diagonal(output=Bool.YES), batch_axis, None), "Flatten")
