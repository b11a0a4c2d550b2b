"""Grid sweeps that survive interruption.

  points = expand_grid({"lr": [1e-3, 1e-2], "seed": [0, 1, 2]})    # 6 dicts, fixed order
  records = run_sweep(train_one, points, "/tmp/sweep")              # train_one(point) -> dict
  records = run_sweep(train_one, points, "/tmp/sweep",              # same, 2 processes
                      runner=ProcessPoolRunner(2), retries=1)

Every finished point is appended at once to `DIR/sweep.jsonl` as `{"id", "point", "result",
"wall_s"}` (one line, flushed and fsynced); a re-run skips the points already there, so an
interrupted sweep loses nothing. A point that still fails after `retries` further attempts is
recorded as `{"id", "point", "error", "wall_s"}` and tried again by the next run. A line torn
by a kill is ignored on read and cut off before the next append.

A runner provides `map(fn, points) -> iterator of (point, result or exception, wall_s)` in
completion order: `SerialRunner`, `ProcessPoolRunner` (local processes) and `RayRunner`
(`jaxlab.experiment.ray_runner`, local Ray or a cluster). `fn` must be a picklable
(module-level) function for process and Ray runners.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import hashlib
import itertools
import json
import multiprocessing
import os
import signal
import sys
import time
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from absl import logging

from jaxlab.experiment import progress
from jaxlab.experiment.workdir import to_jsonable

SWEEP_LOG = "sweep.jsonl"
Point = Mapping[str, Any]
Outcome = tuple[Point, Any, float]  # (point, result dict or the exception raised, wall seconds)


class SweepError(RuntimeError):
  """Some points failed; the finished ones are saved."""


def expand_grid(grid: Mapping[str, Sequence[Any]], base: Mapping[str, Any] | None = None
                ) -> list[dict[str, Any]]:
  """Cartesian product of `grid` (last key varies fastest), each merged over `base`."""
  for k, values in grid.items():
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
      raise ValueError(f"grid[{k!r}] must be a non-empty list of values, got {values!r}")
  keys = list(grid)
  return [{**(base or {}), **dict(zip(keys, combo))}
          for combo in itertools.product(*(grid[k] for k in keys))]


def point_id(point: Point) -> str:
  """A stable id of a point: the first 12 hex digits of the SHA-1 of its sorted JSON."""
  text = json.dumps(to_jsonable(point), sort_keys=True)
  return hashlib.sha1(text.encode()).hexdigest()[:12]


def read_log(sweep_dir: str) -> dict[str, dict[str, Any]]:
  """`{id: record}` of the points recorded in `sweep_dir` (a torn line is ignored; the last
  record of a point wins, so a later success replaces an earlier failure)."""
  path = os.path.join(sweep_dir, SWEEP_LOG)
  records: dict[str, dict[str, Any]] = {}
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        try:
          record = json.loads(line)
        except json.JSONDecodeError:
          logging.warning("ignoring a torn line in %s", path)
          continue
        records[record["id"]] = record
  return records


def finished(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
  """The records of `read_log` that hold a result (not an error)."""
  return {i: dict(r) for i, r in records.items() if "result" in r}


def repair_tail(path: str) -> None:
  """Cuts a last line that a kill left without its newline, so the next append starts a
  line of its own (the torn record is lost, never a finished one after it)."""
  if not os.path.exists(path) or not os.path.getsize(path):
    return
  with open(path, "rb+") as f:
    f.seek(-1, os.SEEK_END)
    if f.read(1) == b"\n":
      return
    f.seek(0)
    data = f.read()
    f.truncate(data.rfind(b"\n") + 1)
    f.flush()
    os.fsync(f.fileno())


def append_record(path: str, record: Mapping[str, Any]) -> None:
  """Appends one JSON line and makes it durable (flush + fsync) before returning."""
  line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
  with open(path, "a") as f:
    f.write(line)
    f.flush()
    os.fsync(f.fileno())


class Runner(Protocol):

  def map(self, fn: Callable[[Point], Any], points: Sequence[Point]) -> Iterator[Outcome]:
    ...


def timed_call(fn, point):
  """`(fn(point), seconds)`; module-level so process and Ray workers can unpickle it."""
  t0 = time.perf_counter()
  return fn(point), time.perf_counter() - t0


PARENT_PID_ENV = "JAXLAB_DIE_WITH_PARENT"


def die_with_parent(parent_pid: int | None = None) -> None:
  """Asks Linux to SIGKILL this process when its parent dies (no-op elsewhere), so a killed
  sweep driver leaves no worker running a point that `--resume` would start again. With
  `parent_pid`, a process whose parent already died before the request exits at once."""
  if sys.platform.startswith("linux"):
    try:
      ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
      return
    if parent_pid is not None and os.getppid() != parent_pid:
      os._exit(1)  # pylint: disable=protected-access


def child_env() -> dict[str, str]:
  """Environment entries for a subprocess that should die with this process: the child calls
  `die_with_parent_if_asked()` at start-up (no `preexec_fn`, which is unsafe once JAX has
  started threads and runs JAX's fork warning)."""
  return {PARENT_PID_ENV: str(os.getpid())}


def die_with_parent_if_asked() -> None:
  """`die_with_parent` when this process was started with `child_env()`."""
  parent = os.environ.pop(PARENT_PID_ENV, None)
  if parent is not None:
    die_with_parent(int(parent))


class SerialRunner:
  """Runs the points one after another in this process."""

  def map(self, fn, points):
    for point in points:
      t0 = time.perf_counter()
      try:
        result = fn(point)
      except Exception as e:  # pylint: disable=broad-except
        result = e
      yield point, result, time.perf_counter() - t0


class ProcessPoolRunner:
  """Runs the points in a local pool of `max_workers` fresh ('spawn') processes, which die
  with the driver."""

  def __init__(self, max_workers: int):
    if max_workers < 1:
      raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    self.max_workers = max_workers

  def map(self, fn, points):
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once JAX has started threads
    with concurrent.futures.ProcessPoolExecutor(self.max_workers, mp_context=ctx,
                                                initializer=die_with_parent) as pool:
      futures = {pool.submit(timed_call, fn, p): p for p in points}
      for future in concurrent.futures.as_completed(futures):
        try:
          result, wall = future.result()
        except Exception as e:  # pylint: disable=broad-except
          result, wall = e, float("nan")
        yield futures[future], result, wall


def run_sweep(fn: Callable[[Point], Mapping[str, Any]], points: Sequence[Point], sweep_dir: str,
              *, runner: Runner | None = None, retries: int = 1) -> list[dict[str, Any]]:
  """Runs `fn` on every point not yet finished in `sweep_dir`.

  Args:
    fn: `point -> result dict` (JSON-able).
    points: e.g. from `expand_grid`; duplicates are run once.
    sweep_dir: created if missing; holds sweep.jsonl.
    runner: `SerialRunner()` (default), `ProcessPoolRunner(n)`, `RayRunner(...)` or any
      object with the same `map`.
    retries: further attempts for a point that raises, before it is recorded as failed.

  Returns:
    The records `{"id", "point", "result", "wall_s"}` of all points, in the order of `points`.

  Raises:
    SweepError: after all other points ran, if some failed (recorded with their error; the
      next call retries them).
  """
  if retries < 0:
    raise ValueError(f"retries must be >= 0, got {retries}")
  runner = runner or SerialRunner()
  os.makedirs(sweep_dir, exist_ok=True)
  log_path = os.path.join(sweep_dir, SWEEP_LOG)
  repair_tail(log_path)
  done = finished(read_log(sweep_dir))
  ids = [point_id(p) for p in points]
  todo = list({i: p for i, p in zip(ids, points) if i not in done}.values())
  logging.info("sweep %s: %d points, %d finished before, %d to run", sweep_dir, len(set(ids)),
               len(set(ids)) - len(todo), len(todo))
  failures: dict[str, tuple[Point, BaseException]] = {}
  bar = iter(progress.bar(range(len(todo)), desc="sweep points", total=len(todo)))
  for attempt in range(retries + 1):
    batch = todo if attempt == 0 else [p for p, _ in failures.values()]
    if not batch:
      break
    failures = {}
    for point, result, wall in runner.map(fn, batch):
      pid = point_id(point)
      if isinstance(result, BaseException):
        logging.error("sweep point %s failed (attempt %d of %d): %r", dict(point), attempt + 1,
                      retries + 1, result)
        failures[pid] = (point, result)
        if attempt == retries:
          append_record(log_path, {"id": pid, "point": point, "error": repr(result)[-2000:],
                                   "wall_s": wall})
          next(bar, None)
        continue
      record = to_jsonable({"id": pid, "point": point, "result": result, "wall_s": wall})
      append_record(log_path, record)
      done[pid] = record
      next(bar, None)
      logging.info("sweep point %d/%d done in %.1fs: %s", len(done), len(set(ids)), wall,
                   dict(point))
  if failures:
    raise SweepError(f"{len(failures)} of {len(todo)} points failed (finished points are saved "
                     "in sweep.jsonl; re-run to retry the failed ones): " +
                     "; ".join(f"{dict(p)}: {e!r}" for p, e in failures.values()))
  return [done[i] for i in ids]
