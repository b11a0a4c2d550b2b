"""Memory of soup construction: XLA's compiled memory analysis of a jitted step, and the
process's peak resident set size.

  compiled, mem, compile_s = compile_step(jax.jit(step), *args)   # AOT: compile once
  mem.total_bytes          # arguments + outputs + temporaries - aliased (donated) bytes
  out = compiled(*args)    # run the very executable that was measured

  with PeakRSS() as rss:
    ...
  rss.peak_bytes           # peak RSS of the process inside the block (Linux: VmHWM reset)

`compile_step` accepts `jax.ShapeDtypeStruct` arguments (see `abstract`), so the memory of a
step at any number of ingredients is known without allocating them.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time
from typing import Any

import jax


@dataclasses.dataclass(frozen=True)
class StepMemory:
  """Bytes of one compiled XLA executable (`Compiled.memory_analysis()`).

  Attributes:
    argument_bytes: inputs (parameters, ingredients, batch, optimiser state).
    output_bytes: outputs.
    temp_bytes: temporaries (activations, gradients, intermediate combinations).
    alias_bytes: outputs that reuse donated input buffers (counted once).
  """

  argument_bytes: int = 0
  output_bytes: int = 0
  temp_bytes: int = 0
  alias_bytes: int = 0

  @property
  def total_bytes(self) -> int:
    return self.argument_bytes + self.output_bytes + self.temp_bytes - self.alias_bytes

  def as_dict(self) -> dict[str, int]:
    return dict(dataclasses.asdict(self), total_bytes=self.total_bytes)


def abstract(tree: Any) -> Any:
  """`tree` with every array leaf replaced by a `jax.ShapeDtypeStruct`."""
  return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)


def step_memory(compiled) -> StepMemory:
  """The `StepMemory` of a compiled executable (`jax.jit(f).lower(...).compile()`)."""
  stats = compiled.memory_analysis()
  if stats is None:  # a backend without memory analysis
    return StepMemory()
  return StepMemory(int(stats.argument_size_in_bytes), int(stats.output_size_in_bytes),
                    int(stats.temp_size_in_bytes), int(stats.alias_size_in_bytes))


def compile_step(jitted, *args, **kwargs) -> tuple[Any, StepMemory, float]:
  """Ahead-of-time compiles `jitted` for `args` (arrays or `ShapeDtypeStruct`s).

  Returns:
    `(compiled, memory, compile_s)`: the executable (call it with arrays shaped like `args`),
    its `StepMemory` and the seconds spent lowering and compiling.
  """
  t0 = time.perf_counter()
  compiled = jitted.lower(*args, **kwargs).compile()
  return compiled, step_memory(compiled), time.perf_counter() - t0


_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def current_rss_bytes() -> int:
  """Resident set size of this process now (Linux; 0 where unknown)."""
  return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
  try:
    with open(_STATUS) as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return 0


def _ru_maxrss_bytes() -> int:
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return int(peak) * (1 if sys.platform == "darwin" else 1024)


class PeakRSS:
  """Context manager: the process's peak resident set size inside the block.

  On Linux the kernel's high-water mark is reset on entry (`/proc/self/clear_refs`, value 5),
  so `peak_bytes` is the peak during the block, which includes whatever was already resident
  when it started (`start_bytes`). Elsewhere it falls back to the lifetime peak
  (`getrusage`), and `resettable` is False.
  """

  def __init__(self):
    self.start_bytes = 0
    self.peak_bytes = 0
    self.resettable = False

  def __enter__(self) -> "PeakRSS":
    try:
      with open(_CLEAR_REFS, "w") as f:
        f.write("5")
      self.resettable = True
    except OSError:
      self.resettable = False
    self.start_bytes = current_rss_bytes()
    return self

  def __exit__(self, *exc) -> None:
    peak = _status_bytes("VmHWM") if self.resettable else 0
    self.peak_bytes = peak or _ru_maxrss_bytes()
