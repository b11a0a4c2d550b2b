"""Branching: `FanOut`, `FanInSum`, `FanInProd`, `FanInConcat` (NT's `stax` semantics).

  from jaxlab.ntk import stax
  _, _, kernel_fn = stax.serial(
      stax.FanOut(2),
      stax.parallel(stax.Dense(32), stax.serial(stax.Dense(32), stax.Erf())),
      stax.FanInConcat())                # channels of both branches: kernels average
  kernel_fn(x, None, "nngp")             # (N, N)

Fan-in layers assume independent branches (each with its own random weights, as after
`FanOut` into branches that start with a Dense / Conv layer). Then sums of mean-zero
Gaussian branches add their kernels, products multiply them (ntk by the product rule), and
channel concatenation averages them weighted by width; concatenation along a spatial axis
places the branches' covariances in diagonal blocks.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp

from jaxlab.ntk.kernel import (Covariances, Requirements, check_same_layout,
                               check_shapes_equal, layer_kernel_fn, majority_reversed)


def FanOut(num: int):
  """`num` copies of the input (a list), e.g. for residual branches."""

  def init_fn(rng, input_shape):
    del rng
    return [input_shape] * num, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return [inputs] * num

  return init_fn, apply_fn, layer_kernel_fn(lambda c: [c] * num, Requirements(), "FanOut")


def _fan_in(cs, name: str) -> list[Covariances]:
  cs = list(cs)
  if not cs:
    raise ValueError(f"{name} needs at least one input")
  check_same_layout(cs, name)
  return cs


def FanInSum():
  """Sum of a list of inputs; the kernels add (all branches must be Gaussian)."""

  def init_fn(rng, input_shapes):
    del rng
    return input_shapes[0], ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return sum(inputs[1:], inputs[0])

  def transform(cs) -> Covariances:
    cs = _fan_in(cs, "FanInSum")
    check_shapes_equal(cs, "FanInSum")
    if len(cs) > 1 and not all(c.is_gaussian for c in cs):
      raise NotImplementedError(
          f"FanInSum is only implemented when every branch is mean-zero Gaussian (ends in an "
          f"affine layer); got is_gaussian={[c.is_gaussian for c in cs]}")
    add = lambda ms: None if ms[0] is None else sum(ms[1:], ms[0])
    return cs[0].replace(nngp=add([c.nngp for c in cs]), ntk=add([c.ntk for c in cs]),
                         cov1=add([c.cov1 for c in cs]), cov2=add([c.cov2 for c in cs]),
                         is_reversed=majority_reversed(cs), is_input=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(), "FanInSum")


def FanInProd():
  """Elementwise product of a list of inputs: nngp' = prod nngp_i, ntk' = sum_i ntk_i
  prod_{j != i} nngp_j (product rule), for independent branches."""

  def init_fn(rng, input_shapes):
    del rng
    return input_shapes[0], ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return functools.reduce(jnp.multiply, inputs)

  def transform(cs) -> Covariances:
    cs = _fan_in(cs, "FanInProd")
    check_shapes_equal(cs, "FanInProd")
    prod = lambda ms: None if any(m is None for m in ms) else functools.reduce(jnp.multiply, ms)
    nngp, ntk = cs[0].nngp, cs[0].ntk
    for c in cs[1:]:
      ntk = None if ntk is None or c.ntk is None else ntk * c.nngp + nngp * c.ntk
      nngp = nngp * c.nngp
    return cs[0].replace(nngp=nngp, ntk=ntk, cov1=prod([c.cov1 for c in cs]),
                         cov2=prod([c.cov2 for c in cs]),
                         is_gaussian=len(cs) == 1 and cs[0].is_gaussian,
                         is_reversed=majority_reversed(cs), is_input=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(), "FanInProd")


def FanInConcat(axis: int = -1):
  """Concatenation of a list of inputs along `axis` (the channel axis or a spatial axis;
  not the batch axis)."""

  def init_fn(rng, input_shapes):
    del rng
    ax = axis % len(input_shapes[0])
    shape = list(input_shapes[0])
    shape[ax] = sum(s[ax] for s in input_shapes)
    return tuple(shape), ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return jnp.concatenate(inputs, axis)

  def transform(cs) -> Covariances:
    cs = _fan_in(cs, "FanInConcat")
    c0 = cs[0]
    ndim = len(c0.shape1)
    ax = axis % ndim
    for c in cs[1:]:
      for a, b in ((c.shape1, c0.shape1), (c.shape2, c0.shape2)):
        if a[:ax] + a[ax + 1:] != b[:ax] + b[ax + 1:]:
          raise ValueError(f"FanInConcat: shapes must agree except on axis {axis}, got "
                           f"{[c.shape1 for c in cs]}")
    concat_shape = lambda shapes: tuple(sum(s[ax] for s in shapes) if i == ax else d
                                        for i, d in enumerate(shapes[0]))
    shapes = dict(shape1=concat_shape([c.shape1 for c in cs]),
                  shape2=concat_shape([c.shape2 for c in cs]),
                  is_reversed=majority_reversed(cs), is_input=False)
    if ax == c0.channel_axis:
      widths = [float(c.shape1[ax]) for c in cs]
      mean = lambda ms: None if ms[0] is None else sum(
          w * m for w, m in zip(widths, ms)) / sum(widths)
      return c0.replace(nngp=mean([c.nngp for c in cs]), ntk=mean([c.ntk for c in cs]),
                        cov1=mean([c.cov1 for c in cs]), cov2=mean([c.cov2 for c in cs]),
                        is_gaussian=False, **shapes)
    if ax == c0.batch_axis:
      raise NotImplementedError("FanInConcat along the batch axis is not supported")
    if not all(c.is_gaussian for c in cs):
      raise NotImplementedError("FanInConcat along a spatial axis needs mean-zero Gaussian "
                                "branches (each ending in an affine layer)")
    spatial_index = [i for i in range(ndim) if i not in (c0.batch_axis, c0.channel_axis)
                     ].index(ax)
    return _concat_spatial(cs, spatial_index).replace(is_gaussian=True, **shapes)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(), "FanInConcat")


def _concat_spatial(cs: list[Covariances], i: int) -> Covariances:
  """Concatenation along spatial axis i: block-diagonal over the branches (independent)."""
  c0 = cs[0]
  k = len(c0.spatial)

  def concat(ms, n_batch):
    if ms[0] is None:
      return None
    grids = [c.grid(m, n_batch) for c, m in zip(cs, ms)]
    if c0.diagonal:
      out = jnp.concatenate(grids, n_batch + i)
    else:
      a, b = n_batch + i, n_batch + k + i
      sizes = [g.shape[b] for g in grids]
      rows = []
      for j, g in enumerate(grids):
        widths = [(0, 0)] * g.ndim
        widths[b] = (sum(sizes[:j]), sum(sizes[j + 1:]))
        rows.append(jnp.pad(g, widths))
      out = jnp.concatenate(rows, a)
    t = math.prod(out.shape[n_batch:n_batch + k])
    return out.reshape(out.shape[:n_batch] + ((t,) if c0.diagonal else (t, t)))

  return c0.replace(nngp=concat([c.nngp for c in cs], 2), ntk=concat([c.ntk for c in cs], 2),
                    cov1=concat([c.cov1 for c in cs], 1), cov2=concat([c.cov2 for c in cs], 1))
