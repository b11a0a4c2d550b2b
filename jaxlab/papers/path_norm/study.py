"""The path-norm study (arXiv 2404.18769): four parts on synthetic teacher-student data, float64.

  from jaxlab.papers import path_norm
  results = path_norm.run(path_norm.smoke(), "/tmp/path_norm")
  results["rademacher"]["5"]["slope"]            # about -0.5
  results["checks"]                              # {name: {"value", "target", "pass"}}

Parts (`jaxlab.experiment.Part`), in this order, each selectable by `config.parts`:
  rademacher       E3.1 (`rademacher_sweep`): R_n of the unit path-norm ball against n and d;
  width_sweep      E3.2 (`width_sweep`): train-test gap against the width at a fixed budget R;
  learning_curve   E3.3 (`learning_curve`): excess risk against n, oracle weight decay;
  krr_baseline     E3.4 (`krr_baseline`): arc-cosine KRR on the same teachers.

Resumable: every finished (part, d, n, seed, ...) point is a line of points.jsonl and is read
back by `run(..., resume=True)`. The gates (spec section 5) are in `results["checks"]`;
what the spec reports but does not gate (the unconstrained sweep, the product-norm contrast,
the worst-case teacher, the KRR-network ratio, the ascent diagnostic of E3.1) is in the parts'
entries.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import numpy as np
from absl import logging

from jaxlab.experiment import Part, Study, Workdir, gates, run_parts
from jaxlab.experiment import run as run_study
from jaxlab.papers.path_norm import (data, krr_baseline, learning_curve, plots,
                                     rademacher_sweep, width_sweep)
from jaxlab.papers.path_norm.config import Config, default, smoke
from jaxlab.papers.path_norm.records import Records

# The NumPy prototype of the spec: 30 runs (d = 5, width 128, 2500 Adam steps) in 18 min.
PROTOTYPE = {"wall_s": 18 * 60.0, "runs": 30, "steps": 2500, "width": 128, "d": 5}


class Inputs(NamedTuple):
  """The study's keys (`data.StudyKeys`, from `config.seed`)."""

  keys: data.StudyKeys


def prepare(config: Config) -> Inputs:
  """The keys; the data are synthetic and drawn by the parts (nothing to load or check beyond
  the config's own checks); writes nothing."""
  return Inputs(data.study_keys(config.seed))


def _timed(fn: Callable[..., Any]) -> Callable[..., Any]:
  def timed(config, inputs, records, wd):
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(config, inputs.keys, records, wd)
    return {"result": result, "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0}
  return timed


PARTS = (Part("rademacher", _timed(rademacher_sweep.run)),
         Part("width_sweep", _timed(width_sweep.run)),
         Part("learning_curve", _timed(learning_curve.run)),
         Part("krr_baseline", _timed(krr_baseline.run)))


def evaluate_checks(results: dict[str, Any]) -> gates.Gates:
  """The gates of the spec's section 5 for the parts that ran."""
  out = gates.Gates()
  for d, r in results.get("rademacher", {}).items():
    out.check(f"rademacher_slope_d{d}", gates.interval(r["slope"], -0.55, -0.45, ci=r["ci"]))
    lo, hi = float(np.min(r["sqrt_n_R_n"])), float(np.max(r["sqrt_n_R_n"]))
    out.check(f"rademacher_sqrt_n_range_d{d}",
              gates.check([lo, hi], "[0.5, 2] at every n", 0.5 <= lo and hi <= 2.0))
    out.check(f"rademacher_sanity_d{d}", gates.interval(r["sanity_max_excess"], hi=1e-9))
  ws = results.get("width_sweep")
  if ws:
    out.check("width_sweep_gap_ratio", gates.interval(ws["constrained_gap_ratio"], hi=1.5))
    out.check("width_sweep_gap_vs_bound", gates.interval(
        float(np.max(ws["constrained"]["gap"])) / ws["bound"], hi=1.0, constant_c=1.0,
        bound=ws["bound"]))
    out.check("width_sweep_feasible", gates.interval(
        ws["constrained_max_path_norm_over_radius"] - 1.0, hi=1e-12))
  for d, r in results.get("learning_curve", {}).items():
    out.check(f"learning_curve_slope_d{d}", gates.interval(
        r["slope"], hi=r["gate"], ci=r["ci"], bound_exponent=r["bound_exponent"]))
  for d, r in results.get("krr_baseline", {}).get("single_neuron", {}).items():
    out.check(f"krr_slope_single_neuron_d{d}", gates.interval(
        r["slope"], -0.65, -0.35, ci=r["ci"], soft=True))
  return out


def _timing(parts: dict[str, Any], curve: dict[str, Any]) -> dict[str, Any]:
  """Wall and CPU time per part; the learning curves' per-run cost against the prototype."""
  timing: dict[str, Any] = {f"{name}_wall_s": p["wall_s"] for name, p in parts.items()}
  timing.update({f"{name}_cpu_s": p["cpu_s"] for name, p in parts.items()})
  timing["prototype"] = PROTOTYPE
  per_run = PROTOTYPE["wall_s"] / PROTOTYPE["runs"]
  for d, r in curve.items():
    timing[f"learning_curve_d{d}"] = {
        "wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "runs": r["runs"], "steps": r["steps"],
        "wall_s_per_run": r["wall_s"] / r["runs"],
        "speedup_vs_prototype_per_run": per_run / (r["wall_s"] / r["runs"])}
  return timing


def summarise(parts: dict[str, Any]) -> dict[str, Any]:
  """results.json: `rademacher`, `width_sweep`, `learning_curve` (per d, with the worst-case
  teacher under "worst_case" where run), `krr_baseline` (`single_neuron`, `same_teacher`,
  `sample_complexity_ratio`), `checks`, `all_checks_pass` and `timing`."""
  res = {name: p["result"] for name, p in parts.items()}
  results: dict[str, Any] = {}
  if "rademacher" in res:
    results["rademacher"] = res["rademacher"]
  if "width_sweep" in res:
    results["width_sweep"] = res["width_sweep"]
  curve = {}
  if "learning_curve" in res:
    curve = {d: {**r, **({"worst_case": res["learning_curve"]["worst"][d]}
                         if d in res["learning_curve"]["worst"] else {})}
             for d, r in res["learning_curve"]["main"].items()}
    results["learning_curve"] = curve
  if "krr_baseline" in res:
    krr = res["krr_baseline"]
    results["krr_baseline"] = {
        "single_neuron": krr["single"], "same_teacher": krr["main"],
        "sample_complexity_ratio": {d: krr_baseline.sample_complexity_ratio(curve[d], k)
                                    for d, k in krr["main"].items() if d in curve}}
  checks = evaluate_checks(results)
  failed = checks.failed()
  logging.info("checks: %d/%d pass%s", len(checks.checks) - len(failed), len(checks.checks),
               f"; failed: {failed}" if failed else "")
  return {**results, "checks": checks.checks, "all_checks_pass": not failed,
          "timing": _timing(parts, curve)}


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Runs the selected parts in order (finished points read back from points.jsonl) and
  returns results.json (see `summarise`)."""
  return summarise(run_parts(PARTS, config.parts, config, inputs, Records(wd), wd))


STUDY = Study(name="path_norm", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plots, resumable=True,
              float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`) in float64: config.json, points.jsonl (one
  line per finished point), results.json and plots/{rademacher,width_sweep,learning_curve}.
  `resume=True` continues a killed run without redoing its finished points."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)


__all__ = ["Inputs", "PARTS", "STUDY", "evaluate_checks", "execute", "prepare", "run",
           "summarise"]
