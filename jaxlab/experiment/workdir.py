"""The only I/O of jaxlab's library code: an experiment's working directory.

  wd = Workdir(path, overwrite=False, resume=False)  # refuses a non-empty directory
  wd.write_config(dataclasses.asdict(config))       # config.json (+ versions, devices)
  wd.log(step, {"loss": 0.3})                        # one JSON line in metrics.jsonl
  wd.write_results({"test_acc": 0.97})               # results.json
  wd.save_figure(fig, "curves")                      # plots/curves.png and .pdf

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
MANIFEST = ".jaxlab"
FAILED = "failed.json"


class WorkdirError(ValueError):
  """The workdir cannot be used as asked (not empty, or a different config on resume)."""


def _shown(names: list[str]) -> str:
  return ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def read_manifest(path: str) -> set[str]:
  """The top-level entries jaxlab recorded in the workdir `path` (empty if none)."""
  try:
    with open(os.path.join(path, MANIFEST)) as f:
      manifest = json.load(f)
    return set(manifest["entries"]) if manifest.get("jaxlab_workdir") == 1 else set()
  except (OSError, ValueError, KeyError, TypeError):
    return set()


def is_jaxlab_workdir(path: str) -> bool:
  """True iff `path` holds jaxlab's manifest `.jaxlab` (written before anything else)."""
  return bool(read_manifest(path))


def _differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
  """(dotted path, a's value, b's value) of every leaf where two JSON-like values differ."""
  if isinstance(a, Mapping) and isinstance(b, Mapping):
    out = []
    for k in sorted(set(a) | set(b)):
      sub = f"{path}.{k}" if path else str(k)
      out += _differences(a.get(k), b.get(k), sub)
    return out
  return [] if a == b else [(path.removeprefix("config."), a, b)]


UNDEFINED_SUFFIX = "_undefined"


def to_jsonable(value: Any) -> Any:
  """Converts numpy/JAX scalars and arrays, tuples and dataclass-like values for strict json.

  A non-finite float becomes `null`; inside a mapping, a sibling key `<key>_undefined` records
  what it was ("NaN", "+inf" or "-inf"; e.g. a mean over no examples), unless the producer
  already wrote that key with its own reason.
  """
  if isinstance(value, Mapping):
    out = {}
    for k, v in value.items():
      out[str(k)] = to_jsonable(v)
      what = _nonfinite_name(v)
      if what is not None and f"{k}{UNDEFINED_SUFFIX}" not in value:
        out[f"{k}{UNDEFINED_SUFFIX}"] = what
    return out
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    return to_jsonable(np.asarray(value).tolist())
  if isinstance(value, float) and not math.isfinite(value):
    return None  # strict JSON has no NaN / Infinity: an undefined value is null
  if value is None or isinstance(value, (bool, int, float, str)):
    return value
  return str(value)


def _nonfinite_name(value: Any) -> str | None:
  """"NaN", "+inf" or "-inf" for a non-finite scalar float, else None."""
  if isinstance(value, (jax.Array, np.ndarray)) and np.ndim(value) != 0:
    return None
  if not isinstance(value, (float, np.floating, jax.Array, np.ndarray)):
    return None
  x = float(value)
  if math.isnan(x):
    return "NaN"
  return None if math.isfinite(x) else ("+inf" if x > 0 else "-inf")


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
  """Writes `obj` as JSON to `path` atomically: a temp file beside it, fsync, rename; the
  file is readable by the group (0644), like the rest of the workdir."""
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp_", suffix=".json")
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(to_jsonable(obj), f, indent=2, sort_keys=False, allow_nan=False)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _protected_reason(path: str) -> str | None:
  """Why `path` (resolved) must never be cleared by --overwrite, or None."""
  home = os.path.realpath(os.path.expanduser("~"))
  cwd = os.path.realpath(os.getcwd())
  package_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
  if path == os.path.dirname(path):
    return "it is the file-system root"
  if path == home:
    return "it is the home directory"
  if path == cwd or cwd.startswith(path + os.sep):
    return "it is the current directory or one of its parents"
  if path == package_root or package_root.startswith(path + os.sep):
    return "it holds the jaxlab installation"
  if os.path.exists(os.path.join(path, ".git")):
    return "it is a git repository"
  return None


class Workdir:
  """An experiment's output directory.

  Constructing a `Workdir` only checks the request; nothing is created, changed or deleted
  until `open()` (called by the first write), so a run refused by its own checks leaves the
  file system as it found it.

  Every top-level entry jaxlab writes is recorded in the manifest `.jaxlab`; together with
  config.json it marks the directory as jaxlab's. `overwrite` clears only such a directory
  (and only when it holds nothing the manifest does not list), never `.`, a parent of it, a
  home directory, a git repository or the jaxlab checkout. A symlinked workdir is resolved:
  its target's contents are cleared, the link stays.

  Args:
    path: the directory; created if missing.
    overwrite: clear a non-empty jaxlab workdir first.
    resume: continue in a non-empty jaxlab workdir; `write_config` then checks that the
      stored config equals the new one.
    tensorboard: also write every `log` line as TensorBoard scalars to tensorboard/
      (`jaxlab.experiment.tensorboard`; extra `tensorboard`).

  Raises:
    WorkdirError: the request cannot be honoured (see above); nothing has been touched.
  """

  def __init__(self, path: str, *, overwrite: bool = False, resume: bool = False,
               tensorboard: bool = False):
    if not path:
      raise WorkdirError("workdir is required (--workdir=DIR)")
    if overwrite and resume:
      raise WorkdirError("overwrite and resume exclude each other (--overwrite / --resume)")
    self.given = path
    self.path = os.path.realpath(os.path.expanduser(path))
    self.is_writer = jax.process_index() == 0
    self.resumed = False
    self._clear = False
    self._opened = False
    self.tensorboard = tensorboard
    self._scalars = None
    if os.path.exists(self.path) and not os.path.isdir(self.path):
      raise WorkdirError(f"workdir {self.path} exists and is not a directory")
    existing = sorted(os.listdir(self.path)) if os.path.isdir(self.path) else []
    if not existing:
      return
    if overwrite:
      self._check_clearable(existing)
      self._clear = True
    elif resume:
      if not is_jaxlab_workdir(self.path):
        raise WorkdirError(
            f"cannot --resume {self.path}: it was not created by jaxlab (no manifest "
            f"{MANIFEST}); choose a new --workdir")
      self.resumed = True
    else:
      raise WorkdirError(
          f"workdir {self.path} is not empty (it holds {_shown(existing)}); choose a new "
          "--workdir, pass --overwrite to replace it, or --resume to continue it where "
          "supported")

  def _check_clearable(self, existing: list[str]) -> None:
    reason = _protected_reason(self.path)
    if reason:
      raise WorkdirError(f"--overwrite refuses to clear {self.path}: {reason}")
    if not is_jaxlab_workdir(self.path):
      raise WorkdirError(
          f"--overwrite refuses to clear {self.path}: it was not created by jaxlab (no "
          f"manifest {MANIFEST}; it holds {_shown(existing)}); choose a new --workdir or "
          "remove it yourself")
    foreign = [e for e in existing if e != MANIFEST and not e.startswith(".tmp_") and
               e not in read_manifest(self.path)]
    if foreign:
      raise WorkdirError(
          f"--overwrite refuses to clear {self.path}: it holds {_shown(foreign)}, which jaxlab "
          "did not write; move them away or choose a new --workdir")

  def open(self) -> "Workdir":
    """Creates the directory (clearing it first for `overwrite`); idempotent. Called by the
    first write; call it explicitly once every check of a run has passed."""
    if self._opened:
      return self
    self._opened = True
    if not self.is_writer:
      return self
    if self._clear:
      for name in os.listdir(self.path):
        entry = os.path.join(self.path, name)
        if os.path.isdir(entry) and not os.path.islink(entry):
          shutil.rmtree(entry)
        else:
          os.remove(entry)
      self._clear = False
    os.makedirs(self.path, exist_ok=True)
    os.chmod(self.path, os.stat(self.path).st_mode | 0o750)
    self._register(PLOTS)
    os.makedirs(self.plots_dir, exist_ok=True)
    return self

  def _register(self, name: str) -> None:
    """Records the top-level entry `name` in the manifest (before it is written)."""
    if not self.is_writer:
      return
    entries = read_manifest(self.path)
    if name not in entries:
      _atomic_write_json(os.path.join(self.path, MANIFEST),
                         {"jaxlab_workdir": 1, "entries": sorted(entries | {name})})

  @property
  def plots_dir(self) -> str:
    return os.path.join(self.path, PLOTS)

  @property
  def checkpoint_dir(self) -> str:
    """checkpoints/ (opens the workdir and records the entry)."""
    return self.file(CHECKPOINTS)

  def file(self, name: str) -> str:
    """The path of `name` (a file or folder, possibly nested) inside the workdir, for the
    caller to write: opens the workdir and records `name`'s top-level entry."""
    self.open()
    self._register(os.path.normpath(name).split(os.sep)[0])
    return os.path.join(self.path, name)

  # config.json -------------------------------------------------------------
  def write_config(self, config: Mapping[str, Any],
                   resolved: Mapping[str, Any] | None = None) -> None:
    """Writes config.json = {"config": config, "resolved": resolved, versions, devices, ...}
    (opening the workdir); on resume, checks that config and resolved equal the stored ones
    first, touching nothing if they do not.

    Args:
      config: the run's config as nested dicts.
      resolved: facts the config stands for that can change under it (e.g. the config a
        sweep's base flagfile resolves to); compared on resume like the config.

    Raises:
      WorkdirError: resuming with a config different from the stored one.
    """
    record = to_jsonable({"config": config, "resolved": resolved})
    stored_path = os.path.join(self.path, CONFIG)
    if self.resumed and os.path.exists(stored_path):
      stored = self.read_config()
      stored = {"config": stored.get("config"), "resolved": stored.get("resolved")}
      diff = _differences(stored, record)
      if diff:
        details = "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, a, b in diff[:8])
        raise WorkdirError(f"cannot resume {self.path} with a different config ({details})")
      self.open()
      return
    if self.is_writer:
      _atomic_write_json(self.file(CONFIG), {**record, **environment()})

  def read_config(self) -> dict[str, Any]:
    with open(os.path.join(self.path, CONFIG)) as f:
      return json.load(f)

  # metrics.jsonl and other JSON-lines records ------------------------------------
  def append_jsonl(self, name: str, record: Mapping[str, Any]) -> None:
    """Appends `record` as one JSON line of the file `name` (e.g. per-example results that an
    interrupted run reads back with `read_jsonl` to skip finished work)."""
    if not self.is_writer:
      return
    line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
    path = self.file(name)
    new = not os.path.exists(path)
    if os.path.exists(path) and os.path.getsize(path):
      with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":  # a line cut short by a killed run: start a new one
          line = "\n" + line
    with open(path, "a") as f:
      f.write(line)
    if new:
      os.chmod(path, 0o644)

  def read_jsonl(self, name: str) -> list[dict[str, Any]]:
    """The records of the JSON-lines file `name` ([] if missing); a line cut short by a run
    killed while writing it is skipped."""
    path = os.path.join(self.path, name)
    if not os.path.exists(path):
      return []
    records = []
    with open(path) as f:
      for line in f:
        try:
          records.append(json.loads(line))
        except json.JSONDecodeError:
          continue  # only a killed write leaves a partial line
    return records

  def log(self, step: int, metrics: Mapping[str, Any]) -> None:
    """Appends `{"step": step, **metrics}` as one line of metrics.jsonl (and, with
    `tensorboard`, writes its numbers as scalars)."""
    self.append_jsonl(METRICS, {"step": step, **metrics})
    if self.tensorboard and self.is_writer:
      if self._scalars is None:
        from jaxlab.experiment import tensorboard  # pylint: disable=g-import-not-at-top
        self._scalars = tensorboard.ScalarWriter(self.file("tensorboard"))
      self._scalars(step, to_jsonable(dict(metrics)))

  def close(self) -> None:
    """Flushes and closes the TensorBoard writer, if any (the run skeleton calls it at the
    end of a run)."""
    if self._scalars is not None:
      self._scalars.close()
      self._scalars = None

  def read_metrics(self) -> list[dict[str, Any]]:
    return self.read_jsonl(METRICS)

  def truncate_metrics(self, last_step: int | None) -> None:
    """Drops logged lines with step > `last_step` (all if None): used when resuming from a
    checkpoint older than the last logged step."""
    if not self.is_writer:
      return
    kept = [m for m in self.read_metrics() if last_step is not None and m["step"] <= last_step]
    path = self.file(METRICS)
    fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp_", suffix=".jsonl")
    with os.fdopen(fd, "w") as f:
      f.writelines(json.dumps(to_jsonable(m), allow_nan=False) + "\n" for m in kept)
      f.flush()
      os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)

  # results.json and plots ----------------------------------------------------
  def write_results(self, results: Mapping[str, Any]) -> None:
    if self.is_writer:
      _atomic_write_json(self.file(RESULTS), results)

  def mark_failed(self, error: BaseException) -> None:
    """Writes failed.json {"error", "type", ...the error's step / quantity} and removes any
    results.json, so no number of a failed run is presented as a result (metrics.jsonl up
    to the failure stays)."""
    if not self.is_writer:
      return
    record = {"error": str(error), "type": type(error).__name__,
              **{k: getattr(error, k) for k in ("step", "quantity", "where")
                 if hasattr(error, k)}}
    _atomic_write_json(self.file(FAILED), record)
    results = os.path.join(self.path, RESULTS)
    if os.path.exists(results):
      os.remove(results)

  def read_results(self) -> dict[str, Any]:
    with open(os.path.join(self.path, RESULTS)) as f:
      return json.load(f)

  def save_figure(self, fig, name: str) -> str:
    """Saves a matplotlib figure (e.g. from `jaxlab.plotting.figure`) as plots/<name>.png
    (200 dpi) and plots/<name>.pdf (vector); returns the PNG's path."""
    self.open()
    path = os.path.join(self.plots_dir, f"{name}.png")
    if self.is_writer:
      fig.savefig(path, dpi=200, bbox_inches="tight")
      fig.savefig(os.path.join(self.plots_dir, f"{name}.pdf"), bbox_inches="tight")
    if "matplotlib.pyplot" in sys.modules:  # a pyplot figure: free it
      sys.modules["matplotlib.pyplot"].close(fig)
    return path
