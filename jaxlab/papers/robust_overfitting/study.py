"""The robust-overfitting study (arXiv 2401.13624): the construction built, attacked and
measured exactly, in four parts.

  from jaxlab.papers import robust_overfitting
  results = robust_overfitting.run(robust_overfitting.smoke(), "/tmp/robust_overfitting")
  results["checks"]          # {name: {"value", "target", "pass", ...}} of every part
  results["regression"]["curves"]["excess_h"]

Parts (`jaxlab.experiment.Part`), run in this order by `execute`:
  classification_1d  P4-A (`classification_1d.run`): the 1D construction, exact errors;
  classification_2d  P4-B (`classification_2d.run`): the l-inf construction, Monte Carlo;
  regression         P4-C (`regression.run`): the interpolating regressor, exact risks;
  pgd_at_contrast    P4-D (`contrast.run`): PGD adversarial training of a wide MLP.
Each finished part is appended to parts.jsonl, so `resume=True` skips it (an unfinished P4-D
restarts from its first epoch). The study runs in float64 (`Study(float64=True)`, a scope);
the P4-D MLP is float32. Keys: one split of the seed, one key per part.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import jax

from jaxlab.experiment import Part, Study, Workdir, gates
from jaxlab.experiment import run as run_study
from jaxlab.experiment.workdir import to_jsonable
from jaxlab.papers.robust_overfitting import (classification_1d, classification_2d, contrast,
                                              plots, regression)
from jaxlab.papers.robust_overfitting.config import PARTS, Config, default, smoke

PARTS_FILE = "parts.jsonl"


class Inputs(NamedTuple):
  """The parts' keys, split once from the seed (the data are synthetic, drawn in the parts)."""

  classification_1d: jax.Array
  classification_2d: jax.Array
  regression: jax.Array
  pgd_at_contrast: jax.Array


def prepare(config: Config) -> Inputs:
  """Nothing to load: every check is in the config; splits the root key."""
  return Inputs(*jax.random.split(jax.random.key(config.seed), len(PARTS)))


def strict(value: Any) -> Any:
  """`value` as strict JSON (NaN and infinities become None), as results.json stores it."""
  if isinstance(value, dict):
    return {k: strict(v) for k, v in value.items()}
  if isinstance(value, list):
    return [strict(v) for v in value]
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def _part(name: str):
  def fn(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
    cfg, key = getattr(config, name), getattr(inputs, name)
    if name == "pgd_at_contrast":
      return contrast_part(cfg, key, wd)
    module = {"classification_1d": classification_1d, "classification_2d": classification_2d,
              "regression": regression}[name]
    return module.run(cfg, key)
  return Part(name, fn)


def contrast_part(cfg, key: jax.Array, wd: Workdir) -> dict[str, Any]:
  """P4-D and its gates: the MLP overfits the adversarial training set, its robust test
  accuracy peaks and drops, and the construction fits it too with a better robust test
  accuracy."""
  wd.truncate_metrics(None)            # an interrupted P4-D logged a partial curve
  result = contrast.run(cfg, key, wd)
  final, peak, built = result["final"], result["peak"], result["construction"]
  g = gates.Gates()
  g.check("P4-D PGD-AT MLP: final robust training accuracy (exact) -> 1",
          gates.interval(final["robust_train_acc"], lo=0.95))
  g.check("P4-D PGD-AT MLP: robust test accuracy drops after its peak (peak - final)",
          gates.interval(peak["robust_test_acc"] - final["robust_test_acc"], lo=0.02,
                         peak_epoch=peak["epoch"], final_epoch=final["epoch"]))
  g.check("P4-D construction: robust training accuracy 1 (exact)",
          gates.interval(built["robust_train_acc"], lo=1.0))
  g.check("P4-D construction's robust test accuracy - the MLP's final (same data)",
          gates.interval(built["robust_test_acc"] - final["robust_test_acc"], lo=0.0))
  gap = max(p["robust_train_acc"] - p["robust_train_acc_pgd"] for p in result["curve"])
  g.check("P4-D exact robust training accuracy <= PGD's (+1 point) at every evaluation",
          gates.interval(gap, hi=1.0 / cfg.n))
  return {**result, "checks": g.checks}


PART_LIST = tuple(_part(name) for name in PARTS)


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Runs the selected parts (skipping those parts.jsonl holds); results.json: one entry per
  part (None for a part not selected), `checks` of all parts, `slopes` and `failed`."""
  done = {r["part"]: r["result"] for r in wd.read_jsonl(PARTS_FILE)}
  results: dict[str, Any] = {}
  for part in PART_LIST:
    if part.name not in config.parts:
      results[part.name] = None                 # not run (e.g. P4-D in the smoke study)
      continue
    if part.name not in done:
      result = strict(json.loads(json.dumps(to_jsonable(part.fn(config, inputs, wd)))))
      wd.append_jsonl(PARTS_FILE, {"part": part.name, "result": result})
      done[part.name] = result
    results[part.name] = done[part.name]
  checks, slopes = {}, []
  for name in PARTS:
    if results[name] is not None:
      checks.update(results[name].pop("checks", {}))
      slopes += results[name].pop("slopes", [])
  return {**results, "checks": checks, "slopes": slopes,
          "failed": [name for name, c in checks.items() if not c["pass"]]}


STUDY = Study(name="robust_overfitting", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plot_all, resumable=True,
              float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, parts.jsonl, metrics.jsonl
  (the P4-D curve), results.json and plots/."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
