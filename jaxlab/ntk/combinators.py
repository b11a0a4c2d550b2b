"""Combinators: `serial`, `parallel`, `FanOut`, `FanInSum` (NT's `stax` semantics).

  from jaxlab.ntk import stax
  block = stax.serial(stax.FanOut(2),
                      stax.parallel(stax.serial(stax.Relu(), stax.Dense(64)), stax.Identity()),
                      stax.FanInSum())                       # x + Dense(Relu(x))
  init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(64), block, stax.Relu(), stax.Dense(1))

`FanInSum` adds the branches' kernels: the branches must all be mean-zero Gaussian (end in an
affine layer or be the identity of one), so their cross-covariances vanish in the limit.
"""

from __future__ import annotations

import jax

from jaxlab.ntk.kernel import (Covariances, check_shapes_equal, diagonal_spatial_ok,
                               layer_kernel_fn, transform_of)


def serial(*layers):
  """Composition of `(init_fn, apply_fn, kernel_fn)` triples, first layer first."""
  if not layers:
    raise ValueError("serial needs at least one layer")
  init_fns, apply_fns, kernel_fns = zip(*layers)
  transforms = [transform_of(k) for k in kernel_fns]

  def init_fn(rng, input_shape):
    params = []
    for init, key in zip(init_fns, jax.random.split(rng, len(init_fns))):
      input_shape, p = init(key, input_shape)
      params.append(p)
    return input_shape, tuple(params)

  def apply_fn(params, inputs, **kwargs):
    for apply, p in zip(apply_fns, params):
      inputs = apply(p, inputs, **kwargs)
    return inputs

  def transform(c):
    for t in transforms:
      c = t(c)
    return c

  return init_fn, apply_fn, layer_kernel_fn(transform, diagonal_spatial_ok(kernel_fns),
                                            "serial")


def parallel(*layers):
  """Layers applied side by side to a list of inputs; returns a list (same type)."""
  if not layers:
    raise ValueError("parallel needs at least one layer")
  init_fns, apply_fns, kernel_fns = zip(*layers)
  transforms = [transform_of(k) for k in kernel_fns]

  def _check(seq, name):
    if not isinstance(seq, (list, tuple)) or len(seq) != len(layers):
      raise ValueError(f"parallel of {len(layers)} layers needs a list of {len(layers)} "
                       f"{name}, got {type(seq).__name__}")

  def init_fn(rng, input_shapes):
    _check(input_shapes, "input shapes")
    outs = [init(key, shape) for init, key, shape in
            zip(init_fns, jax.random.split(rng, len(layers)), input_shapes)]
    return type(input_shapes)(o[0] for o in outs), tuple(o[1] for o in outs)

  def apply_fn(params, inputs, **kwargs):
    _check(inputs, "inputs")
    return type(inputs)(apply(p, x, **kwargs) for apply, p, x in zip(apply_fns, params, inputs))

  def transform(cs):
    _check(cs, "kernels")
    return type(cs)(t(c) for t, c in zip(transforms, cs))

  return init_fn, apply_fn, layer_kernel_fn(transform, diagonal_spatial_ok(kernel_fns),
                                            "parallel")


def FanOut(num: int):
  """`num` copies of the input (a list), e.g. for residual branches."""

  def init_fn(rng, input_shape):
    del rng
    return [input_shape] * num, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return [inputs] * num

  return init_fn, apply_fn, layer_kernel_fn(lambda c: [c] * num, True, "FanOut")


def FanInSum():
  """Sum of a list of inputs; the kernels add (all branches must be Gaussian)."""

  def init_fn(rng, input_shapes):
    del rng
    return input_shapes[0], ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return sum(inputs[1:], inputs[0])

  def transform(cs) -> Covariances:
    cs = list(cs)
    check_shapes_equal(cs, "FanInSum")
    if len(cs) > 1 and not all(c.is_gaussian for c in cs):
      raise NotImplementedError(
          f"FanInSum is only implemented when every branch is mean-zero Gaussian (ends in an "
          f"affine layer); got is_gaussian={[c.is_gaussian for c in cs]}")
    add = lambda ms: None if ms[0] is None else sum(ms[1:], ms[0])
    return cs[0].replace(nngp=add([c.nngp for c in cs]), ntk=add([c.ntk for c in cs]),
                         cov1=add([c.cov1 for c in cs]), cov2=add([c.cov2 for c in cs]))

  return init_fn, apply_fn, layer_kernel_fn(transform, True, "FanInSum")
