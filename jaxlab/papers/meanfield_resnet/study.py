"""The mean-field ResNet study (arXiv 2403.09889): three parts on one synthetic task.

  from jaxlab.papers import meanfield_resnet
  results = meanfield_resnet.run(meanfield_resnet.smoke(), "/tmp/meanfield_resnet")
  results["beta_sweep"][0]["gram_min_eig_init"]     # lambda_min(G2(0)), about 0.09
  results["checks"]                                 # {name: {"value", "target", "pass"}}

Parts (`jaxlab.experiment.Part`), run in this order by `execute`:
  beta_sweep       P1-A / P1-C (`beta_sweep.run`): Gram stability, linear rate against the
                   bound, displacement and KL against beta;
  limit            P1-B (`limit.limit_sweep`): error against a reference model over L and M;
  generalisation   P1-D (`generalisation.generalisation_sweep`): test - train gap against n.

The study runs in float64 (`Study(float64=True)`: a scope, the process's setting is restored).
Keys: one split of the seed, one key per purpose (`Keys`).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.experiment import Part, Study, Workdir, gates, run_parts
from jaxlab.experiment import run as run_study
from jaxlab.papers.meanfield_resnet import beta_sweep, generalisation, limit, plots, resnet
from jaxlab.papers.meanfield_resnet.config import Config, default, smoke
from jaxlab.papers.meanfield_resnet.data import sphere_data


class Keys(NamedTuple):
  """The keys of the parts, split once from the seed (after the data key)."""

  init: jax.Array            # the beta sweep's initialisation
  knn: jax.Array             # the k-NN estimator's N(0, I) reference samples
  limit: jax.Array           # the limit sweep's initialisations
  generalisation: jax.Array  # the generalisation study's data and initialisations


class Inputs(NamedTuple):
  """Training `x (num_train, dim)`, `y (num_train,)`, test `x_test (num_test, dim)`,
  `y_test (num_test,)` (float64) and the parts' keys."""

  x: jax.Array
  y: jax.Array
  x_test: jax.Array
  y_test: jax.Array
  keys: Keys


def prepare(config: Config) -> Inputs:
  """Draws the train and test points (one draw, split) and the parts' keys; writes nothing."""
  key = jax.random.key(config.seed)
  k_data, k_init, k_knn, k_limit, k_gen = jax.random.split(key, 5)
  del key
  x_all, y_all = sphere_data(k_data, config.num_train + config.num_test, config.dim)
  n = config.num_train
  return Inputs(x_all[:n], y_all[:n], x_all[n:], y_all[n:],
                Keys(init=k_init, knn=k_knn, limit=k_limit, generalisation=k_gen))


# --- the parts -------------------------------------------------------------------------------

def run_beta_sweep(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """P1-A / P1-C; logs one metrics.jsonl line per logged step and beta."""
  sweep = config.beta_sweep
  logging.info("beta sweep: betas %s, %d steps", sweep.betas, sweep.num_steps)
  params0 = resnet.init(inputs.keys.init, dim=config.dim, depth=config.depth,
                        width=config.width, head_width=config.head_width, dtype=jnp.float64)
  rows, logged, gram_error = beta_sweep.run(config, params0, inputs.x, inputs.y, inputs.x_test,
                                            inputs.y_test, inputs.keys.knn)
  names = [k for k in logged if k != "step"]
  for j, step in enumerate(logged["step"]):
    for i, beta in enumerate(sweep.betas):
      wd.log(int(step), {"study": "beta_sweep", "beta": beta,
                         **{k: logged[k][i, j] for k in names}})
  for r in rows:
    logging.info("beta=%g: lambda_min(G2) init %.4g min %.4g; decrement %.4g vs bound %.4g; "
                 "R_T=%.3g", r["beta"], r["gram_min_eig_init"], r["gram_min_eig_min"],
                 r["observed_log_decrement_per_step"], r["bound_log_decrement_per_step"],
                 r["final_loss"])
  return {"rows": rows, "gram_error": gram_error}


def run_limit(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """P1-B; the (L, M) points are recorded in sweeps/limit/sweep.jsonl."""
  lim = config.limit
  logging.info("limit sweep: depths %s x width %d, widths %s x depth %d, %d seeds", lim.depths,
               lim.ref_width, lim.widths, lim.ref_depth, lim.num_seeds)
  rows = limit.limit_sweep(config, inputs.keys.limit, inputs.x, inputs.y, inputs.x_test,
                           wd.file(os.path.join("sweeps", "limit")))
  return {"rows": rows, "ratios": limit.limit_ratios(config, rows)}


def run_generalisation(config: Config, inputs: Inputs, wd: Workdir) -> list[dict[str, Any]]:
  """P1-D; the points over n are recorded in sweeps/generalisation/sweep.jsonl and logged."""
  logging.info("generalisation sweep: n in %s", config.generalisation.sizes)
  rows = generalisation.generalisation_sweep(
      config, inputs.keys.generalisation, inputs.x_test, inputs.y_test,
      wd.file(os.path.join("sweeps", "generalisation")))
  for r in rows:
    wd.log(config.generalisation.num_steps, {"study": "generalisation", **r})
  return rows


PARTS = (Part("beta_sweep", run_beta_sweep), Part("limit", run_limit),
         Part("generalisation", run_generalisation))


# --- checks and results ---------------------------------------------------------------------

def evaluate_checks(rows, limit_ratios, gen_slope, gram_error) -> gates.Gates:
  """Every check of P1-A (i)-(iii), P1-B and P1-D, and the Gram closed forms."""
  out = gates.Gates()
  out.check("gram_closed_form_equals_jacobian", gates.interval(gram_error, hi=1e-10))
  for r in rows:
    b = f"{r['beta']:g}"
    out.check(f"gram_stability_beta_{b}",
              gates.interval(r["gram_min_eig_min"] / r["gram_min_eig_init"], lo=0.5))
    out.check(f"rate_vs_bound_beta_{b}", gates.interval(
        r["observed_log_decrement_per_step"] / r["bound_log_decrement_per_step"], 0.9, 3.0))
  betas = [r["beta"] for r in rows]
  for name in ("displacement_head", "displacement_resnet", "kl_head", "kl_resnet"):
    values = np.array([r[name] for r in rows])
    out.check(f"{name}_monotone", gates.below(np.max(values[1:] / values[:-1]), 1.0))
    out.check(f"{name}_exponent", gates.interval(gates.loglog_slope(betas, values), -3.0, -1.0))
  out.check("limit_depth_halving", gates.interval(limit_ratios["depth_ratio"], 2 / 1.3, 2 * 1.3))
  out.check("limit_width_halving", gates.interval(limit_ratios["width_ratio"], 2 / 1.3, 2 * 1.3))
  out.check("gen_gap_slope", gates.interval(gen_slope, hi=-0.4))
  return out


def summarise(parts: dict[str, Any]) -> dict[str, Any]:
  """results.json from the parts' outputs: `beta_sweep`, `displacement_exponent_head`,
  `displacement_exponent_resnet`, `kl_*_exponent`, `limit_sweep`, `limit_ratios`,
  `generalisation`, `gen_gap_slope`, `gen_proxy_slope`, the Gram check and `checks`."""
  rows = parts["beta_sweep"]["rows"]
  betas = [r["beta"] for r in rows]
  gen_rows = parts["generalisation"]
  gen_n = [r["n"] for r in gen_rows]
  gram_error = parts["beta_sweep"]["gram_error"]
  results = {
      "beta_sweep": rows,
      **{f"displacement_exponent_{part}": gates.loglog_slope(
          betas, [r[f"displacement_{part}"] for r in rows]) for part in ("head", "resnet")},
      **{f"{name}_exponent": gates.loglog_slope(betas, [r[name] for r in rows])
         for name in ("kl_head", "kl_resnet")},
      "limit_sweep": parts["limit"]["rows"],
      "limit_ratios": parts["limit"]["ratios"],
      "generalisation": gen_rows,
      "gen_gap_slope": gates.loglog_slope(gen_n, [r["gap"] for r in gen_rows]),
      "gen_proxy_slope": gates.loglog_slope(gen_n, [r["proxy"] for r in gen_rows]),
      "gram_closed_form_vs_jacobian_max_abs": gram_error,
  }
  checks = evaluate_checks(rows, results["limit_ratios"], results["gen_gap_slope"], gram_error)
  failed = checks.failed()
  logging.info("checks: %d/%d pass%s", len(checks.checks) - len(failed), len(checks.checks),
               f"; failed: {failed}" if failed else "")
  return {**results, "checks": checks.checks, "all_checks_pass": not failed}


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Runs the parts in order and returns results.json (see `summarise`)."""
  return summarise(run_parts(PARTS, [p.name for p in PARTS], config, inputs, wd))


STUDY = Study(name="meanfield_resnet", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plots, float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`) in float64: config.json, metrics.jsonl (the
  beta sweep: one line per beta and logged step; then one line per generalisation point),
  sweeps/{limit,generalisation}/sweep.jsonl, results.json and
  plots/{beta_sweep,limit_and_generalisation}. The study is not resumable (`resume=True` is
  refused)."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
