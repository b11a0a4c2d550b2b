"""Acceptance gates of the theory experiments: results.json `slopes` and `checks` entries.

  slopes = [slope_gate("E1.1 variance (rho, gamma) = (1, 0)", -1.0, fit, tol=0.1)]
  checks = {"E2.2 iw equals krr at lam = 0": check(rel_diff, "<= 1e-8", rel_diff <= 1e-8)}
  failed(slopes, checks)          # names of the gates that did not pass

A slope entry is {"name", "predicted", "measured", "tol", "pass", "ci"}; a check entry is
{"value", "target", "pass"} (target: a number or a short description such as "<= 0.05").
`Collector` gathers them (with curves, observations and figures) while an experiment's studies
run, and `run_studies` writes results.json.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
from absl import logging

from jaxlab.config import require, require_choice, to_dict
from jaxlab.kernels.learning_curve import Slope
from jaxlab.workdir import Workdir


def slope_gate(name: str, predicted: float, fit: Slope, tol: float, **extra: Any
               ) -> dict[str, Any]:
  """Passes iff |measured - predicted| <= tol; records the bootstrap CI."""
  return {"name": name, "predicted": float(predicted), "measured": float(fit.slope),
          "tol": float(tol), "pass": bool(abs(fit.slope - predicted) <= tol),
          "ci": [float(fit.low), float(fit.high)], **extra}


def check(value: Any, target: Any, passed: bool, **extra: Any) -> dict[str, Any]:
  """A named check's entry; `value` is what was measured."""
  return {"value": value, "target": target, "pass": bool(passed), **extra}


def max_relative_difference(a, b) -> float:
  """max |a - b| / max(|b|, tiny) over all entries."""
  a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
  return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))


def validate_common(config, studies: Sequence[str]) -> None:
  """Config checks shared by the theory experiments: `studies` names at least one of
  `studies`, and `slope_tol_scale`, `level_tol_scale` are >= 1 (never tighter than the spec)."""
  require(len(config.studies) >= 1, "studies", "name at least one study")
  for s in config.studies:
    require_choice(s, "studies", studies)
  for name in ("slope_tol_scale", "level_tol_scale"):
    require(getattr(config, name) >= 1, name,
            f"must be >= 1 (tolerances are never tighter than the spec's), got "
            f"{getattr(config, name)}")


def failed(slopes: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]]
           ) -> list[str]:
  """Names of the slope gates and checks that did not pass."""
  return ([s["name"] for s in slopes if not s["pass"]] +
          [name for name, c in checks.items() if not c["pass"]])


def predicted_line(x, y, slope: float) -> np.ndarray:
  """A line of the given log-log slope through the geometric mean of the points (x, y), for
  overlaying a predicted rate on a measured curve."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  log_x0, log_y0 = np.mean(np.log(x)), np.mean(np.log(y))
  return np.exp(log_y0 + slope * (np.log(x) - log_x0))


class Collector:
  """What a theory experiment's studies share: config, workdir, base key, and the slopes,
  checks, curves, observations and figure data being collected."""

  def __init__(self, config, wd: Workdir):
    self.config = config
    self.wd = wd
    self.key = jax.random.key(config.seed)
    self.slopes: list[dict[str, Any]] = []
    self.checks: dict[str, dict[str, Any]] = {}
    self.curves: list[dict[str, Any]] = []
    self.observations: dict[str, Any] = {}
    self.figures: dict[str, Any] = {}
    self.step = 0

  def slope(self, name: str, predicted: float, fit: Slope, tol: float, **extra: Any) -> None:
    entry = slope_gate(name, predicted, fit, tol, **extra)
    self.slopes.append(entry)
    logging.info("slope %s: measured %.3f (CI %.3f..%.3f), predicted %.3f, tol %.2f -> %s",
                 name, fit.slope, fit.low, fit.high, predicted, tol,
                 "pass" if entry["pass"] else "FAIL")

  def check(self, name: str, value: Any, target: Any, passed: bool, **extra: Any) -> None:
    self.checks[name] = check(value, target, passed, **extra)
    logging.info("check %s: %s (target %s) -> %s", name, value, target,
                 "pass" if passed else "FAIL")

  def log(self, metrics: Mapping[str, Any]) -> None:
    """One metrics.jsonl line, numbered in order."""
    self.wd.log(self.step, metrics)
    self.step += 1


def run_studies(config, workdir: str | Workdir, overwrite: bool,
                collector: Callable[[Any, Workdir], Collector], order: Sequence[str],
                runners: Mapping[str, Callable], plots: Callable[[Collector], None]
                ) -> dict[str, Any]:
  """The `run` of a theory experiment: enables float64, creates the workdir (a `Workdir` or a
  path, replaced with `overwrite`), writes config.json, runs `runners[name](st)` for the names
  of `order` selected in `config.studies`, then `plots(st)`; writes and returns results.json
  {"curves", "slopes", "checks", "observations", "failed", "wall_s"}."""
  jax.config.update("jax_enable_x64", True)
  t0 = time.perf_counter()
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite)
  wd.write_config(to_dict(config))
  st = collector(config, wd)
  for name in order:
    if name in config.studies:
      t = time.perf_counter()
      runners[name](st)
      logging.info("study %s done in %.1fs", name, time.perf_counter() - t)
  plots(st)
  names = failed(st.slopes, st.checks)
  results = {"curves": st.curves, "slopes": st.slopes, "checks": st.checks,
             "observations": st.observations, "failed": names,
             "wall_s": time.perf_counter() - t0}
  wd.write_results(results)
  logging.info("%d slopes, %d checks, %d failed%s (%.1fs)", len(st.slopes), len(st.checks),
               len(names), (": " + "; ".join(names)) if names else "", results["wall_s"])
  return results
