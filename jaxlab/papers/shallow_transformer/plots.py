"""Figures of the shallow-Transformer study, drawn from results.json, metrics.jsonl and the GD
sweep's records (sweeps/gd/sweep.jsonl, which hold the full trajectories):

  plots/ntk_init         lambda_min(K0) against width per (init, tau0), attention degeneration
  plots/gd_dynamics      loss, weight and NTK change against width, lambda_min(K_t)
  plots/init_and_width   the initialisations at one gamma, the width needed against N
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir, sweep
from jaxlab.papers.shallow_transformer import dynamics
from jaxlab.papers.shallow_transformer.config import Config
from jaxlab.papers.shallow_transformer.ntk_init import TAU0_LABELS, select


# The paper's names of the initialisations and of the attention scalings tau0 (legends).
INIT_NAMES = {"lecun": "LeCun", "he": "He", "ntk": "NTK"}
TAU0_NAMES = {"d_m^-1/2": r"$\tau_0 = d_m^{-1/2}$", "d_m^-1": r"$\tau_0 = d_m^{-1}$"}
WIDTH_LABEL = r"width $d_m$ (hidden units)"


def _finish(axes) -> None:
  plotting.finish(axes)


def plot_ntk_init(config: Config, ntk_rows, attention_slope, wd: Workdir) -> str:
  fig, axes = plotting.figure(1, 3)
  widths = np.array(config.ntk_init.widths)
  for scheme in config.ntk_init.inits:
    for tau0, ls in zip(TAU0_LABELS, ("-", "--")):
      rows = [select(ntk_rows, init=scheme, tau0=tau0, width=w)[0] for w in widths]
      ax, key = ((axes[1], "lambda_min") if scheme == "ntk" else
                 (axes[0], "lambda_min_over_width"))
      ax.plot(widths, [r[key] for r in rows], ls=ls, marker="o",
              label=f"{INIT_NAMES[scheme]}, {TAU0_NAMES[tau0]}")
  for tau0 in TAU0_LABELS:
    rows = [select(ntk_rows, init="lecun", tau0=tau0, width=w)[0] for w in widths]
    axes[2].plot(widths, [r["attention_deviation"] for r in rows], marker="o",
                 label=f"{TAU0_NAMES[tau0]} (slope {attention_slope[tau0]:.2f})")
  axes[0].set(yscale="log", xlabel=WIDTH_LABEL, ylabel=r"$\lambda_{min}(K_0) / d_m$",
              title="LeCun / He init")
  axes[1].set(yscale="log", xlabel=WIDTH_LABEL, ylabel=r"$\lambda_{min}(K_0)$",
              title="NTK init")
  axes[2].set(yscale="log", xlabel=WIDTH_LABEL,
              ylabel=r"max |softmax - $1/d_s$| (attention weight)",
              title="attention degeneration (LeCun)")
  for ax in axes:
    plotting.log_axis(ax, widths)
  _finish(axes)
  return wd.save_figure(fig, "ntk_init")


def plot_gd(config: Config, gd_rows, trajectories, slopes, wd: Workdir) -> str:
  fig, axes = plotting.figure(1, 4)
  steps = np.arange(0, config.gd.num_steps + 1, config.gd.log_every)
  for width in config.gd.widths:
    traj = trajectories["lecun", width]
    line, = axes[0].plot(traj["loss"], label=f"$d_m$ = {width}")
    axes[3].plot(steps, traj["lambda_min"] / traj["lambda_min"][0], color=line.get_color(),
                 label=f"$d_m$ = {width}")
  widths = np.array([r["width"] for r in gd_rows])
  other = config.gd.compare_init
  axes[1].plot(widths, [r["weight_change"] for r in gd_rows], marker="o",
               label=f"LeCun (slope {slopes['weight_change_slope']:.2f})")
  axes[2].plot(widths, [r["ntk_change"] for r in gd_rows], marker="o",
               label=f"LeCun (slope {slopes['ntk_change_slope']:.2f})")
  if other != "lecun":
    axes[1].plot(widths, [r[f"weight_change_{other}_init"] for r in gd_rows], marker="s",
                 label=f"{INIT_NAMES[other]} init")
    axes[2].plot(widths, [r[f"ntk_change_{other}_init"] for r in gd_rows], marker="s",
                 label=f"{INIT_NAMES[other]} init")
  axes[0].set(yscale="log", xlabel="GD step", ylabel="training loss (MSE)",
              title="training loss (LeCun)")
  axes[1].set(yscale="log", xlabel=WIDTH_LABEL,
              ylabel=r"$\|\theta_T - \theta_0\| / \|\theta_0\|$ (relative)",
              title="weight change")
  axes[2].set(yscale="log", xlabel=WIDTH_LABEL, ylabel=r"$\|K_T - K_0\| / \|K_0\|$ (relative)",
              title="NTK change")
  for ax in axes[1:3]:
    plotting.log_axis(ax, widths)
  axes[3].set(xlabel="GD step", ylabel=r"$\lambda_{min}(K_t) / \lambda_{min}(K_0)$",
              title="NTK spectrum")
  _finish(axes)
  return wd.save_figure(fig, "gd_dynamics")


def plot_init_and_width(comparison, loss_curves, size_rows, width_exponent, wd: Workdir
                        ) -> str:
  fig, axes = plotting.figure(1, 2)
  for scheme, curve in loss_curves.items():
    axes[0].plot(curve, label=rf"{INIT_NAMES[scheme]} ($\gamma \lambda_{{max}}$ = "
                 f"{comparison['gamma_lambda_max'][scheme]:.2g})")
  axes[0].set(yscale="log", xlabel="GD step", ylabel="training loss (MSE)",
              title=rf"one step size $\gamma$, $d_m$ = {comparison['width']}")
  n = np.array([r["n"] for r in size_rows], dtype=float)
  needed = np.array([r["width_needed"] for r in size_rows], dtype=float)
  axes[1].plot(n, needed, marker="o", label=f"fitted exponent {width_exponent:.2f}")
  axes[1].set(yscale="log", xlabel="N (training sequences)",
              ylabel=r"smallest $d_m$ reaching the loss", title="width needed")
  plotting.log_axis(axes[1], n)
  _finish(axes)
  return wd.save_figure(fig, "init_and_width")


def comparison_curves(comparison, wd: Workdir) -> dict[str, np.ndarray]:
  """`{init: loss (num_steps + 1,)}` of the fixed-gamma comparison, from metrics.jsonl."""
  lines = [m for m in wd.read_metrics() if m.get("study") == "init_comparison"]
  return {s: np.array([m[f"loss_{s}"] for m in lines]) for s in comparison["final_loss"]}


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  """The three figures (PNG and PDF under plots/)."""
  slopes = {k: results[k] for k in ("weight_change_slope", "ntk_change_slope")}
  records = [r for r in sweep.read_log(os.path.join(wd.path, dynamics.GD_SWEEP_DIR)).values()
             if "result" in r]
  plot_ntk_init(config, results["ntk_init"], results["attention_slope"], wd)
  plot_gd(config, results["gd"], dynamics.trajectories(records), slopes, wd)
  plot_init_and_width(results["init_comparison"],
                      comparison_curves(results["init_comparison"], wd),
                      results["width_needed"], results["width_exponent"], wd)
