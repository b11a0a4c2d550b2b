"""Monte Carlo estimates of NNGP / NTK: empirical kernels averaged over random initialisations.

  init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(1024), stax.Relu(), stax.Dense(1))
  mc_fn = monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.key(0), n_samples=32,
                                vmap_axes=0)
  mc_fn(x1, x2, "ntk")                          # (N1, N2) -> kernel_fn(x1, x2, "ntk") as the
                                                # width and n_samples grow
  for k in monte_carlo_kernel_fn(init_fn, apply_fn, key, (8, 64))(x1, None, "nngp"):
    ...                                         # estimates after 8 and after 64 samples

The estimate of a finite-width network converges to the infinite-width kernel as O(1 / width)
in its mean and O(1 / sqrt(width * n_samples)) in its fluctuation.
"""

from __future__ import annotations

from typing import Callable, Iterable

import jax
from jax import tree_util

from jaxlab.ntk.batching import batch
from jaxlab.ntk.empirical import (DEFAULT_NTK_IMPLEMENTATION, Axes, _canonical_get,
                                  empirical_kernel_fn)


def monte_carlo_kernel_fn(init_fn: Callable, apply_fn: Callable, key: jax.Array,
                          n_samples: int | Iterable[int], batch_size: int = 0,
                          device_count: int = -1, store_on_device: bool = True,
                          trace_axes: Axes = (-1,), diagonal_axes: Axes = (), vmap_axes=None,
                          implementation=DEFAULT_NTK_IMPLEMENTATION):
  """Returns `kernel_fn(x1, x2=None, get=None, **apply_fn_kwargs)`: the mean of empirical
  kernels of `apply_fn` over `n_samples` parameter draws `init_fn(key_i, x1.shape)`.

  Args:
    init_fn, apply_fn: a network, e.g. from `jaxlab.ntk.stax`.
    key: PRNG key; sample i uses `jax.random.split(key, max(n_samples))[i]`.
    n_samples: an int, or increasing ints at which the returned function's generator yields
      the running estimate.
    batch_size: if positive, each empirical kernel is tiled (`jaxlab.ntk.batch`).
    device_count, store_on_device: spread the rows of x1 over devices and keep tiles on
      device or in host memory (`jaxlab.ntk.batch`); -1 uses all local devices.
    trace_axes, diagonal_axes, vmap_axes, implementation: as in `empirical_kernel_fn`.
  Returns:
    For `get` a string, an array; a tuple or None, a namedtuple `EmpiricalKernel`; for
    iterable `n_samples`, a generator of those.
  """
  counts = [n_samples] if isinstance(n_samples, int) else list(n_samples)
  if not counts or any((not isinstance(n, int)) or n < 1 for n in counts) or counts != sorted(
      counts):
    raise ValueError(f"n_samples must be a positive int or increasing positive ints, got "
                     f"{n_samples!r}")
  keys = jax.random.split(key, counts[-1])
  empirical = empirical_kernel_fn(apply_fn, trace_axes, diagonal_axes, vmap_axes,
                                  implementation)

  def sample(x1, x2, get, k, **kwargs):
    _, params = init_fn(k, tree_util.tree_map(lambda a: a.shape, x1))
    return empirical(x1, x2, get, params, **kwargs)

  if batch_size or jax.local_device_count() > 1 and device_count not in (0, 1):
    sample = batch(sample, batch_size, device_count, store_on_device)
  else:
    sample = jax.jit(sample, static_argnames="get")

  def estimates(x1, x2, get, kwargs):
    total = None
    for i, k in enumerate(keys):
      draw = sample(x1, x2, get, k, **kwargs)
      total = draw if total is None else tree_util.tree_map(lambda a, b: a + b, total, draw)
      if i + 1 in counts:
        yield tree_util.tree_map(lambda a, n=i + 1: a / n, total)

  def kernel_fn(x1, x2=None, get=None, **apply_fn_kwargs):
    names, single = _canonical_get(get)
    get = names[0] if single else names
    if isinstance(n_samples, int):
      return next(estimates(x1, x2, get, apply_fn_kwargs))
    return estimates(x1, x2, get, apply_fn_kwargs)

  return kernel_fn
