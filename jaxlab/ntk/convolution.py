"""Convolutions at infinite and finite width: `Conv`, `ConvTranspose`, `ConvLocal` (NT's
arguments, parameterizations and kernel values).

  from jaxlab.ntk import stax
  init_fn, apply_fn, kernel_fn = stax.serial(
      stax.Conv(64, (3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
      stax.Conv(64, (3, 3), strides=(2, 2), padding="CIRCULAR"), stax.Relu(),
      stax.Flatten(), stax.Dense(10))
  _, params = init_fn(key, (8, 16, 16, 3))   # x: (N, H, W, C)
  apply_fn(params, x)                        # (8, 10)
  kernel_fn(x, None, "ntk")                  # (8, 8): computed on the spatial diagonal only

With i.i.d. weights per filter offset o, a convolution's pre-activations at positions i, j
have covariance E[z_i z'_j] = W_std^2 / |F| sum_o K(s i + o, s j + o) + b_std^2 (the same
offset on both sides), i.e. the input covariance filtered by a "diagonal" kernel of size F
along each spatial axis and its copy ("Bayesian Deep Convolutional Networks with Many
Channels are Gaussian Processes", Novak et al. 2019, arXiv:1810.05148; "On Exact Computation
with an Infinitely Wide Neural Net", Arora et al. 2019, arXiv:1904.11955). The spatial
diagonal (i = j) needs only the input's diagonal, so Conv-ReLU stacks ending in `Flatten`
run on diagonals. `ConvLocal` (unshared weights) keeps only the diagonal; `ConvTranspose`
applies the transposed filter. Padding 'SAME' pads covariances with zeros, 'CIRCULAR'
wraps them.
"""

from __future__ import annotations

import math
import string
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from jaxlab.ntk.kernel import (Covariances, Bool, Diagonal, Requirements, check_layout,
                               layer_kernel_fn)
from jaxlab.ntk.linear import check_parameterization

PADDINGS = ("VALID", "SAME", "CIRCULAR")


def default_dimension_numbers(n: int) -> tuple[str, str, str]:
  """NT's default ('NABC', 'ABIO', 'NABC') for n spatial axes (channels last)."""
  letters = "".join(c for c in string.ascii_uppercase if c not in "NCIO")[:n]
  lhs = "N" + letters + "C"
  return lhs, letters + "IO", lhs


def check_padding(padding: str) -> str:
  padding = str(getattr(padding, "name", padding)).upper()
  if padding not in PADDINGS:
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
  return padding


def same_pads(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int]):
  return lax.padtype_to_pads(tuple(sizes), tuple(window), tuple(strides), "SAME")


def circular_pad(x: jax.Array, axes: Sequence[int], window, strides) -> jax.Array:
  """Wraps `x` around on `axes` so a VALID window gives the SAME-sized output."""
  pads = same_pads([x.shape[a] for a in axes], window, strides)
  widths = [(0, 0)] * x.ndim
  for a, p in zip(axes, pads):
    widths[a] = tuple(p)
  return jnp.pad(x, widths, mode="wrap")


# ---------------------------------------------------------------------------------------------
# Diagonal filtering of covariances.


def _filter_axis_group(x: jax.Array, axes: Sequence[int], size: int, stride: int, padding: str
                       ) -> jax.Array:
  """sum_o x[..., s i + o, ..., s j + o, ...] / size over the axes in `axes` (one axis, or an
  axis and its copy), after padding them (zeros for SAME, wrap-around for CIRCULAR)."""
  n = x.shape[axes[0]]
  if padding != "VALID":
    lo, hi = same_pads([n], [size], [stride])[0]
    widths = [(0, 0)] * x.ndim
    for a in axes:
      widths[a] = (lo, hi)
    x = jnp.pad(x, widths, mode="wrap" if padding == "CIRCULAR" else "constant")
  n_out = (x.shape[axes[0]] - size) // stride + 1
  total = None
  for o in range(size):
    index = [slice(None)] * x.ndim
    for a in axes:
      index[a] = slice(o, o + stride * (n_out - 1) + 1, stride)
    term = x[tuple(index)]
    total = term if total is None else total + term
  return total / size


def filter_covariance(m: jax.Array, n_batch: int, filter_shape, strides, padding: str,
                      diagonal: bool) -> jax.Array:
  """Conv's covariance map on a grid `(batch..., *S, *S)` (or `(batch..., *S)` if diagonal)."""
  k = len(filter_shape)
  for i in range(k):
    axes = (n_batch + i,) if diagonal else (n_batch + i, n_batch + k + i)
    m = _filter_axis_group(m, axes, filter_shape[i], strides[i], padding)
  return m


def _transpose_axis_group(x: jax.Array, axes: Sequence[int], size: int, stride: int,
                          padding: str) -> jax.Array:
  """The transposed filter on `axes`: lax.conv_transpose with a diagonal (or, for one axis,
  all-ones) filter of `size` / size; CIRCULAR folds the VALID output onto n * stride."""
  n = x.shape[axes[0]]
  pad = "VALID" if padding == "CIRCULAR" else padding
  rest = [a for a in range(x.ndim) if a not in axes]
  moved = jnp.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
  lead = moved.shape[:len(rest)]
  flat = moved.reshape((-1,) + moved.shape[len(rest):] + (1,))
  if len(axes) == 1:
    rhs = jnp.ones((size, 1, 1), x.dtype)
    dn = ("NHC", "HIO", "NHC")
  else:
    rhs = jnp.eye(size, dtype=x.dtype)[:, :, None, None]
    dn = ("NHWC", "HWIO", "NHWC")
  out = lax.conv_transpose(flat, rhs, (stride,) * len(axes), pad, dimension_numbers=dn)[..., 0]
  out = out / size
  if padding == "CIRCULAR":
    for j in range(len(axes)):
      out = fold_circular(out, 1 + j, n * stride)
  out = out.reshape(lead + out.shape[1:])
  return jnp.moveaxis(out, range(x.ndim - len(axes), x.ndim), axes)


def fold_circular(x: jax.Array, axis: int, size: int) -> jax.Array:
  """Folds a VALID transposed-convolution output (length L) onto `size` positions:
  out[j] = sum of x[m] over m = j + (L - size) // 2 (mod size)."""
  length = x.shape[axis]
  target = (jnp.arange(length) - (length - size) // 2) % size
  moved = jnp.moveaxis(x, axis, 0)
  out = jnp.zeros((size,) + moved.shape[1:], x.dtype).at[target].add(moved)
  return jnp.moveaxis(out, 0, axis)


def transpose_filter_covariance(m: jax.Array, n_batch: int, filter_shape, strides,
                                padding: str, diagonal: bool) -> jax.Array:
  """ConvTranspose's covariance map (see `filter_covariance`)."""
  k = len(filter_shape)
  for i in range(k):
    axes = (n_batch + i,) if diagonal else (n_batch + i, n_batch + k + i)
    m = _transpose_axis_group(m, axes, filter_shape[i], strides[i], padding)
  return m


def _embed_diagonal(d: jax.Array, n_batch: int) -> jax.Array:
  """`(batch..., *S)` spatial diagonal -> `(batch..., *S, *S)` with zeros elsewhere."""
  spatial = d.shape[n_batch:]
  t = math.prod(spatial)
  flat = d.reshape(d.shape[:n_batch] + (t,))
  full = flat[..., :, None] * jnp.eye(t, dtype=d.dtype).reshape((1,) * n_batch + (t, t))
  return full.reshape(d.shape[:n_batch] + spatial + spatial)


def _spatial_diagonal(m: jax.Array, n_batch: int) -> jax.Array:
  spatial = m.shape[n_batch:n_batch + (m.ndim - n_batch) // 2]
  t = math.prod(spatial)
  flat = m.reshape(m.shape[:n_batch] + (t, t))
  return jnp.diagonal(flat, axis1=-2, axis2=-1).reshape(m.shape[:n_batch] + spatial)


# ---------------------------------------------------------------------------------------------
# The layers.


def _finite_conv(out_chan_arg, filter_shape, strides, padding, dn, transpose, shared):
  """(init(rng, input_shape) -> (shape, (W, b)), conv(x, W)) of the finite-width layer."""
  lhs_spec, rhs_spec, out_spec = dn
  init_padding = "SAME" if padding == "CIRCULAR" else padding

  def kernel_shape(input_shape):
    it = iter(filter_shape)
    return [out_chan_arg if c == "O" else input_shape[lhs_spec.index("C")] if c == "I"
            else next(it) for c in rhs_spec]

  def raw_conv(x, w, pad):
    if transpose:
      return lax.conv_transpose(x, w, strides, pad, dimension_numbers=dn)
    if shared:
      return lax.conv_general_dilated(x, w, strides, pad, dimension_numbers=dn)
    return lax.conv_general_dilated_local(x, w, strides, pad, filter_shape,
                                          dimension_numbers=dn)

  def init(rng, input_shape):
    k_w, k_b = jax.random.split(rng)
    shape = kernel_shape(input_shape)
    out_shape = jax.eval_shape(
        lambda x, w: (lax.conv_transpose(x, w, strides, init_padding, dimension_numbers=dn)
                      if transpose else lax.conv_general_dilated(
                          x, w, strides, init_padding, dimension_numbers=dn)),
        jax.ShapeDtypeStruct(input_shape, jnp.float32),
        jax.ShapeDtypeStruct(shape, jnp.float32)).shape
    if not shared:
      shape = [out_chan_arg if c == "O" else math.prod(shape) // out_chan_arg if c == "I"
               else out_shape[out_spec.index(c)] for c in rhs_spec]
      b_shape = [out_shape[i] if c != "N" else 1 for i, c in enumerate(out_spec)]
    else:
      b_shape = [out_chan_arg if c == "C" else 1 for c in out_spec]
    return tuple(out_shape), (jax.random.normal(k_w, tuple(shape)),
                              jax.random.normal(k_b, tuple(b_shape)))

  def conv(x, w):
    spatial_axes = tuple(lhs_spec.index(c) for c in rhs_spec if c not in "IO")
    if padding == "CIRCULAR" and not transpose:
      x = circular_pad(x, spatial_axes, filter_shape, strides)
      return raw_conv(x, w, "VALID")
    if padding == "CIRCULAR":
      out = raw_conv(x, w, "VALID")
      out_axes = tuple(out_spec.index(c) for c in rhs_spec if c not in "IO")
      for a, ax in enumerate(out_axes):
        out = fold_circular(out, ax, x.shape[spatial_axes[a]] * strides[a])
      return out
    return raw_conv(x, w, padding)

  return init, conv


def _Conv(out_chan, filter_shape, strides, padding, W_std, b_std, dimension_numbers,
          parameterization, s, transpose: bool, shared: bool, name: str):
  """Shared implementation of Conv / ConvTranspose / ConvLocal (see the public docstrings)."""
  standard = check_parameterization(parameterization) == "standard"
  padding = check_padding(padding)
  filter_shape = tuple(int(f) for f in filter_shape)
  strides = tuple(strides) if strides else (1,) * len(filter_shape)
  dn = tuple(dimension_numbers) if dimension_numbers else default_dimension_numbers(
      len(filter_shape))
  lhs_spec, rhs_spec, out_spec = dn
  out_chan_arg = out_chan * s[1] if standard else out_chan
  init_ntk, conv = _finite_conv(out_chan_arg, filter_shape, strides, padding, dn, transpose,
                                shared)
  fan_in = lambda shape: shape[lhs_spec.index("C")] * math.prod(filter_shape)

  def init_fn(rng, input_shape):
    out_shape, (w, b) = init_ntk(rng, input_shape)
    b = None if b_std is None else b
    if standard:
      w = w * (W_std / (fan_in(input_shape) / s[0]) ** 0.5)
      b = None if b is None else b * b_std
    return out_shape, (w, b)

  def apply_fn(params, inputs, **kwargs):
    del kwargs
    w, b = params
    norm = 1.0 / s[0] ** 0.5 if standard else W_std / fan_in(inputs.shape) ** 0.5
    out = norm * conv(inputs, w)
    if b is None:
      return out
    return out + (b if standard else b_std * b)

  rhs_letters = [c for c in rhs_spec if c not in "IO"]
  in_letters = [c for c in lhs_spec if c not in "NC"]
  out_letters = [c for c in out_spec if c not in "NC"]
  filt = tuple(filter_shape[rhs_letters.index(c)] for c in in_letters)
  strd = tuple(strides[rhs_letters.index(c)] for c in in_letters)

  def transform(c: Covariances) -> Covariances:
    check_layout(c, name, lhs_spec.index("N"), lhs_spec.index("C"))
    if len(c.spatial) != len(filter_shape):
      raise ValueError(f"{name}: filter_shape {filter_shape} needs {len(filter_shape)} "
                       f"spatial axes, got activations of shape {c.shape1}")
    op = transpose_filter_covariance if transpose else filter_covariance
    unshared_full = not shared and not c.diagonal

    def unscaled(m, n_batch):
      if unshared_full:
        d = op(_spatial_diagonal(m, n_batch), n_batch, filt, strd, padding, True)
        return _embed_diagonal(d, n_batch)
      return op(m, n_batch, filt, strd, padding, c.diagonal)

    def shift(m, n_batch, value):
      if not unshared_full:
        return m + value
      return m + value * _embed_diagonal(jnp.ones_like(_spatial_diagonal(m, n_batch)), n_batch)

    def nngp_map(m, n_batch):
      m = W_std ** 2 * unscaled(m, n_batch)
      return m if b_std is None else shift(m, n_batch, b_std ** 2)

    nngp, _, cov1, cov2, spatial = c.map_grid(nngp_map, ntk_too=False)
    ntk = None
    if c.ntk is not None:
      grid = lambda m: c.grid(m, 2)
      ntk_part = W_std ** 2 * unscaled(grid(c.ntk), 2)
      if standard:
        ntk_part = ntk_part + fan_in(c.shape1) / s[0] * unscaled(grid(c.nngp), 2)
        ntk_part = ntk_part if b_std is None else shift(ntk_part, 2, 1.0)
      ntk = ntk_part.reshape(nngp.shape) + (0.0 if standard else nngp)
    out = c.replace(nngp=nngp, ntk=ntk, cov1=cov1, cov2=cov2, is_gaussian=True,
                    is_input=False,
                    is_reversed=c.is_reversed != (shared and not c.diagonal))
    return _reorder(out, spatial, in_letters, out_letters, out_spec, out_chan_arg)

  reqs = Requirements(Diagonal(output=Bool.NO if shared else Bool.MAYBE),
                      lhs_spec.index("N"), lhs_spec.index("C"))
  return init_fn, apply_fn, layer_kernel_fn(transform, reqs, name)


def _reorder(c: Covariances, spatial: tuple, in_letters, out_letters, out_spec: str,
             channels: int) -> Covariances:
  """Sets the output shapes and permutes the spatial axes from the input's to the output's
  order (`dimension_numbers`)."""
  perm = [in_letters.index(l) for l in out_letters]
  new_spatial = tuple(spatial[p] for p in perm)

  def shape(old):
    size = {"N": old[c.batch_axis], "C": channels}
    it = iter(new_spatial)
    return tuple(size[ch] if ch in size else next(it) for ch in out_spec)

  if perm != sorted(perm):
    k = len(perm)

    def permute(m, n_batch):
      if c.diagonal:
        return m.reshape(m.shape[:n_batch] + spatial).transpose(
            list(range(n_batch)) + [n_batch + p for p in perm]).reshape(m.shape)
      g = m.reshape(m.shape[:n_batch] + spatial + spatial)
      order = list(range(n_batch)) + [n_batch + p for p in perm] + [n_batch + k + p
                                                                     for p in perm]
      return g.transpose(order).reshape(m.shape)

    c = c.replace(nngp=permute(c.nngp, 2), ntk=None if c.ntk is None else permute(c.ntk, 2),
                  cov1=permute(c.cov1, 1), cov2=None if c.cov2 is None else permute(c.cov2, 1))
  return c.replace(shape1=shape(c.shape1), shape2=shape(c.shape2),
                   batch_axis=out_spec.index("N"), channel_axis=out_spec.index("C"))


_ARGS_DOC = """
  Args:
    out_chan: output channels (the 'ntk' kernel does not depend on it).
    filter_shape: spatial filter shape, e.g. (3, 3), in the order of the spatial letters of
      `dimension_numbers`' filter spec.
    strides: spatial strides (default all 1).
    padding: 'VALID', 'SAME' or 'CIRCULAR' (periodic).
    W_std, b_std: weight / bias standard deviations (`b_std=None`: no bias).
    dimension_numbers: `(lhs_spec, rhs_spec, out_spec)` as in `lax.conv_general_dilated`,
      default `('NABC', 'ABIO', 'NABC')` (channels last).
    parameterization: 'ntk' (weights N(0, 1) scaled by W_std / sqrt(fan_in), fan_in =
      in_channels * prod(filter_shape)) or 'standard' (weights N(0, W_std^2 s[0] / fan_in)).
    s: width scalings of the standard parameterization, as for `Dense`.
"""


def Conv(out_chan: int, filter_shape: Sequence[int], strides: Sequence[int] | None = None,
         padding: str = "VALID", W_std: float = 1.0, b_std: float | None = None,
         dimension_numbers=None, parameterization: str = "ntk", s: tuple[int, int] = (1, 1)):
  return _Conv(out_chan, filter_shape, strides, padding, W_std, b_std, dimension_numbers,
               parameterization, s, False, True, "Conv")


def ConvTranspose(out_chan: int, filter_shape: Sequence[int],
                  strides: Sequence[int] | None = None, padding: str = "VALID",
                  W_std: float = 1.0, b_std: float | None = None, dimension_numbers=None,
                  parameterization: str = "ntk", s: tuple[int, int] = (1, 1)):
  return _Conv(out_chan, filter_shape, strides, padding, W_std, b_std, dimension_numbers,
               parameterization, s, True, True, "ConvTranspose")


def ConvLocal(out_chan: int, filter_shape: Sequence[int],
              strides: Sequence[int] | None = None, padding: str = "VALID",
              W_std: float = 1.0, b_std: float | None = None, dimension_numbers=None,
              parameterization: str = "ntk", s: tuple[int, int] = (1, 1)):
  return _Conv(out_chan, filter_shape, strides, padding, W_std, b_std, dimension_numbers,
               parameterization, s, False, False, "ConvLocal")


Conv.__doc__ = ("General convolution (`lax.conv_general_dilated`); weights shared across "
                "positions." + _ARGS_DOC)
ConvTranspose.__doc__ = ("Transposed convolution (`lax.conv_transpose`); the kernel applies "
                         "the transposed diagonal filter." + _ARGS_DOC)
ConvLocal.__doc__ = ("Locally connected layer (`lax.conv_general_dilated_local`): separate "
                     "weights at every output position, so different positions are "
                     "uncorrelated and the kernel keeps only the spatial diagonal."
                     + _ARGS_DOC)
