"""Figures of the mean-field ResNet study, drawn from results.json and metrics.jsonl:

  plots/beta_sweep                 loss, lambda_min(G2) and lambda_min(G1 + G2), movement and
                                   KL against beta, KL over training
  plots/limit_and_generalisation   sup error against L and M, the generalisation gap against n
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir, gates
from jaxlab.papers.meanfield_resnet.config import Config

# The paper's names of the logged quantities (legends).
NAMES = {"displacement_head": "head displacement", "displacement_resnet": "ResNet displacement",
         "kl_head": "KL, head", "kl_resnet": "KL, ResNet",
         "error_trained": "trained network", "error_init_features": "features at init",
         "gap": "|test - train MSE|", "proxy": r"bound proxy $\beta\sqrt{KL / n}$",
         "train_mse": "training MSE"}


def logged_beta_sweep(config: Config, wd: Workdir) -> dict[str, np.ndarray]:
  """The beta sweep's metrics.jsonl lines as `{"step": (T,), name: (num_betas, T)}`."""
  lines = [m for m in wd.read_metrics() if m.get("study") == "beta_sweep"]
  out = {"step": np.array(sorted({m["step"] for m in lines}))}
  for name in ("loss", "lambda_min_g2", "lambda_min_g", "kl_head", "kl_resnet"):
    out[name] = np.array([[m[name] for m in lines if m["beta"] == beta]
                          for beta in config.beta_sweep.betas])
  return out


def plot_beta_sweep(config: Config, rows, logged, wd: Workdir) -> str:
  fig, axes = plotting.figure(1, 4)
  steps = logged["step"]
  for i, beta in enumerate(config.beta_sweep.betas):
    axes[0].plot(steps, logged["loss"][i], label=rf"$\beta$={beta:g}")
    line, = axes[1].plot(steps, logged["lambda_min_g2"][i], label=rf"$\beta$={beta:g}")
    axes[1].plot(steps, logged["lambda_min_g"][i], ls=":", color=line.get_color())
    axes[3].plot(steps, logged["kl_head"][i], color=line.get_color(), label=rf"$\beta$={beta:g}")
    axes[3].plot(steps, logged["kl_resnet"][i], ls=":", color=line.get_color())
  axes[1].axhline(0.5 * rows[0]["gram_min_eig_init"], color="k", lw=0.8, ls="--",
                  label=r"0.5 $\lambda_{min}(G_2(0))$")
  axes[0].set(xlabel="gradient step", ylabel="training loss R(t)", yscale="log",
              title="training loss")
  axes[1].set(xlabel="gradient step", ylabel=r"$\lambda_{min}$ of the Gram matrix",
              title=r"$G_2$ (solid), $G_1 + G_2$ (dotted)")
  betas = np.array(config.beta_sweep.betas)
  for name, marker in (("displacement_head", "o"), ("displacement_resnet", "s"),
                       ("kl_head", "^"), ("kl_resnet", "v")):
    values = np.array([r[name] for r in rows])
    axes[2].plot(betas, values, marker=marker,
                 label=f"{NAMES[name]} (slope {gates.loglog_slope(betas, values):.2f})")
  plotting.log_axis(axes[2], betas)
  axes[2].set(xlabel=r"$\beta$ (scaling)", yscale="log",
              ylabel="distance from init (displacement, KL)", title=r"movement vs $\beta$")
  axes[3].set(xlabel="gradient step", ylabel="KL divergence from init", yscale="log",
              title="KL head (solid), ResNet (dotted)")
  plotting.finish(axes)
  return wd.save_figure(fig, "beta_sweep")


def plot_limit_and_generalisation(limit_rows, gen_rows, wd: Workdir) -> str:
  fig, axes = plotting.figure(1, 3)
  for ax, varied in zip(axes[:2], ("depth", "width")):
    sel = [r for r in limit_rows if r["varied"] == varied]
    grid = np.array([r[varied] for r in sel])
    for name, marker in (("error_trained", "o"), ("error_init_features", "s")):
      values = np.array([r[name] for r in sel])
      ax.plot(grid, values, marker=marker,
              label=f"{NAMES[name]} (slope {gates.loglog_slope(grid, values):.2f})")
    power, label = (1.0, r"$\propto 1/L$") if varied == "depth" else (0.5, r"$\propto 1/\sqrt{M}$")
    ax.plot(grid, sel[0]["error_trained"] * (grid / grid[0]) ** -power, "k--", lw=0.8,
            label=label)
    plotting.log_axis(ax, grid)
    ax.set(xlabel="depth L" if varied == "depth" else "width M", yscale="log",
           ylabel=r"$\sup_x |f - f_{ref}|$ (output units)", title=f"sup error vs {varied}")
  n = np.array([r["n"] for r in gen_rows])
  for name in ("gap", "proxy", "train_mse"):
    values = np.array([r[name] for r in gen_rows])
    axes[2].plot(n, np.abs(values), marker="o",
                 label=f"{NAMES[name]} (slope {gates.loglog_slope(n, values):.2f})")
  plotting.log_axis(axes[2], n)
  axes[2].set(xlabel=r"n (training points; $\beta \propto \sqrt{n}$)", yscale="log",
              ylabel="MSE (squared output units)", title="generalisation")
  plotting.finish(axes)
  return wd.save_figure(fig, "limit_and_generalisation")


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  """Both figures (PNG and PDF under plots/)."""
  plot_beta_sweep(config, results["beta_sweep"], logged_beta_sweep(config, wd), wd)
  plot_limit_and_generalisation(results["limit_sweep"], results["generalisation"], wd)
