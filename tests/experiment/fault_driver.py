"""Runs an experiment entry point and SIGKILLs it in the middle of a chosen write.

  python tests/experiment/fault_driver.py EVENT N MODULE [FLAGS...]

EVENT is where the process dies, at the N-th time (1-based) it happens:
  jsonl       half-way through appending a line to a JSON-lines file (metrics.jsonl, records)
  checkpoint  after an orbax checkpoint save has started, before it is committed
  json        after a results / config JSON temp file is written, before its rename
  sweep       half-way through appending a record to sweep.jsonl
The library is not changed: the driver wraps the functions that do these writes.
"""

import os
import runpy
import signal
import sys


def die():
  os.kill(os.getpid(), signal.SIGKILL)


def counter(n):
  state = {"calls": 0}

  def hit():
    state["calls"] += 1
    return state["calls"] == n

  return hit


def install(event: str, n: int) -> None:
  hit = counter(n)
  if event == "jsonl":
    from jaxlab.experiment import workdir  # pylint: disable=g-import-not-at-top
    original = workdir.Workdir.append_jsonl

    def append_jsonl(self, name, record):
      if hit():
        import json  # pylint: disable=g-import-not-at-top
        line = json.dumps(workdir.to_jsonable(record))
        with open(self.file(name), "a") as f:
          f.write(line[:len(line) // 2])
        die()
      return original(self, name, record)

    workdir.Workdir.append_jsonl = append_jsonl
  elif event == "checkpoint":
    from jaxlab.training import checkpoint  # pylint: disable=g-import-not-at-top
    original_save = checkpoint.save_state

    def save_state(manager, step, state):
      if hit():
        import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
        manager.save(step, args=ocp.args.StandardSave(state))  # asynchronous: not committed
        die()
      return original_save(manager, step, state)

    checkpoint.save_state = save_state
    from jaxlab.training import loop  # pylint: disable=g-import-not-at-top
    loop.ckpt_lib.save_state = save_state
  elif event == "json":
    from jaxlab.experiment import workdir  # pylint: disable=g-import-not-at-top
    original_replace = os.replace

    def replace(src, dst):
      if dst.endswith(".json") and os.path.basename(src).startswith(".tmp_") and hit():
        die()
      return original_replace(src, dst)

    workdir.os.replace = replace
  elif event == "sweep":
    from jaxlab.experiment import sweep  # pylint: disable=g-import-not-at-top
    original_append = sweep.append_record

    def append_record(path, record):
      if hit():
        import json  # pylint: disable=g-import-not-at-top
        line = json.dumps(sweep.to_jsonable(record))
        with open(path, "a") as f:
          f.write(line[:len(line) // 2])
        die()
      return original_append(path, record)

    sweep.append_record = append_record
  else:
    raise SystemExit(f"unknown event {event!r}")


if __name__ == "__main__":
  event, n, module, *flags = sys.argv[1:]
  install(event, int(n))
  sys.argv = [module, *flags]
  runpy.run_module(module, run_name="__main__", alter_sys=True)
