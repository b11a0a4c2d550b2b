"""Multi-host runs: one JAX program over the devices of several processes (`jax.distributed`).

  distributed.initialize()                       # on a cluster JAX detects (SLURM, TPU, ...)
  distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=0)   # explicit

Every process runs the same entry point with `--distributed` (and, off a managed cluster,
`--coordinator_address`, `--num_processes`, `--process_id`); sharded computations then span
all processes' devices (`jax.devices()` is global), and only process 0 writes the workdir
(`Workdir.is_writer`). On CPU the processes exchange data with gloo, so a two-process run on
one machine exercises the multi-host path without accelerators.
"""

from __future__ import annotations

import jax


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """Joins this process to a multi-process JAX run (before any other JAX call).

  Args:
    coordinator_address: host:port of process 0's coordinator; None lets JAX detect it from
      the cluster environment.
    num_processes, process_id: this run's size and this process's rank (None: detected).

  Raises:
    ValueError: the arguments are incomplete (an address without a size, or a rank out of
      range).
  """
  if coordinator_address is not None and num_processes is None:
    raise ValueError("num_processes: required with coordinator_address")
  if num_processes is not None and (num_processes < 1 or process_id is None or
                                    not 0 <= process_id < num_processes):
    raise ValueError(f"process_id: expected 0 <= process_id < num_processes = {num_processes}, "
                     f"got {process_id}")
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id)


def is_coordinator() -> bool:
  """Whether this is process 0, the one that writes."""
  return jax.process_index() == 0
