"""Figures of the robust-NAS study (plots/*.png and .pdf).

  scores_vs_accuracy   lambda_min(K_all(beta)) and lambda_min(K~_all(beta)) against the
                       strongest PGD accuracy, one column per beta (mini benchmark)
  tau_heatmap          Kendall tau of every score (mini) or metric against every accuracy
  search_regret        mean regret on robust accuracy over queries, per algorithm and
                       objective (shaded: one standard deviation over seeds)
  accuracy_boxes       clean, FGSM and PGD accuracies over the cells (the paper's Fig. 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir
from jaxlab.nas import robust_ntk


def scores_vs_accuracy(results: dict[str, Any], betas, wd: Workdir) -> None:
  cells, metric = results["per_cell"], results["score_gap"]["metric"]
  fig, axes = plotting.figure(2, len(betas))
  axes = np.reshape(axes, (2, len(betas)))
  acc = np.array([c["accuracy"][metric] for c in cells])
  for j, beta in enumerate(betas):
    for i, (kernel, label) in enumerate((("K_all", "K_all"), ("Kt_all", "K~_all"))):
      name = robust_ntk.score_name(kernel, beta, "lambda_min")
      score = np.array([c["scores"][name] for c in cells])
      tau = results["kendall"]["scores"][name][metric]
      ax = axes[i, j]
      ax.scatter(np.maximum(score, 1e-30), acc, s=14, alpha=0.8)
      ax.set(xscale="log", xlabel=f"lambda_min({label}({beta:g}))", ylabel=metric,
             title=f"tau = {tau:.2f}" if tau is not None else "tau undefined")
      ax.grid(alpha=0.3)
  wd.save_figure(fig, "scores_vs_accuracy")


def tau_heatmap(table: dict[str, dict[str, float | None]], name: str, wd: Workdir) -> None:
  rows, cols = list(table), list(next(iter(table.values())))
  values = np.array([[np.nan if table[r][c] is None else table[r][c] for c in cols]
                     for r in rows])
  fig, ax = plotting.figure(panel_size=(1.2 * len(cols) + 3, 0.32 * len(rows) + 1.5))
  image = ax.imshow(values, cmap="coolwarm", vmin=-1, vmax=1, aspect="auto")
  ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=7)
  ax.set_yticks(range(len(rows)), rows, fontsize=7)
  for i in range(len(rows)):
    for j in range(len(cols)):
      if np.isfinite(values[i, j]):
        ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6)
  fig.colorbar(image, ax=ax, label="Kendall tau")
  wd.save_figure(fig, name)


def search_regret(search: dict[str, Any], wd: Workdir) -> None:
  fig, axes = plotting.figure(1, 2)
  for ax, metric in zip(axes, ("robust", "clean")):
    for algorithm, by_objective in search.items():
      for objective, style in (("robust", "-"), ("clean", "--")):
        curve = by_objective[objective][f"regret_{metric}"]
        mean, std = np.asarray(curve["mean"]), np.asarray(curve["std"])
        queries = np.arange(1, len(mean) + 1)
        line, = ax.plot(queries, mean, style, label=f"{algorithm} ({objective} objective)")
        ax.fill_between(queries, mean - std, mean + std, color=line.get_color(), alpha=0.1)
    ax.set(xlabel="queries", ylabel=f"regret ({metric} accuracy)",
           title=f"regret on {metric} accuracy")
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=6)
  wd.save_figure(fig, "search_regret")


def accuracy_boxes(distribution: dict[str, list[float | None]], wd: Workdir) -> None:
  names = list(distribution)
  data = [[v for v in distribution[m] if v is not None] for m in names]
  fig, ax = plotting.figure(panel_size=(1.1 * len(names) + 2, 3.5))
  ax.boxplot(data)
  ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right", fontsize=7)
  ax.set(ylabel="accuracy", title=f"{len(data[0])} architectures")
  ax.grid(alpha=0.3)
  wd.save_figure(fig, "accuracy_boxes")


def plot_all(config, results: dict[str, Any], wd: Workdir) -> None:
  """Every figure the results support."""
  if results["per_cell"]:
    scores_vs_accuracy(results, config.ntk_betas, wd)
    tau_heatmap(results["kendall"]["scores"], "tau_scores", wd)
  tau_heatmap(results["kendall"]["metrics"], "tau_metrics", wd)
  search_regret(results["search"], wd)
  accuracy_boxes(results["distribution"], wd)
