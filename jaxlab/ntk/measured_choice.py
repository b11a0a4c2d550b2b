"""The fastest of several equivalent computations, by timing each once on the given shapes.

  times = time_candidates({"a": fn_a, "b": fn_b}, (x1, x2, params))
  min(times, key=times.get)     # the one to use

Each candidate is compiled (`jax.jit(fn).lower(shapes).compile()`) and run on synthetic
inputs of the same shapes and dtypes (standard normal floats, zero integers), so the timing
works while the caller is itself being traced under `jax.jit`. Candidates are timed in the
given order (best of a few calls after a warm-up call); one clearly slower than the best so
far is not run again. Used by the empirical NTK's AUTO implementation (`empirical.py`), which caches the
choice per input shapes in the returned kernel function.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util


def _synthetic(tree, seed: int = 0):
  """Concrete arrays shaped like `tree`'s leaves; raises TypeError for non-numeric leaves."""
  rng = np.random.default_rng(seed)

  def make(leaf):
    shape, dtype = jnp.shape(leaf), jnp.result_type(leaf)
    if jnp.issubdtype(dtype, jnp.inexact):
      return jnp.asarray(rng.standard_normal(shape), dtype)
    if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_):
      return jnp.zeros(shape, dtype)
    raise TypeError(f"cannot synthesise inputs of dtype {dtype}")

  with jax.ensure_compile_time_eval():
    return tree_util.tree_map(make, tree)


def _abstract(tree):
  return tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)),
                            tree)


def _seconds(compiled, args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(compiled(*args))
  return time.perf_counter() - start


def time_candidates(candidates: dict[Any, Callable], args: tuple, prune: float = 2.0,
                    runs: int = 3) -> dict[Any, float]:
  """Seconds per call of each `candidates[name](*args)`: the best of `runs` calls after a
  warm-up call. A candidate stops early once its best is over `prune` x the best so far (its
  warm-up call alone, over 3 `prune` x); a stopped one reports what it measured."""
  concrete = _synthetic(args)
  times = {}
  for name, fn in candidates.items():
    compiled = jax.jit(fn).lower(*_abstract(args)).compile()
    warm = _seconds(compiled, concrete)
    best_so_far = min(times.values()) if times else float("inf")
    if warm > 3 * prune * best_so_far:
      times[name] = warm
      continue
    measured = []
    for _ in range(runs):
      measured.append(_seconds(compiled, concrete))
      if min(measured) > prune * best_so_far:
        break
    times[name] = min(measured)
  return times
