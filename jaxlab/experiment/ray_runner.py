"""A sweep runner backed by Ray: each grid point is a Ray task (extra `ray`).

  runner = RayRunner()                                  # local Ray with this machine's CPUs
  runner = RayRunner(address="auto", cpus_per_point=4)  # an existing cluster (`ray start`)
  records = sweep.run_sweep(train_one, points, "/tmp/sweep", runner=runner, retries=1)

`map` yields each point as its task finishes, so `run_sweep` appends it to sweep.jsonl at once:
a killed driver or a lost worker loses no finished point, and the next run skips them. A task
that raises (or whose worker dies) comes back as its exception; `run_sweep(retries=...)`
decides whether to try it again. A Ray started here (no `address`, none running) is shut down
when the sweep ends; a cluster given by `address` is left running. On a cluster, every node
needs jaxlab installed (or a `runtime_env` with the working directory; see Ray's docs).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

from jaxlab.experiment.sweep import Outcome, Point, timed_call


class RayRunner:
  """Runs the points as Ray tasks.

  Args:
    address: a running cluster (`"auto"`, `"ray://host:10001"`, ...); None starts a local
      Ray with `num_cpus` CPUs (default: all of this machine's).
    cpus_per_point, gpus_per_point: resources each point's task asks for.
    num_cpus: CPUs of a local Ray (ignored with `address`).
    runtime_env: passed to `ray.init` (e.g. a working directory for a cluster).
  """

  def __init__(self, address: str | None = None, *, cpus_per_point: float = 1.0,
               gpus_per_point: float = 0.0, num_cpus: int | None = None,
               runtime_env: dict[str, Any] | None = None):
    if cpus_per_point <= 0 or gpus_per_point < 0:
      raise ValueError(f"cpus_per_point must be > 0 and gpus_per_point >= 0, got "
                       f"{cpus_per_point}, {gpus_per_point}")
    self.address = address
    self.cpus_per_point = cpus_per_point
    self.gpus_per_point = gpus_per_point
    self.num_cpus = num_cpus
    self.runtime_env = runtime_env

  def _init(self) -> bool:
    """Connects to (or starts) Ray; True if this call started it."""
    import ray  # pylint: disable=g-import-not-at-top
    if ray.is_initialized():
      return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  runtime_env=self.runtime_env)
    if self.address is None:
      kwargs["num_cpus"] = self.num_cpus or os.cpu_count()
    ray.init(address=self.address, **kwargs)
    return True

  def map(self, fn: Callable[[Point], Any], points: Sequence[Point]) -> Iterator[Outcome]:
    import ray  # pylint: disable=g-import-not-at-top
    started = self._init()
    try:
      task = ray.remote(num_cpus=self.cpus_per_point, num_gpus=self.gpus_per_point,
                        max_retries=0)(timed_call)
      pending = {task.remote(fn, point): point for point in points}
      while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        point = pending.pop(ref)
        try:
          result, wall = ray.get(ref)
        except Exception as e:  # pylint: disable=broad-except  (the task's error, or a lost worker)
          result, wall = getattr(e, "cause", None) or e, float("nan")
        yield point, result, wall
    finally:
      if started:
        ray.shutdown()
