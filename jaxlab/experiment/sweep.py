"""Grid sweeps that survive interruption.

  points = expand_grid({"lr": [1e-3, 1e-2], "seed": [0, 1, 2]})    # 6 dicts, fixed order
  records = run_sweep(train_one, points, "/tmp/sweep")              # train_one(point) -> dict
  records = run_sweep(train_one, points, "/tmp/sweep",              # same, 2 processes
                      runner=ProcessPoolRunner(2))

Every finished point is appended at once to `DIR/sweep.jsonl` as
`{"id", "point", "result", "wall_s"}`; a re-run skips the points already there, so an
interrupted sweep loses nothing. A runner only has to provide
`map(fn, points) -> iterator of (point, result or exception, wall_s)` in completion order, so
a Ray backend (`ray.util.multiprocessing.Pool`, or tasks with `ray.wait`) plugs in without
changing callers. `fn` must be a picklable (module-level) function for process runners.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import multiprocessing
import os
import time
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from absl import logging

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
  """`{id: record}` of the finished points in `sweep_dir` (a torn last line is ignored)."""
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


class Runner(Protocol):

  def map(self, fn: Callable[[Point], Any], points: Sequence[Point]) -> Iterator[Outcome]:
    ...


def _timed(fn, point):
  t0 = time.perf_counter()
  return fn(point), time.perf_counter() - t0


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
  """Runs the points in a local pool of `max_workers` fresh ('spawn') processes."""

  def __init__(self, max_workers: int):
    if max_workers < 1:
      raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    self.max_workers = max_workers

  def map(self, fn, points):
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once JAX has started threads
    with concurrent.futures.ProcessPoolExecutor(self.max_workers, mp_context=ctx) as pool:
      futures = {pool.submit(_timed, fn, p): p for p in points}
      for future in concurrent.futures.as_completed(futures):
        try:
          result, wall = future.result()
        except Exception as e:  # pylint: disable=broad-except
          result, wall = e, float("nan")
        yield futures[future], result, wall


def run_sweep(fn: Callable[[Point], Mapping[str, Any]], points: Sequence[Point], sweep_dir: str,
              *, runner: Runner | None = None) -> list[dict[str, Any]]:
  """Runs `fn` on every point not yet finished in `sweep_dir`.

  Args:
    fn: `point -> result dict` (JSON-able).
    points: e.g. from `expand_grid`; duplicates are run once.
    sweep_dir: created if missing; holds sweep.jsonl.
    runner: `SerialRunner()` (default) or `ProcessPoolRunner(n)`, or any object with the
      same `map`.

  Returns:
    The records `{"id", "point", "result", "wall_s"}` of all points, in the order of `points`.

  Raises:
    SweepError: after all other points ran, if some raised; they are retried on the next call.
  """
  runner = runner or SerialRunner()
  os.makedirs(sweep_dir, exist_ok=True)
  done = read_log(sweep_dir)
  ids = [point_id(p) for p in points]
  todo = list({i: p for i, p in zip(ids, points) if i not in done}.values())
  logging.info("sweep %s: %d points, %d finished before, %d to run", sweep_dir, len(set(ids)),
               len(set(ids)) - len(todo), len(todo))
  failures = []
  with open(os.path.join(sweep_dir, SWEEP_LOG), "a") as log:
    for k, (point, result, wall) in enumerate(runner.map(fn, todo), 1):
      if isinstance(result, BaseException):
        logging.error("sweep point %s failed: %r", dict(point), result)
        failures.append((point, result))
        continue
      record = to_jsonable({"id": point_id(point), "point": point, "result": result,
                            "wall_s": wall})
      log.write(json.dumps(record) + "\n")
      log.flush()
      os.fsync(log.fileno())
      done[record["id"]] = record
      logging.info("sweep point %d/%d done in %.1fs: %s", k, len(todo), wall, dict(point))
  if failures:
    raise SweepError(f"{len(failures)} of {len(todo)} points failed (finished points are saved "
                     "in sweep.jsonl; re-run to retry the failed ones): " +
                     "; ".join(f"{dict(p)}: {e!r}" for p, e in failures))
  return [done[i] for i in ids]
