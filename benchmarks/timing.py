"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import jax


def median_time(fn: Callable[[], Any], *, warmup: int = 2, repeats: int = 20) -> float:
  """Median wall time in seconds of `fn()` (its outputs blocked on), after `warmup` calls."""
  for _ in range(warmup):
    jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
  """A plain-text table, numbers formatted to 4 significant digits."""
  cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
  widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
  print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
  print("  ".join("-" * w for w in widths))
  for row in cells:
    print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
