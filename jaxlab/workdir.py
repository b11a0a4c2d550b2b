"""The only I/O of jaxlab's library code: an experiment's working directory.

  wd = Workdir(path, overwrite=False, resume=False)  # refuses a non-empty directory
  wd.write_config(dataclasses.asdict(config))       # config.json (+ versions, devices)
  wd.log(step, {"loss": 0.3})                        # one JSON line in metrics.jsonl
  wd.write_results({"test_acc": 0.97})               # results.json
  wd.save_figure(fig, "curves")                      # plots/curves.png

Only process 0 writes (multi-host runs).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from typing import Any, Mapping

import jax
import numpy as np

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
PLOTS = "plots"
CHECKPOINTS = "checkpoints"


class WorkdirError(ValueError):
  """The workdir cannot be used as asked (not empty, or a different config on resume)."""


def to_jsonable(value: Any) -> Any:
  """Converts numpy/JAX scalars and arrays, tuples and dataclass-like values for json."""
  if isinstance(value, Mapping):
    return {str(k): to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    return to_jsonable(np.asarray(value).tolist())
  if isinstance(value, float) and not math.isfinite(value):
    return value  # json writes NaN / Infinity, which Python and pandas read back
  if value is None or isinstance(value, (bool, int, float, str)):
    return value
  return str(value)


def environment() -> dict[str, Any]:
  """Library versions and devices, recorded in config.json."""
  import flax  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  import jaxlab  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  return {
      "versions": {"python": platform.python_version(), "jaxlab": jaxlab.__version__,
                   "jax": jax.__version__, "jaxlib": jax.lib.__version__,
                   "flax": flax.__version__, "optax": optax.__version__,
                   "numpy": np.__version__},
      "devices": {"platform": devices[0].platform, "kind": devices[0].device_kind,
                  "count": len(devices), "process_count": jax.process_count()},
      "x64": bool(jax.config.read("jax_enable_x64")),
      "argv": list(sys.argv),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
  }


def _atomic_write_json(path: str, obj: Any) -> None:
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_", suffix=".json")
  with os.fdopen(fd, "w") as f:
    json.dump(to_jsonable(obj), f, indent=2, sort_keys=False)
    f.write("\n")
  os.replace(tmp, path)


class Workdir:
  """An experiment's output directory.

  Args:
    path: the directory; created if missing.
    overwrite: delete the contents of a non-empty directory first.
    resume: continue in a non-empty directory; `write_config` then checks that the stored
      config equals the new one.
  """

  def __init__(self, path: str, *, overwrite: bool = False, resume: bool = False):
    if not path:
      raise WorkdirError("workdir is required (--workdir=DIR)")
    if overwrite and resume:
      raise WorkdirError("overwrite and resume exclude each other (--overwrite / --resume)")
    self.path = os.path.abspath(os.path.expanduser(path))
    self.is_writer = jax.process_index() == 0
    self.resumed = False
    if os.path.exists(self.path) and not os.path.isdir(self.path):
      raise WorkdirError(f"workdir {self.path} exists and is not a directory")
    existing = sorted(os.listdir(self.path)) if os.path.isdir(self.path) else []
    if existing:
      if overwrite:
        if self.is_writer:
          shutil.rmtree(self.path)
      elif resume:
        self.resumed = True
      else:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise WorkdirError(
            f"workdir {self.path} is not empty (it holds {shown}); choose a new --workdir, "
            "pass --overwrite to replace it, or --resume to continue it where supported")
    if self.is_writer:
      os.makedirs(self.plots_dir, exist_ok=True)

  @property
  def plots_dir(self) -> str:
    return os.path.join(self.path, PLOTS)

  @property
  def checkpoint_dir(self) -> str:
    return os.path.join(self.path, CHECKPOINTS)

  def file(self, name: str) -> str:
    return os.path.join(self.path, name)

  # config.json -------------------------------------------------------------
  def write_config(self, config: Mapping[str, Any]) -> None:
    """Writes config.json = {"config": config, versions, devices, ...}; on resume, checks it.

    Raises:
      WorkdirError: resuming with a config different from the stored one.
    """
    config = to_jsonable(config)
    if self.resumed and os.path.exists(self.file(CONFIG)):
      stored = self.read_config()["config"]
      diff = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
      if diff:
        details = "; ".join(f"{k}: stored {stored.get(k)!r}, now {config.get(k)!r}"
                            for k in diff)
        raise WorkdirError(f"cannot resume {self.path} with a different config ({details})")
      return
    if self.is_writer:
      _atomic_write_json(self.file(CONFIG), {"config": config, **environment()})

  def read_config(self) -> dict[str, Any]:
    with open(self.file(CONFIG)) as f:
      return json.load(f)

  # metrics.jsonl and other JSON-lines records ------------------------------------
  def append_jsonl(self, name: str, record: Mapping[str, Any]) -> None:
    """Appends `record` as one JSON line of the file `name` (e.g. per-example results that an
    interrupted run reads back with `read_jsonl` to skip finished work)."""
    if not self.is_writer:
      return
    line = json.dumps(to_jsonable(record)) + "\n"
    path = self.file(name)
    if os.path.exists(path) and os.path.getsize(path):
      with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":  # a line cut short by a killed run: start a new one
          line = "\n" + line
    with open(path, "a") as f:
      f.write(line)

  def read_jsonl(self, name: str) -> list[dict[str, Any]]:
    """The records of the JSON-lines file `name` ([] if missing); a line cut short by a run
    killed while writing it is skipped."""
    if not os.path.exists(self.file(name)):
      return []
    records = []
    with open(self.file(name)) as f:
      for line in f:
        try:
          records.append(json.loads(line))
        except json.JSONDecodeError:
          continue  # only a killed write leaves a partial line
    return records

  def log(self, step: int, metrics: Mapping[str, Any]) -> None:
    """Appends `{"step": step, **metrics}` as one line of metrics.jsonl."""
    self.append_jsonl(METRICS, {"step": step, **metrics})

  def read_metrics(self) -> list[dict[str, Any]]:
    return self.read_jsonl(METRICS)

  def truncate_metrics(self, last_step: int | None) -> None:
    """Drops logged lines with step > `last_step` (all if None): used when resuming from a
    checkpoint older than the last logged step."""
    if not self.is_writer:
      return
    kept = [m for m in self.read_metrics() if last_step is not None and m["step"] <= last_step]
    with open(self.file(METRICS), "w") as f:
      f.writelines(json.dumps(m) + "\n" for m in kept)

  # results.json and plots ----------------------------------------------------
  def write_results(self, results: Mapping[str, Any]) -> None:
    if self.is_writer:
      _atomic_write_json(self.file(RESULTS), results)

  def read_results(self) -> dict[str, Any]:
    with open(self.file(RESULTS)) as f:
      return json.load(f)

  def save_figure(self, fig, name: str) -> str:
    """Saves a matplotlib figure (e.g. from `jaxlab.plotting.figure`) as plots/<name>.png;
    returns the path."""
    path = os.path.join(self.plots_dir, f"{name}.png")
    if self.is_writer:
      fig.savefig(path, dpi=120, bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:  # a pyplot figure: free it
      sys.modules["matplotlib.pyplot"].close(fig)
    return path
