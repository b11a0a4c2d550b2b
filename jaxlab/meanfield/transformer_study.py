"""Shallow-Transformer studies of `papers/shallow_transformer.md` section 5 (P2-A to P2-E).

  from jaxlab.meanfield import transformer_study
  results = transformer_study.run(transformer_study.Config(), "/tmp/shallow_transformer")
  results["attention_slope"]                # {"d_m^-1": about -0.45, "d_m^-1/2": about 0}
  results["checks"]                         # {name: {"value", "target", "pass"}}

The library function behind `python -m experiments.shallow_transformer`. Data: N sequences of
d_s tokens with N(0, 1) entries in R^d and random labels +-1.

* P2-A/B, NTK at init: lambda_min(K0), lambda_max(K0) and the attention deviation
  max |softmax - 1/d_s| for every (init, tau0, width) and replicate (own data and weights).
* P2-C, GD dynamics: LeCun, tau0 = d_m^-1/2, gamma = 1/lambda_max(K0), full-batch GD; loss every
  step, and every `log_every` steps the relative weight and NTK change, lambda_min/max(K_t) and
  the attention deviation; the same under NTK init for comparison.
* P2-E, one gamma (stable for He) for every initialisation at one width.
* P2-D, the smallest width that reaches loss < size_threshold within size_steps steps, per N.

The per-width points run through `jaxlab.sweep.run_sweep`; the 3 x 2 (init, tau0) grid shares
one compiled function per width because `transformer.Scaling` is data, not code.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab import plotting
from jaxlab import sweep
from jaxlab.config import require, require_choice, to_dict
from jaxlab.kernels import spectral
from jaxlab.meanfield import checks as checks_lib
from jaxlab.meanfield import transformer
from jaxlab.workdir import Workdir


@dataclasses.dataclass(frozen=True)
class Config:
  """Shallow-Transformer convergence studies (float64).

  Attributes:
    seed: seed of the data and weights.
    num_sequences: training sequences N (P2-A, P2-C, P2-E).
    seq_len: tokens per sequence d_s.
    dim: token dimension d.
    inits: initialisations of the NTK-at-init grid: lecun, he, ntk.
    ntk_widths: widths d_m of the NTK-at-init and attention study.
    ntk_seeds: replicates per grid point (each its own data set and weights); averaged.
    gd_widths: widths of the GD-dynamics study (LeCun, tau0 = d_m^-1/2, gamma = 1/lambda_max).
    gd_steps: full-batch GD steps of the GD-dynamics study.
    log_every: steps between NTK evaluations in the GD-dynamics study.
    gd_compare_init: second initialisation of the GD study (its NTK change is compared).
    compare_width: width of the fixed-gamma comparison of initialisations.
    compare_steps: GD steps of the fixed-gamma comparison.
    sizes: numbers of sequences N of the width-needed study.
    size_widths: candidate widths (increasing) of the width-needed study.
    size_steps: step budget of the width-needed study.
    size_threshold: training loss to reach in the width-needed study.
    size_seeds: seeds (data and weights, vmapped) per (N, width) of the width-needed study; a
      width suffices when at least half of them reach the threshold.
  """

  seed: int = 0
  num_sequences: int = 20
  seq_len: int = 4
  dim: int = 16
  inits: tuple[str, ...] = ("lecun", "he", "ntk")
  ntk_widths: tuple[int, ...] = (16, 64, 256, 1024)
  ntk_seeds: int = 3
  gd_widths: tuple[int, ...] = (64, 256, 1024)
  gd_steps: int = 400
  log_every: int = 20
  gd_compare_init: str = "ntk"
  compare_width: int = 256
  compare_steps: int = 200
  sizes: tuple[int, ...] = (10, 20, 40, 80)
  size_widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
  size_steps: int = 2000
  size_threshold: float = 1e-6
  size_seeds: int = 3

  def __post_init__(self):
    for name in ("num_sequences", "seq_len", "dim", "ntk_seeds", "gd_steps", "log_every",
                 "compare_width", "compare_steps", "size_steps", "size_seeds"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.seq_len >= 2, "seq_len", f"must be >= 2 (attention), got {self.seq_len}")
    require(bool(self.inits) and all(i in transformer.INITS for i in self.inits) and
            len(set(self.inits)) == len(self.inits), "inits",
            f"must be distinct values among {', '.join(transformer.INITS)}, got {self.inits}")
    require("lecun" in self.inits, "inits", "must include lecun (the checks are about it)")
    require_choice(self.gd_compare_init, "gd_compare_init", transformer.INITS)
    for name in ("ntk_widths", "gd_widths", "sizes", "size_widths"):
      values = getattr(self, name)
      require(len(values) >= 2 and values[0] >= 1 and list(values) == sorted(set(values)),
              name, f"need at least 2 increasing positive values, got {values}")
    require(self.gd_steps % self.log_every == 0, "log_every",
            f"must divide gd_steps={self.gd_steps}, got {self.log_every}")
    require(self.gd_steps >= 2, "gd_steps", "must be >= 2 (contraction over the second half)")
    require(self.size_threshold > 0, "size_threshold",
            f"must be > 0, got {self.size_threshold}")


def sequences(key: jax.Array, n: int, seq_len: int, dim: int) -> tuple[jax.Array, jax.Array]:
  """`n` float64 sequences `(n, d_s, d)` with N(0, 1) entries and random labels `(n,)` +-1."""
  kx, ky = jax.random.split(key)
  x = jax.random.normal(kx, (n, seq_len, dim), jnp.float64)
  y = jnp.where(jax.random.bernoulli(ky, 0.5, (n,)), 1.0, -1.0)
  return x, y


@jax.jit
def init_stats(params: transformer.Params, x, scale: transformer.Scaling) -> dict[str, Any]:
  """lambda_min, lambda_max of the empirical NTK and the attention deviation at init."""
  values = spectral.eigvalsh(transformer.ntk(params, x, scale))
  return {"lambda_min": values[0], "lambda_max": values[-1],
          "attention_deviation": transformer.attention_uniformity(params, x, scale)}


# P2-A / P2-B ----------------------------------------------------------------------------------

def ntk_init_sweep(config: Config, key, sweep_dir: str) -> list[dict[str, Any]]:
  """Rows `{"init", "tau0", "width", "lambda_min", "lambda_min_over_width", ...}` averaged over
  `ntk_seeds` replicates, each its own data set and weight draw; a replicate uses the same data
  and weight key at every width (a paired comparison across widths)."""
  replicates = [jax.random.split(k) for k in jax.random.split(key, config.ntk_seeds)]
  data = [sequences(k_data, config.num_sequences, config.seq_len, config.dim)[0]
          for k_data, _ in replicates]

  def point_fn(point):
    width = point["width"]
    per = {(s, t): [] for s in config.inits for t in transformer.TAU0}
    for x, (_, k_init) in zip(data, replicates):
      for scheme in config.inits:
        params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                                  dtype=jnp.float64)
        for tau0 in transformer.TAU0:
          scale = transformer.scaling(scheme, tau0, dim=config.dim, width=width)
          per[scheme, tau0].append(jax.tree.map(float, init_stats(params, x, scale)))
    rows = []
    for (scheme, tau0), stats in per.items():
      lam = np.array([s["lambda_min"] for s in stats])
      rows.append({"init": scheme, "tau0": transformer.TAU0_LABELS[tau0], "width": width,
                   "lambda_min": float(lam.mean()), "lambda_min_over_width":
                   float(lam.mean()) / width, "lambda_min_per_seed": lam,
                   "lambda_max": float(np.mean([s["lambda_max"] for s in stats])),
                   "attention_deviation": float(np.mean([s["attention_deviation"]
                                                         for s in stats]))})
    return {"rows": rows}

  records = sweep.run_sweep(point_fn, [{"width": w} for w in config.ntk_widths], sweep_dir)
  return [row for r in records for row in r["result"]["rows"]]


def _select(rows, **where):
  return [r for r in rows if all(r[k] == v for k, v in where.items())]


# P2-C / P2-E ----------------------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("num_steps", "log_every"))
def gd_trajectory(params0: transformer.Params, x, y, scale: transformer.Scaling, learning_rate,
                  *, num_steps: int, log_every: int) -> dict[str, jax.Array]:
  """Full-batch GD with metrics.

  Returns:
    `loss (num_steps + 1,)` at every step, and at steps 0, log_every, ..., num_steps
    (`(num_steps // log_every + 1,)` each): weight_change ||theta_t - theta_0|| / ||theta_0||,
    ntk_change ||K_t - K_0||_F / ||K_0||_F, lambda_min, lambda_max (of K_t) and
    attention_deviation.
  """
  k0 = transformer.ntk(params0, x, scale)

  def metrics(params):
    k = transformer.ntk(params, x, scale)
    values = spectral.eigvalsh(k)
    return {"weight_change": transformer.relative_change(params, params0),
            "ntk_change": transformer.relative_change(k, k0),
            "lambda_min": values[0], "lambda_max": values[-1],
            "attention_deviation": transformer.attention_uniformity(params, x, scale)}

  def chunk(params, _):
    params, losses = jax.lax.scan(
        lambda p, _: transformer.gd_step(p, x, y, scale, learning_rate), params, None,
        length=log_every)
    return params, (losses, metrics(params))

  params, (losses, logged) = jax.lax.scan(chunk, params0, None, length=num_steps // log_every)
  first = metrics(params0)
  return {"loss": jnp.concatenate([losses.reshape(-1),
                                   transformer.loss(params, x, y, scale)[None]]),
          **jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, logged)}


def contraction(loss: np.ndarray) -> float:
  """Mean per-step contraction r_{t+1}.r_{t+1} / r_t.r_t over the second half of the run,
  (loss_T / loss_{T/2})^(1 / (T/2)) (the loss is 1/2 ||r||^2)."""
  half = (len(loss) - 1) // 2
  return float((loss[-1] / loss[-1 - half]) ** (1.0 / half))


def gd_sweep(config: Config, key, sweep_dir: str) -> tuple[list[dict[str, Any]], dict]:
  """Rows `{"width", "contraction", "bound", "weight_change", "ntk_change", ...}` and the
  trajectories `{(init, width): dict}` (LeCun and `gd_compare_init`)."""
  k_data, k_init = jax.random.split(key)
  x, y = sequences(k_data, config.num_sequences, config.seq_len, config.dim)
  trajectories: dict[tuple[str, int], dict[str, np.ndarray]] = {}

  def point_fn(point):
    width = point["width"]
    out: dict[str, Any] = {}
    for scheme in dict.fromkeys(("lecun", config.gd_compare_init)):
      params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                                dtype=jnp.float64)
      scale = transformer.scaling(scheme, "inv_sqrt", dim=config.dim, width=width)
      stats0 = init_stats(params, x, scale)
      gamma = 1.0 / float(stats0["lambda_max"])
      traj = jax.tree.map(np.asarray, gd_trajectory(
          params, x, y, scale, gamma, num_steps=config.gd_steps, log_every=config.log_every))
      trajectories[scheme, width] = traj
      out[scheme] = {
          "learning_rate": gamma, "lambda_min_init": float(stats0["lambda_min"]),
          "lambda_max_init": float(stats0["lambda_max"]),
          "contraction": contraction(traj["loss"]),
          "bound": (1.0 - gamma * float(stats0["lambda_min"])) ** 2,
          "bound_final_kernel": (1.0 - gamma * float(traj["lambda_min"][-1])) ** 2,
          "weight_change": float(traj["weight_change"][-1]),
          "ntk_change": float(traj["ntk_change"][-1]),
          "initial_loss": float(traj["loss"][0]), "final_loss": float(traj["loss"][-1])}
    return out

  records = sweep.run_sweep(point_fn, [{"width": w} for w in config.gd_widths], sweep_dir)
  rows = []
  for r in records:
    main, other = r["result"]["lecun"], r["result"][config.gd_compare_init]
    rows.append({"width": r["point"]["width"], **main,
                 "gamma_lambda_max": main["learning_rate"] * main["lambda_max_init"],
                 f"ntk_change_{config.gd_compare_init}_init": other["ntk_change"],
                 f"weight_change_{config.gd_compare_init}_init": other["weight_change"],
                 f"final_loss_{config.gd_compare_init}_init": other["final_loss"]})
  return rows, trajectories


def init_comparison(config: Config, key) -> dict[str, Any]:
  """P2-E: every init at width `compare_width`, tau0 = d_m^-1/2, with one gamma =
  1/lambda_max(K0) of He (stable for all); the same normal draw scaled per scheme."""
  k_data, k_init = jax.random.split(key)
  x, y = sequences(k_data, config.num_sequences, config.seq_len, config.dim)
  width = config.compare_width
  setups = {}
  for scheme in transformer.INITS:
    params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                              dtype=jnp.float64)
    scale = transformer.scaling(scheme, "inv_sqrt", dim=config.dim, width=width)
    setups[scheme] = (params, scale, init_stats(params, x, scale))
  gamma = 1.0 / float(setups["he"][2]["lambda_max"])
  losses, gamma_lambda_max, lambda_min = {}, {}, {}
  for scheme, (params, scale, stats0) in setups.items():
    traj = gd_trajectory(params, x, y, scale, gamma, num_steps=config.compare_steps,
                         log_every=config.compare_steps)
    losses[scheme] = np.asarray(traj["loss"])
    gamma_lambda_max[scheme] = gamma * float(stats0["lambda_max"])
    lambda_min[scheme] = float(stats0["lambda_min"])
  return {"width": width, "learning_rate": gamma, "gamma_lambda_max": gamma_lambda_max,
          "lambda_min_init": lambda_min,
          "final_loss": {s: float(v[-1]) for s, v in losses.items()}, "loss_curves": losses}


# P2-D -----------------------------------------------------------------------------------------

def steps_to_threshold(params, x, y, scale, learning_rate, threshold, *, max_steps: int):
  """GD until loss < threshold or `max_steps`; returns (steps taken, final loss)."""

  def cond(state):
    step, _, value = state
    return (step < max_steps) & (value >= threshold)

  def body(state):
    step, params, _ = state
    params, _ = transformer.gd_step(params, x, y, scale, learning_rate)
    return step + 1, params, transformer.loss(params, x, y, scale)

  step, _, value = jax.lax.while_loop(
      cond, body, (0, params, transformer.loss(params, x, y, scale)))
  return step, value


@functools.partial(jax.jit, static_argnames=("width", "dim", "max_steps"))
def _width_trial(keys, x, y, *, width: int, dim: int, threshold, max_steps: int):
  """Per seed of `keys (S,)`, `x (S, N, d_s, d)`, `y (S, N)`: LeCun weights, tau0 = d_m^-1/2,
  gamma = 1/lambda_max(K0), GD until loss < threshold; returns (steps, loss), each `(S,)`."""
  scale = transformer.scaling("lecun", "inv_sqrt", dim=dim, width=width)
  params = jax.vmap(lambda k: transformer.init(jax.random.fold_in(k, 1), dim=dim, width=width,
                                               scheme="lecun", dtype=jnp.float64))(keys)
  # lax.map: one eigendecomposition at a time (see resnet_study.track on batched LAPACK).
  gamma = jax.lax.map(lambda a: 1.0 / spectral.lambda_max(transformer.ntk(a[0], a[1], scale)),
                      (params, x))
  run = functools.partial(steps_to_threshold, scale=scale, threshold=threshold,
                          max_steps=max_steps)
  return jax.vmap(lambda p, x, y, g: run(p, x, y, learning_rate=g))(params, x, y, gamma)


def width_needed_sweep(config: Config, key, sweep_dir: str) -> list[dict[str, Any]]:
  """Rows `{"n", "width_needed", "steps", "tried"}`: the smallest width of `size_widths` at
  which at least half of `size_seeds` seeds (fresh data and weights) reach the loss threshold
  within `size_steps` steps (NaN if none). Seeds are vmapped; gamma = 1/lambda_max(K0) per seed."""

  def point_fn(point):
    n = point["n"]
    keys = jax.random.split(jax.random.fold_in(key, n), config.size_seeds)
    data = jax.vmap(lambda k: sequences(jax.random.fold_in(k, 0), n, config.seq_len,
                                        config.dim))(keys)
    tried = []
    for width in config.size_widths:
      steps, value = _width_trial(keys, *data, width=width, dim=config.dim,
                                  threshold=config.size_threshold, max_steps=config.size_steps)
      steps, value = np.asarray(steps), np.asarray(value)
      reached = value < config.size_threshold
      tried.append({"width": width, "steps": steps, "loss": value,
                    "fraction_reached": float(reached.mean())})
      if reached.mean() >= 0.5:
        return {"width_needed": width, "steps": float(np.median(steps[reached])),
                "tried": tried}
    return {"width_needed": float("nan"), "steps": float("nan"), "tried": tried}

  records = sweep.run_sweep(point_fn, [{"n": n} for n in config.sizes], sweep_dir)
  return [{**r["point"], **r["result"]} for r in records]


# checks, plots, run ----------------------------------------------------------------------------

def evaluate_checks(config: Config, ntk_rows, attention_slope, gd_rows, slopes, comparison
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
  """(checks, observations): the acceptance criteria of spec section 5, and spec statements
  that this implementation measures but does not gate on (reported next to the checks)."""
  checks: dict[str, Any] = {}
  observations: dict[str, Any] = {}
  lo, hi = config.ntk_widths[-2], config.ntk_widths[-1]
  for scheme in config.inits:
    for tau0 in ("d_m^-1/2", "d_m^-1"):
      a, b = (_select(ntk_rows, init=scheme, tau0=tau0, width=w)[0] for w in (lo, hi))
      if scheme == "ntk":
        checks[f"ntk_init_lambda_min_constant_{tau0}"] = checks_lib.interval(
            b["lambda_min"] / a["lambda_min"], 0.85, 1.15)
      else:
        checks[f"{scheme}_lambda_min_over_width_constant_{tau0}"] = checks_lib.interval(
            b["lambda_min_over_width"] / a["lambda_min_over_width"], 0.75, 1.25)
    ratios = [_select(ntk_rows, init=scheme, tau0="d_m^-1/2", width=w)[0]["lambda_min"] /
              _select(ntk_rows, init=scheme, tau0="d_m^-1", width=w)[0]["lambda_min"]
              for w in config.ntk_widths]
    # Spec P2-A: "at equal width, lambda_min(K0) with tau0 = d_m^-1/2 exceeds that with
    # d_m^-1": the smallest ratio over the widths. The ratio per width is reported (spec: ~2
    # under NTK init).
    checks[f"tau0_d_m^-1/2_exceeds_d_m^-1_{scheme}"] = checks_lib.interval(min(ratios), lo=1.0)
    observations[f"tau0_lambda_min_ratio_by_width_{scheme}"] = {
        str(w): r for w, r in zip(config.ntk_widths, ratios)}
  checks["attention_slope_d_m^-1"] = checks_lib.interval(attention_slope["d_m^-1"],
                                                         -0.65, -0.35)
  checks["attention_slope_d_m^-1/2"] = checks_lib.below(abs(attention_slope["d_m^-1/2"]),
                                                        0.15)
  for r in gd_rows:
    checks[f"contraction_vs_bound_width_{r['width']}"] = checks_lib.interval(
        r["contraction"] - r["bound"], hi=0.01)
  checks["weight_change_slope"] = checks_lib.interval(slopes["weight_change_slope"], hi=-0.4)
  checks["ntk_change_slope"] = checks_lib.interval(slopes["ntk_change_slope"], hi=-0.4)
  other = config.gd_compare_init
  if other != "lecun":
    checks[f"ntk_moves_more_under_{other}_init"] = checks_lib.interval(
        min(r[f"ntk_change_{other}_init"] / r["ntk_change"] for r in gd_rows), lo=1.0)
  final = comparison["final_loss"]
  checks["fixed_gamma_speed_he_lecun"] = checks_lib.interval(final["lecun"] / final["he"],
                                                             lo=1.0)
  checks["fixed_gamma_speed_lecun_ntk"] = checks_lib.interval(final["ntk"] / final["lecun"],
                                                              lo=1.0)
  return checks, observations


def plot_ntk_init(config: Config, ntk_rows, attention_slope, workdir: Workdir) -> str:
  fig, axes = plotting.figure(1, 3)
  widths = np.array(config.ntk_widths)
  for scheme in config.inits:
    for tau0, ls in (("d_m^-1/2", "-"), ("d_m^-1", "--")):
      rows = [_select(ntk_rows, init=scheme, tau0=tau0, width=w)[0] for w in widths]
      ax, key = ((axes[1], "lambda_min") if scheme == "ntk" else
                 (axes[0], "lambda_min_over_width"))
      ax.plot(widths, [r[key] for r in rows], ls=ls, marker="o", label=f"{scheme}, {tau0}")
  for tau0 in ("d_m^-1/2", "d_m^-1"):
    rows = [_select(ntk_rows, init="lecun", tau0=tau0, width=w)[0] for w in widths]
    axes[2].plot(widths, [r["attention_deviation"] for r in rows], marker="o",
                 label=f"tau0={tau0} (slope {attention_slope[tau0]:.2f})")
  axes[0].set(xscale="log", yscale="log", xlabel="d_m", ylabel="lambda_min(K0) / d_m",
              title="LeCun / He")
  axes[1].set(xscale="log", yscale="log", xlabel="d_m", ylabel="lambda_min(K0)",
              title="NTK init")
  axes[2].set(xscale="log", yscale="log", xlabel="d_m", ylabel="max |softmax - 1/d_s|",
              title="attention degeneration (LeCun)")
  for ax in axes:
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "ntk_init")


def plot_gd(config: Config, gd_rows, trajectories, slopes, workdir: Workdir) -> str:
  fig, axes = plotting.figure(1, 4)
  steps = np.arange(0, config.gd_steps + 1, config.log_every)
  for width in config.gd_widths:
    traj = trajectories["lecun", width]
    line, = axes[0].plot(traj["loss"], label=f"d_m={width}")
    axes[3].plot(steps, traj["lambda_min"] / traj["lambda_min"][0], color=line.get_color(),
                 label=f"d_m={width}")
  widths = np.array([r["width"] for r in gd_rows])
  other = config.gd_compare_init
  axes[1].plot(widths, [r["weight_change"] for r in gd_rows], marker="o",
               label=f"LeCun (slope {slopes['weight_change_slope']:.2f})")
  axes[2].plot(widths, [r["ntk_change"] for r in gd_rows], marker="o",
               label=f"LeCun (slope {slopes['ntk_change_slope']:.2f})")
  if other != "lecun":
    axes[1].plot(widths, [r[f"weight_change_{other}_init"] for r in gd_rows], marker="s",
                 label=f"{other} init")
    axes[2].plot(widths, [r[f"ntk_change_{other}_init"] for r in gd_rows], marker="s",
                 label=f"{other} init")
  axes[0].set(yscale="log", xlabel="step", ylabel="loss", title="training loss (LeCun)")
  axes[1].set(xscale="log", yscale="log", xlabel="d_m", ylabel="||theta_T - theta_0|| / ||theta_0||",
              title="weight change")
  axes[2].set(xscale="log", yscale="log", xlabel="d_m", ylabel="||K_T - K_0|| / ||K_0||",
              title="NTK change")
  axes[3].set(xlabel="step", ylabel="lambda_min(K_t) / lambda_min(K_0)", title="NTK spectrum")
  for ax in axes:
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "gd_dynamics")


def plot_init_and_width(comparison, size_rows, width_exponent, workdir: Workdir) -> str:
  fig, axes = plotting.figure(1, 2)
  for scheme, curve in comparison["loss_curves"].items():
    axes[0].plot(curve, label=f"{scheme} (gamma lambda_max = "
                 f"{comparison['gamma_lambda_max'][scheme]:.2g})")
  axes[0].set(yscale="log", xlabel="step", ylabel="loss",
              title=f"one gamma, d_m={comparison['width']}")
  n = np.array([r["n"] for r in size_rows], dtype=float)
  needed = np.array([r["width_needed"] for r in size_rows], dtype=float)
  axes[1].plot(n, needed, marker="o", label=f"fitted exponent {width_exponent:.2f}")
  axes[1].set(xscale="log", yscale="log", xlabel="N", ylabel="smallest d_m reaching the loss",
              title="width needed")
  for ax in axes:
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "init_and_width")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False) -> dict[str, Any]:
  """Runs P2-A to P2-E and writes config.json, metrics.jsonl (GD trajectories: one line per
  init, width and logged step), sweeps/*/sweep.jsonl, results.json and
  plots/{ntk_init, gd_dynamics, init_and_width}.png. Enables float64.

  Returns:
    The results dict: `ntk_init`, `attention_slope`, `gd`, `weight_change_slope`,
    `ntk_change_slope`, `checks` and extras (`init_comparison`, `width_needed`,
    `width_exponent`, `observations`).
  """
  jax.config.update("jax_enable_x64", True)
  t_start = time.perf_counter()
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite)
  wd.write_config(to_dict(config))
  key = jax.random.key(config.seed)
  k_ntk, k_gd, k_compare, k_size = jax.random.split(key, 4)
  del key

  logging.info("NTK at init: widths %s, inits %s, %d seeds", config.ntk_widths, config.inits,
               config.ntk_seeds)
  ntk_rows = ntk_init_sweep(config, k_ntk, wd.file(os.path.join("sweeps", "ntk_init")))
  attention_slope = {}
  for tau0 in ("d_m^-1", "d_m^-1/2"):
    rows = [_select(ntk_rows, init="lecun", tau0=tau0, width=w)[0] for w in config.ntk_widths]
    attention_slope[tau0] = checks_lib.loglog_slope(
        config.ntk_widths, [r["attention_deviation"] for r in rows])

  logging.info("GD dynamics: widths %s, %d steps", config.gd_widths, config.gd_steps)
  gd_rows, trajectories = gd_sweep(config, k_gd, wd.file(os.path.join("sweeps", "gd")))
  for (scheme, width), traj in trajectories.items():
    for j, step in enumerate(range(0, config.gd_steps + 1, config.log_every)):
      wd.log(step, {"study": "gd", "init": scheme, "width": width, "loss": traj["loss"][step],
                    **{k: v[j] for k, v in traj.items() if k != "loss"}})
  for r in gd_rows:
    logging.info("d_m=%d: contraction %.4f vs bound %.4f; weight change %.3g, NTK change "
                 "%.3g; loss %.3g -> %.3g", r["width"], r["contraction"], r["bound"],
                 r["weight_change"], r["ntk_change"], r["initial_loss"], r["final_loss"])
  widths = [r["width"] for r in gd_rows]
  slopes = {name: checks_lib.loglog_slope(widths, [r[name.removesuffix("_slope")]
                                                    for r in gd_rows])
            for name in ("weight_change_slope", "ntk_change_slope")}

  logging.info("fixed-gamma comparison of initialisations at d_m=%d", config.compare_width)
  comparison = init_comparison(config, k_compare)
  for step in range(config.compare_steps + 1):
    wd.log(step, {"study": "init_comparison",
                  **{f"loss_{s}": v[step] for s, v in comparison["loss_curves"].items()}})

  logging.info("width needed vs N: N in %s", config.sizes)
  size_rows = width_needed_sweep(config, k_size, wd.file(os.path.join("sweeps", "width")))
  width_exponent = checks_lib.loglog_slope([r["n"] for r in size_rows],
                                           [r["width_needed"] for r in size_rows])

  checks, observations = evaluate_checks(config, ntk_rows, attention_slope, gd_rows, slopes,
                                         comparison)
  observations["width_exponent_vs_n"] = checks_lib.interval(width_exponent, hi=2.0)
  results = {
      "ntk_init": ntk_rows,
      "attention_slope": attention_slope,
      "gd": gd_rows,
      **slopes,
      f"ntk_change_slope_{config.gd_compare_init}_init": checks_lib.loglog_slope(
          widths, [r.get(f"ntk_change_{config.gd_compare_init}_init", r["ntk_change"])
                   for r in gd_rows]),
      "init_comparison": {k: v for k, v in comparison.items() if k != "loss_curves"},
      "width_needed": size_rows,
      "width_exponent": width_exponent,
      "checks": checks,
      "observations": observations,
      "all_checks_pass": checks_lib.all_pass(checks),
      "wall_s": time.perf_counter() - t_start,
  }
  wd.write_results(results)
  plot_ntk_init(config, ntk_rows, attention_slope, wd)
  plot_gd(config, gd_rows, trajectories, slopes, wd)
  plot_init_and_width(comparison, size_rows, width_exponent, wd)
  failed = [k for k, c in checks.items() if not c["pass"]]
  logging.info("checks: %d/%d pass%s (%.1fs)", len(checks) - len(failed), len(checks),
               f"; failed: {failed}" if failed else "", results["wall_s"])
  return results
