r"""Sweep any experiment over a grid of flag values; an interrupted sweep resumes.

  python -m experiments.sweep --experiment=train_classifier \
      --base_flagfile=experiments/flags/train_classifier_smoke.flags \
      --grid="learning_rate=1e-3,3e-3;seed=0,1,2" --workers=1 --workdir=/tmp/sweep

Each point runs `python -m experiments.<experiment> --flagfile=<base_flagfile> --<k>=<v> ...
--workdir=DIR/runs/<point id>` in its own process; its results.json becomes the point's result
in DIR/sweep.jsonl, and DIR/results.json lists every point. After an interruption, run the same
command with --resume: finished points are skipped, an unfinished point starts again.
Grid syntax: `name=v1,v2,...` joined by `;`; values are passed to the flag verbatim.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys

from absl import app, flags

from experiments import common
from jaxlab import sweep
from jaxlab.workdir import RESULTS, Workdir, WorkdirError

FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", None, "experiment module under experiments/, e.g. "
                    "train_classifier")
flags.DEFINE_string("base_flagfile", None, "flagfile every point starts from")
flags.DEFINE_string("grid", None, "grid of flag values: 'name=v1,v2;name2=w1,w2'")
flags.DEFINE_integer("workers", 1, "points run at once (local processes)")
flags.DEFINE_string("workdir", None, "sweep directory (must be new or empty unless --resume)")
flags.DEFINE_bool("resume", False, "finish an interrupted sweep in --workdir")
flags.DEFINE_bool("overwrite", False, "delete the contents of a non-empty --workdir first")


def parse_grid(text: str) -> dict[str, list[str]]:
  """'a=1,2;b=x' -> {'a': ['1', '2'], 'b': ['x']}."""
  grid: dict[str, list[str]] = {}
  for part in filter(None, (p.strip() for p in text.split(";"))):
    name, sep, values = part.partition("=")
    name = name.strip().lstrip("-")
    if not sep or not name or not values.strip():
      raise ValueError(f"cannot parse {part!r}; expected name=v1,v2")
    if name in ("workdir", "flagfile", "overwrite", "resume"):
      raise ValueError(f"{name!r} is set by the sweep itself and cannot be swept")
    grid[name] = [v.strip() for v in values.split(",")]
  if not grid:
    raise ValueError("the grid is empty")
  return grid


def run_point(point, *, experiment: str, base_flagfile: str, runs_dir: str):
  """Runs one point as a subprocess; returns its results.json (reused if already written)."""
  run_dir = os.path.join(runs_dir, sweep.point_id(point))
  results = os.path.join(run_dir, RESULTS)
  if not os.path.exists(results):
    cmd = [sys.executable, "-m", f"experiments.{experiment}", f"--flagfile={base_flagfile}",
           *(f"--{k}={v}" for k, v in point.items()), f"--workdir={run_dir}"]
    if os.path.isdir(run_dir):
      cmd.append("--overwrite")  # an unfinished point: start it again
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
      raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
  with open(results) as f:
    return json.load(f)


def main(argv):
  if len(argv) > 1:
    common.fail(f"unexpected positional arguments {argv[1:]}")
  if not FLAGS.experiment or importlib.util.find_spec(f"experiments.{FLAGS.experiment}") is None:
    common.fail(f"--experiment: no module experiments.{FLAGS.experiment}")
  if not FLAGS.base_flagfile or not os.path.isfile(FLAGS.base_flagfile):
    common.fail(f"--base_flagfile: {FLAGS.base_flagfile!r} is not a file")
  try:
    grid = parse_grid(FLAGS.grid or "")
  except ValueError as e:
    common.fail(f"--grid: {e}")
  if FLAGS.workers < 1:
    common.fail(f"--workers: must be >= 1, got {FLAGS.workers}")
  if not FLAGS.workdir:
    common.fail("--workdir is required")
  try:
    wd = Workdir(FLAGS.workdir, overwrite=FLAGS.overwrite, resume=FLAGS.resume)
    wd.write_config({"experiment": FLAGS.experiment,
                     "base_flagfile": os.path.abspath(FLAGS.base_flagfile), "grid": grid})
  except WorkdirError as e:
    common.fail(str(e))
  fn = functools.partial(run_point, experiment=FLAGS.experiment,
                         base_flagfile=os.path.abspath(FLAGS.base_flagfile),
                         runs_dir=wd.file("runs"))
  runner = sweep.ProcessPoolRunner(FLAGS.workers) if FLAGS.workers > 1 else sweep.SerialRunner()
  wd.file(sweep.SWEEP_LOG)  # recorded in the workdir's manifest
  records = sweep.run_sweep(fn, sweep.expand_grid(grid), wd.path, runner=runner)
  wd.write_results({"experiment": FLAGS.experiment, "grid": grid, "points": records})


if __name__ == "__main__":
  app.run(main)
