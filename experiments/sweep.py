r"""Sweep any experiment over a grid of flag values; an interrupted sweep resumes.

  python -m experiments.sweep --experiment=train_classifier \
      --base_flagfile=experiments/flags/train_classifier_smoke.flags \
      --grid="learning_rate=1e-3,3e-3;seed=0,1,2" --workers=1 --workdir=runs/sweep
  python -m experiments.sweep ... --workdir=runs/sweep --resume     # after an interruption
  python -m experiments.sweep ... --runner=ray [--ray_address=auto --ray_cpus_per_point=2]

Every point's config is built and checked before the first point runs (a bad grid value or an
unknown flag stops the sweep with the point and the flag named). Each point runs
`python -m experiments.<experiment> --flagfile=<base_flagfile> --<k>=<v> ...
--workdir=DIR/runs/<k>=<v>,...` in its own process (which dies with the sweep); its
results.json becomes the point's record in DIR/sweep.jsonl. DIR/results.json lists every
point; DIR/report.json, report.md and plots/sweep.{png,pdf} give mean +- std over the seeds
of each setting. `--resume` skips finished points and refuses a base flagfile that now
resolves to a different config. Grid syntax: `name=v1,v2,...` joined by `;`.
`python -m experiments.sweep_report DIR` rebuilds the report of a (partial) sweep.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from typing import Any, NamedTuple

from absl import flags

from experiments import common
from jaxlab.experiment import Study, Workdir, sweep, sweep_report
from jaxlab.experiment import config as config_lib
from jaxlab.experiment.config import ConfigError, require
from jaxlab.experiment.workdir import RESULTS


@dataclasses.dataclass(frozen=True)
class SweepConfig:
  """A sweep.

  Attributes:
    experiment: the experiment to sweep (the module experiments.<experiment>).
    base_flagfile: the flagfile every point starts from.
    grid: grid of flag values: 'name=v1,v2;name2=w1,w2'.
    workers: points run at once with --runner=local (processes; 1 runs them in turn).
    retries: further attempts of a failing point before it is recorded as failed.
    runner: local (this machine's processes) or ray (a Ray task per point).
    ray_address: with --runner=ray: a running cluster (auto, ray://host:10001, ...); empty
      starts a local Ray with this machine's CPUs.
    ray_cpus_per_point, ray_gpus_per_point: with --runner=ray: the resources of each point.
  """

  experiment: str = ""
  base_flagfile: str = ""
  grid: str = ""
  workers: int = 1
  retries: int = 1
  runner: str = "local"
  ray_address: str = ""
  ray_cpus_per_point: float = 1.0
  ray_gpus_per_point: float = 0.0

  def __post_init__(self):
    require(self.workers >= 1, "workers", f"must be >= 1, got {self.workers}")
    require(self.retries >= 0, "retries", f"must be >= 0, got {self.retries}")
    require(self.runner in RUNNERS, "runner",
            f"got {self.runner!r}, expected one of: {', '.join(RUNNERS)}")
    require(self.ray_cpus_per_point > 0, "ray_cpus_per_point",
            f"must be > 0, got {self.ray_cpus_per_point}")
    require(self.ray_gpus_per_point >= 0, "ray_gpus_per_point",
            f"must be >= 0, got {self.ray_gpus_per_point}")
    require(self.runner == "ray" or (not self.ray_address and self.ray_cpus_per_point == 1.0
                                     and self.ray_gpus_per_point == 0.0),
            "runner", "the --ray_* flags need --runner=ray")


RUNNERS = ("local", "ray")


def make_runner(config: "SweepConfig") -> sweep.Runner:
  """The runner `config` asks for."""
  if config.runner == "ray":
    from jaxlab.experiment.ray_runner import RayRunner  # pylint: disable=g-import-not-at-top
    return RayRunner(config.ray_address or None, cpus_per_point=config.ray_cpus_per_point,
                     gpus_per_point=config.ray_gpus_per_point)
  if config.workers > 1:
    return sweep.ProcessPoolRunner(config.workers)
  return sweep.SerialRunner()


def parse_grid(text: str) -> dict[str, list[str]]:
  """'a=1,2;b=x' -> {'a': ['1', '2'], 'b': ['x']}."""
  grid: dict[str, list[str]] = {}
  for part in filter(None, (p.strip() for p in text.split(";"))):
    name, sep, values = part.partition("=")
    name = name.strip().lstrip("-")
    if not sep or not name or not values.strip():
      raise ValueError(f"cannot parse {part!r}; expected name=v1,v2")
    if name in ("workdir", "flagfile", "overwrite", "resume", "config"):
      raise ValueError(f"{name!r} is set by the sweep itself and cannot be swept")
    grid[name] = [v.strip() for v in values.split(",")]
  if not grid:
    raise ValueError("the grid is empty")
  return grid


class Inputs(NamedTuple):
  """The checked sweep: its points and the config each resolves to."""

  study: Study
  points: list[dict[str, str]]
  base: Any


def point_args(config: SweepConfig, point) -> list[str]:
  return [f"--flagfile={os.path.abspath(config.base_flagfile)}",
          *(f"--{k}={v}" for k, v in point.items())]


def prepare(config: SweepConfig) -> Inputs:
  """Builds and checks the config of every point before anything runs."""
  require(bool(config.experiment), "experiment", "name the experiment to sweep, e.g. "
          "--experiment=train_classifier")
  if config.runner == "ray":
    require(importlib.util.find_spec("ray") is not None, "runner",
            "--runner=ray needs Ray: python -m pip install -e '.[ray]'")
  require(os.path.isfile(config.base_flagfile), "base_flagfile",
          f"{config.base_flagfile!r} is not a file")
  try:
    parse_grid(config.grid)
  except ValueError as e:
    raise ConfigError("grid", str(e)) from None
  try:
    study = common.study_for(config.experiment)
  except ModuleNotFoundError:
    raise ConfigError("experiment", f"no study named {config.experiment!r} (experiments/"
                      f"{config.experiment}.py)") from None
  base = _resolve(study, [f"--flagfile={os.path.abspath(config.base_flagfile)}"],
                  "base_flagfile")
  points = sweep.expand_grid(parse_grid(config.grid))
  for point in points:
    _resolve(study, point_args(config, point), "grid", point)
  return Inputs(study, points, base)


def _resolve(study: Study, args: list[str], field: str, point=None):
  where = "" if point is None else "point " + ",".join(f"{k}={v}" for k, v in point.items())
  try:
    return common.config_from_args(study, args)
  except ConfigError as e:
    raise ConfigError(field, f"{where}: --{e}".lstrip(": ")) from None
  except flags.Error as e:
    raise ConfigError(field, f"{where}: {e}".lstrip(": ")) from None


def resolve(config: SweepConfig, inputs: Inputs) -> dict[str, Any]:
  """What the base flagfile stands for (compared on --resume)."""
  base = config_lib.to_dict(inputs.base)
  text = json.dumps(base, sort_keys=True)
  return {"base_config": base, "base_config_sha1": hashlib.sha1(text.encode()).hexdigest()}


def point_dir_name(point) -> str:
  """`k=v,k2=v2` (safe characters only, at most 80) plus the point's id, e.g.
  `learning_rate=1e-3,seed=0-3f2a9c`."""
  text = ",".join(f"{k}={v}" for k, v in point.items())
  text = re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:80]
  return f"{text}-{sweep.point_id(point)[:6]}"


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # holds experiments/


def run_point(point, *, experiment: str, args: tuple[str, ...], runs_dir: str):
  """Runs one point as a subprocess; returns its results.json (reused if already written)."""
  run_dir = os.path.join(runs_dir, point_dir_name(point))
  results = os.path.join(run_dir, RESULTS)
  if not os.path.exists(results):
    cmd = [sys.executable, "-m", f"experiments.{experiment}", *args, f"--workdir={run_dir}"]
    if os.path.isdir(run_dir) and os.listdir(run_dir):
      cmd.append("--overwrite")  # an unfinished point of this sweep: start it again
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=_ROOT,
                          env=dict(os.environ, **sweep.child_env(), PYTHONPATH=os.pathsep.join(
                              filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))))
    if proc.returncode:
      raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
  with open(results) as f:
    return json.load(f)


def _point_fn(point, *, config: SweepConfig, runs_dir: str):
  return run_point(point, experiment=config.experiment, args=tuple(point_args(config, point)),
                   runs_dir=runs_dir)


def execute(config: SweepConfig, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  fn = functools.partial(_point_fn, config=config, runs_dir=wd.file("runs"))
  wd.file(sweep.SWEEP_LOG)  # recorded in the workdir's manifest
  records = sweep.run_sweep(fn, inputs.points, wd.path, runner=make_runner(config),
                            retries=config.retries)
  rows = sweep_report.write_report(wd, list(parse_grid(config.grid)))
  return {"experiment": config.experiment, "grid": parse_grid(config.grid),
          "points": records, "report": rows}


STUDY = Study(name="sweep", presets={"default": SweepConfig}, prepare=prepare,
              execute=execute, resumable=True, resolve=resolve)
main = common.make_main(STUDY)

if __name__ == "__main__":
  common.run(main)
