"""The one run skeleton every experiment uses.

  STUDY = Study(name="elle", presets={"default": default, "smoke": smoke},
                prepare=prepare, execute=execute, plots=plots, resumable=True)
  results = run(STUDY, smoke(), "/tmp/elle")           # from a notebook
  results = run(STUDY, STUDY.preset("default"), "runs/elle", resume=True)

`run` does, in order:
  1. checks the config (its own `__post_init__` ran when it was built; `config.validate` adds
     the shared seed and finite-value rules) and the workdir request (nothing is touched);
  2. `inputs = prepare(config)`: every check that needs the data (load it, compare sizes) and
     nothing else; a refusal here leaves the file system as it found it;
  3. opens the workdir (creating it, clearing a jaxlab workdir for `overwrite`, or resuming)
     and writes config.json (on resume: refuses a different config before touching
     anything);
  4. `results = execute(config, inputs, workdir)`: the study (metrics.jsonl, its records);
     a non-finite loss, gradient or parameter (`FloatingPointError`, e.g. the training guard's
     `NonFiniteError`) marks the workdir failed (failed.json, no results.json) and is
     re-raised;
  5. writes results.json (`checks` in the one schema, `wall_s`) and `plots(config, results,
     workdir)` (PNG and PDF under plots/).

A float64 study (`float64=True`) runs steps 2-5 under `jax.enable_x64(True)`, a scope that
restores the previous setting: the process's configuration is left as it was found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
from absl import logging

from jaxlab.experiment import config as config_lib
from jaxlab.experiment import gates, progress
from jaxlab.experiment.workdir import Workdir, WorkdirError


@dataclasses.dataclass(frozen=True)
class Study:
  """What an experiment is.

  Attributes:
    name: the experiment's name (`python -m experiments.<name>`).
    presets: named configs, as functions; "default" is required, and every study with
      flagfiles has "smoke" too (`<name>.flags` and `<name>_smoke.flags` select them).
    prepare: `config -> inputs`: loads the data and makes every data-dependent check,
      raising `ConfigError` naming the field; writes nothing.
    execute: `(config, inputs, workdir) -> results`: the study itself.
    plots: `(config, results, workdir) -> None`, called after results.json is written.
    resumable: whether `resume=True` continues a killed run (else it is refused).
    float64: run under `jax.enable_x64(True)`.
    resolve: `(config, inputs) -> dict` of facts the config stands for that could change
      under it (a sweep's resolved base config); stored in config.json, compared on resume.
  """

  name: str
  presets: Mapping[str, Callable[[], Any]]
  prepare: Callable[[Any], Any]
  execute: Callable[[Any, Any, Workdir], dict[str, Any]]
  plots: Callable[[Any, dict[str, Any], Workdir], None] | None = None
  resumable: bool = False
  float64: bool = False
  resolve: Callable[[Any, Any], Mapping[str, Any]] | None = None

  def __post_init__(self):
    if "default" not in self.presets:
      raise ValueError(f"study {self.name!r} lacks the preset 'default'")

  def preset(self, name: str = "default") -> Any:
    """The config of preset `name`."""
    if name not in self.presets:
      raise config_lib.ConfigError(
          "config", f"no preset {name!r} for {self.name}; valid: {', '.join(self.presets)}")
    return self.presets[name]()

  @property
  def config_type(self) -> type:
    return type(self.preset("default"))


def run(study: Study, config: Any, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs `study` with `config` in `workdir` (a path or a `Workdir`); see the module
  docstring for the order of events. Returns the results written to results.json.

  Raises:
    ConfigError: a config value is invalid (the field is named); nothing was written.
    WorkdirError: the workdir cannot be used as asked; nothing was written.
  """
  t_start = time.perf_counter()
  if not isinstance(config, study.config_type):
    raise TypeError(f"{study.name} needs a {study.config_type.__name__}, got "
                    f"{type(config).__name__}")
  config_lib.validate(config)
  if resume and not study.resumable:
    raise WorkdirError(f"{study.name} cannot resume a run; start a new workdir")
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite,
                                                            resume=resume)
  if wd.resumed and not study.resumable:
    raise WorkdirError(f"{study.name} cannot resume a run; start a new workdir")
  try:
    with jax.enable_x64(True) if study.float64 else contextlib.nullcontext():
      inputs = study.prepare(config)
      resolved = study.resolve(config, inputs) if study.resolve is not None else None
      wd.write_config(config_lib.to_dict(config), resolved)  # opens the workdir
      try:
        results = dict(study.execute(config, inputs, wd))
      except FloatingPointError as e:  # the guard's NonFiniteError, or a loop's own check
        wd.mark_failed(e)
        raise
      if "checks" in results:
        gates.check_schema(results["checks"])
      results.setdefault("wall_s", time.perf_counter() - t_start)
      wd.write_results(results)
      if study.plots is not None:
        study.plots(config, results, wd)
  finally:
    wd.close()
  return results


class Part(NamedTuple):
  """A named part of a study: `fn(*args) -> result`."""

  name: str
  fn: Callable[..., Any]


def run_parts(parts: Sequence[Part], selected: Sequence[str], *args: Any) -> dict[str, Any]:
  """Runs the parts whose names are in `selected`, in the order of `parts`, with a progress
  bar and their times logged; returns `{name: result}`."""
  chosen = [p for p in parts if p.name in selected]
  results = {}
  for part in progress.bar(chosen, desc="parts"):
    t0 = time.perf_counter()
    results[part.name] = part.fn(*args)
    logging.info("part %s done in %.1fs", part.name, time.perf_counter() - t0)
  return results
