"""Combinators: `serial`, `parallel`, `repeat` (NT's `stax` semantics).

  from jaxlab.ntk import stax
  block = stax.serial(stax.FanOut(2),
                      stax.parallel(stax.serial(stax.Relu(), stax.Dense(64)), stax.Identity()),
                      stax.FanInSum())                       # x + Dense(Relu(x))
  init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(64), stax.repeat(block, 4),
                                             stax.Relu(), stax.Dense(1))

`parallel` takes and returns lists (nested lists work: `parallel(parallel(a, b), c)` takes
`[[xa, xb], xc]`); `apply_fn(params, x, rng=key)` splits `rng` over the layers (Dropout).
"""

from __future__ import annotations

import functools

import jax

from jaxlab.ntk.kernel import Requirements, layer_kernel_fn, requirements_of, transform_of


def _split_rng(kwargs: dict, n: int) -> list[dict]:
  """Per-layer kwargs: `rng` split into n keys (as jax.example_libraries.stax does)."""
  rng = kwargs.get("rng")
  if rng is None:
    return [kwargs] * n
  return [dict(kwargs, rng=k) for k in jax.random.split(rng, n)]


def serial(*layers):
  """Composition of `(init_fn, apply_fn, kernel_fn)` triples, first layer first."""
  if not layers:
    raise ValueError("serial needs at least one layer")
  init_fns, apply_fns, kernel_fns = zip(*layers)
  transforms = [transform_of(k) for k in kernel_fns]
  reqs = functools.reduce(Requirements.then, map(requirements_of, kernel_fns))

  def init_fn(rng, input_shape):
    params = []
    for init, key in zip(init_fns, jax.random.split(rng, len(init_fns))):
      input_shape, p = init(key, input_shape)
      params.append(p)
    return input_shape, tuple(params)

  def apply_fn(params, inputs, **kwargs):
    for apply, p, kw in zip(apply_fns, params, _split_rng(kwargs, len(apply_fns))):
      inputs = apply(p, inputs, **kw)
    return inputs

  def transform(c):
    for t in transforms:
      c = t(c)
    return c

  return init_fn, apply_fn, layer_kernel_fn(transform, reqs, "serial")


def parallel(*layers):
  """Layers applied side by side to a list of inputs; returns a list (same type)."""
  if not layers:
    raise ValueError("parallel needs at least one layer")
  init_fns, apply_fns, kernel_fns = zip(*layers)
  transforms = [transform_of(k) for k in kernel_fns]
  reqs = functools.reduce(Requirements.both, map(requirements_of, kernel_fns))

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
    return type(inputs)(apply(p, x, **kw) for apply, p, x, kw in
                        zip(apply_fns, params, inputs, _split_rng(kwargs, len(layers))))

  def transform(cs):
    _check(cs, "kernels")
    return type(cs)(t(c) for t, c in zip(transforms, cs))

  return init_fn, apply_fn, layer_kernel_fn(transform, reqs, "parallel")


def repeat(layer, n: int):
  """`layer` composed `n` times, its parameters stacked and applied in a `lax.scan` (fast
  compilation for deep networks). The layer must keep its input shape. The kernel is the
  n-fold composition (also correct for layers that flip `is_reversed`, e.g. one Conv)."""
  if not isinstance(n, int) or n < 0:
    raise ValueError(f"repeat: n must be a non-negative int, got {n!r}")
  init_fn, apply_fn, kernel_fn = layer
  t = transform_of(kernel_fn)
  reqs = requirements_of(kernel_fn)
  for _ in range(n - 1):
    reqs = reqs.then(requirements_of(kernel_fn))

  def init_fn_repeat(rng, input_shape):
    out_shape, _ = init_fn(rng, input_shape)
    if tuple(out_shape) != tuple(input_shape):
      raise ValueError(f"repeat: the layer maps shape {input_shape} to {out_shape}; it must "
                       f"keep the shape (use serial(*[layer] * n) instead)")

    def step(key, _):
      key, layer_key = jax.random.split(key)
      return key, init_fn(layer_key, input_shape)[1]

    _, params = jax.lax.scan(step, rng, None, n)
    return out_shape, params

  def apply_fn_repeat(params, inputs, **kwargs):
    def step(x, p):
      return apply_fn(p, x, **kwargs), None
    return jax.lax.scan(step, inputs, params, n)[0]

  def transform(c):
    for _ in range(n):
      c = t(c)
    return c

  return init_fn_repeat, apply_fn_repeat, layer_kernel_fn(transform, reqs, "repeat")
