"""The shallow-Transformer study (arXiv 2311.01575): NTK-regime (lazy) convergence of one
softmax attention layer, on N sequences of N(0, 1) tokens with random labels +-1.

  from jaxlab.papers import shallow_transformer
  results = shallow_transformer.run(shallow_transformer.smoke(), "/tmp/shallow_transformer")
  results["attention_slope"]                # {"d_m^-1": about -0.45, "d_m^-1/2": about 0}
  results["checks"]                         # {name: {"value", "target", "pass"}}

Parts (`jaxlab.experiment.Part`), run in this order by `execute`:
  ntk_init         P2-A / P2-B (`ntk_init`): lambda_min, lambda_max of the NTK and the
                   attention deviation at init, per (init, tau0, width) and replicate;
  gd               P2-C (`dynamics.gd_sweep`): GD contraction against the linearised bound,
                   weight and NTK change against width (LeCun, and `gd.compare_init`);
  init_comparison  P2-E (`dynamics.init_comparison`): every init with one gamma;
  width_needed     P2-D (`width_needed`): the smallest width reaching the loss, per N.

The study runs in float64 (`Study(float64=True)`: a scope, the process's setting is restored).
Keys: one split of the seed, one key per part (`Keys`).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
from absl import logging

from jaxlab.experiment import Part, Study, Workdir, gates, run_parts
from jaxlab.experiment import run as run_study
from jaxlab.papers.shallow_transformer import dynamics, ntk_init, plots, width_needed
from jaxlab.papers.shallow_transformer.config import Config, default, smoke


class Keys(NamedTuple):
  """The parts' keys, split once from the seed."""

  ntk_init: jax.Array
  gd: jax.Array
  init_comparison: jax.Array
  width_needed: jax.Array


def prepare(config: Config) -> Keys:
  """The parts' keys (each part draws its own data); writes nothing."""
  key = jax.random.key(config.seed)
  keys = Keys(*jax.random.split(key, 4))
  del key
  return keys


# --- the parts -------------------------------------------------------------------------------

def run_ntk_init(config: Config, keys: Keys, wd: Workdir) -> dict[str, Any]:
  """P2-A / P2-B; the widths are recorded in sweeps/ntk_init/sweep.jsonl."""
  logging.info("NTK at init: widths %s, inits %s, %d seeds", config.ntk_init.widths,
               config.ntk_init.inits, config.ntk_init.num_seeds)
  rows = ntk_init.ntk_init_sweep(config, keys.ntk_init,
                                 wd.file(os.path.join("sweeps", "ntk_init")))
  return {"rows": rows, "attention_slope": ntk_init.attention_slopes(config, rows)}


def run_gd(config: Config, keys: Keys, wd: Workdir) -> list[dict[str, Any]]:
  """P2-C; logs one metrics.jsonl line per (init, width, logged step); the widths (with their
  trajectories) are recorded in sweeps/gd/sweep.jsonl."""
  gd = config.gd
  logging.info("GD dynamics: widths %s, %d steps", gd.widths, gd.num_steps)
  rows, trajectories = dynamics.gd_sweep(config, keys.gd, wd.file(dynamics.GD_SWEEP_DIR))
  for (scheme, width), traj in trajectories.items():
    for j, step in enumerate(range(0, gd.num_steps + 1, gd.log_every)):
      wd.log(step, {"study": "gd", "init": scheme, "width": width, "loss": traj["loss"][step],
                    **{k: v[j] for k, v in traj.items() if k != "loss"}})
  for r in rows:
    logging.info("d_m=%d: contraction %.4f vs bound %.4f; weight change %.3g, NTK change "
                 "%.3g; loss %.3g -> %.3g", r["width"], r["contraction"], r["bound"],
                 r["weight_change"], r["ntk_change"], r["initial_loss"], r["final_loss"])
  return rows


def run_init_comparison(config: Config, keys: Keys, wd: Workdir) -> dict[str, Any]:
  """P2-E; logs the loss of every init at every step."""
  logging.info("fixed-gamma comparison of initialisations at d_m=%d",
               config.init_comparison.width)
  comparison = dynamics.init_comparison(config, keys.init_comparison)
  for step in range(config.init_comparison.num_steps + 1):
    wd.log(step, {"study": "init_comparison",
                  **{f"loss_{s}": v[step] for s, v in comparison["loss_curves"].items()}})
  return {k: v for k, v in comparison.items() if k != "loss_curves"}


def run_width_needed(config: Config, keys: Keys, wd: Workdir) -> list[dict[str, Any]]:
  """P2-D; the sizes N are recorded in sweeps/width/sweep.jsonl."""
  logging.info("width needed vs N: N in %s", config.width_needed.sizes)
  return width_needed.width_needed_sweep(config, keys.width_needed,
                                         wd.file(os.path.join("sweeps", "width")))


PARTS = (Part("ntk_init", run_ntk_init), Part("gd", run_gd),
         Part("init_comparison", run_init_comparison), Part("width_needed", run_width_needed))


# --- checks and results ---------------------------------------------------------------------

def ntk_init_checks(config: Config, rows, out: gates.Gates) -> dict[str, Any]:
  """P2-A: lambda_min(K0) (/ d_m for LeCun and He) constant between the last two widths, and
  tau0 = d_m^-1/2 above d_m^-1 at every width; returns the observations (the ratios by
  width, which the spec reports but does not gate)."""
  observations = {}
  lo, hi = config.ntk_init.widths[-2], config.ntk_init.widths[-1]
  for scheme in config.ntk_init.inits:
    for tau0 in ntk_init.TAU0_LABELS:
      a, b = (ntk_init.select(rows, init=scheme, tau0=tau0, width=w)[0] for w in (lo, hi))
      if scheme == "ntk":
        out.check(f"ntk_init_lambda_min_constant_{tau0}",
                  gates.interval(b["lambda_min"] / a["lambda_min"], 0.85, 1.15))
      else:
        out.check(f"{scheme}_lambda_min_over_width_constant_{tau0}", gates.interval(
            b["lambda_min_over_width"] / a["lambda_min_over_width"], 0.75, 1.25))
    by_tau0 = {t: [ntk_init.select(rows, init=scheme, tau0=t, width=w)[0]["lambda_min"]
                   for w in config.ntk_init.widths] for t in ntk_init.TAU0_LABELS}
    ratios = [a / b for a, b in zip(by_tau0["d_m^-1/2"], by_tau0["d_m^-1"])]
    # "At equal width, lambda_min(K0) with tau0 = d_m^-1/2 exceeds that with d_m^-1": the
    # smallest ratio over the widths is gated, the ratio per width reported.
    out.check(f"tau0_d_m^-1/2_exceeds_d_m^-1_{scheme}", gates.interval(min(ratios), lo=1.0))
    observations[f"tau0_lambda_min_ratio_by_width_{scheme}"] = {
        str(w): r for w, r in zip(config.ntk_init.widths, ratios)}
  return observations


def dynamics_checks(config: Config, attention_slope, gd_rows, slopes, comparison,
                    out: gates.Gates) -> None:
  """P2-B (attention slopes), P2-C (contraction, weight / NTK change slopes, the compare
  init's NTK moving more) and P2-E (speed ordering He > LeCun > NTK at one gamma)."""
  out.check("attention_slope_d_m^-1", gates.interval(attention_slope["d_m^-1"], -0.65, -0.35))
  out.check("attention_slope_d_m^-1/2", gates.below(abs(attention_slope["d_m^-1/2"]), 0.15))
  for r in gd_rows:
    out.check(f"contraction_vs_bound_width_{r['width']}",
              gates.interval(r["contraction"] - r["bound"], hi=0.01))
  for name in ("weight_change_slope", "ntk_change_slope"):
    out.check(name, gates.interval(slopes[name], hi=-0.4))
  other = config.gd.compare_init
  if other != "lecun":
    out.check(f"ntk_moves_more_under_{other}_init", gates.interval(
        min(r[f"ntk_change_{other}_init"] / r["ntk_change"] for r in gd_rows), lo=1.0))
  final = comparison["final_loss"]
  out.check("fixed_gamma_speed_he_lecun", gates.interval(final["lecun"] / final["he"], lo=1.0))
  out.check("fixed_gamma_speed_lecun_ntk", gates.interval(final["ntk"] / final["lecun"], lo=1.0))


def summarise(config: Config, parts: dict[str, Any]) -> dict[str, Any]:
  """results.json from the parts' outputs: `ntk_init`, `attention_slope`, `gd`,
  `weight_change_slope`, `ntk_change_slope`, `ntk_change_slope_<compare_init>_init`,
  `init_comparison`, `width_needed`, `width_exponent`, `checks`, `observations`."""
  gd_rows, size_rows = parts["gd"], parts["width_needed"]
  attention_slope = parts["ntk_init"]["attention_slope"]
  widths = [r["width"] for r in gd_rows]
  slopes = {f"{name}_slope": gates.loglog_slope(widths, [r[name] for r in gd_rows])
            for name in ("weight_change", "ntk_change")}
  other = config.gd.compare_init
  width_exponent = gates.loglog_slope([r["n"] for r in size_rows],
                                      [r["width_needed"] for r in size_rows])
  checks = gates.Gates()
  observations = ntk_init_checks(config, parts["ntk_init"]["rows"], checks)
  dynamics_checks(config, attention_slope, gd_rows, slopes, parts["init_comparison"], checks)
  observations["width_exponent_vs_n"] = gates.interval(width_exponent, hi=2.0)
  failed = checks.failed()
  logging.info("checks: %d/%d pass%s", len(checks.checks) - len(failed), len(checks.checks),
               f"; failed: {failed}" if failed else "")
  return {
      "ntk_init": parts["ntk_init"]["rows"],
      "attention_slope": attention_slope,
      "gd": gd_rows,
      **slopes,
      f"ntk_change_slope_{other}_init": gates.loglog_slope(
          widths, [r.get(f"ntk_change_{other}_init", r["ntk_change"]) for r in gd_rows]),
      "init_comparison": parts["init_comparison"],
      "width_needed": size_rows,
      "width_exponent": width_exponent,
      "checks": checks.checks,
      "observations": observations,
      "all_checks_pass": not failed,
  }


def execute(config: Config, keys: Keys, wd: Workdir) -> dict[str, Any]:
  """Runs the parts in order and returns results.json (see `summarise`)."""
  return summarise(config, run_parts(PARTS, [p.name for p in PARTS], config, keys, wd))


STUDY = Study(name="shallow_transformer", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plots, float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`) in float64: config.json, metrics.jsonl (GD
  trajectories: one line per init, width and logged step; the fixed-gamma losses: one line
  per step), sweeps/{ntk_init,gd,width}/sweep.jsonl, results.json and
  plots/{ntk_init,gd_dynamics,init_and_width}. The study is not resumable (`resume=True` is
  refused)."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
