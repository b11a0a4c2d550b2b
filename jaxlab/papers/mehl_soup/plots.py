"""The study's figures: plots/accuracy (every method's test accuracy per seed and its mean,
with the best individual model's mean as a line, and the paired differences against it),
plots/memory_vs_k (coefficient-learning memory of Learned-Soup+ and MEHL-Soup+ against K),
and for the ablation preset plots/ablation (each soup's paired difference against the best
single model, and the premise, over the fine-tuning learning-rate ranges, one line per
pre-training strength).

  plots(config, results, wd)          # called by the run skeleton after results.json
"""

from __future__ import annotations

from typing import Any

import matplotlib.patches
import matplotlib.ticker
import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.papers.mehl_soup.methods import BY_NAME, selected


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  del config
  if "ablation" in results:
    plot_ablation(results, wd)
    return
  plot_accuracy(results, wd)
  plot_memory(results, wd)


def plot_accuracy(results: dict[str, Any], wd: Workdir) -> str:
  """Left: test accuracy of every method, one dot per seed and a bar across at the mean (no
  bars, so the accuracy axis need not start at 0), the best individual model's mean as a
  dashed line. Right: each soup minus the best individual model, paired by seed (dots),
  mean +- one standard error."""
  methods = selected(list(results["methods"]))
  table = results["methods"]
  fig, (ax, ax_d) = plotting.figure(1, 2, panel_size=(5.2, 3.8))
  x = np.arange(len(methods))
  jitter = np.linspace(-0.15, 0.15, len(results["seeds"]))
  for xi, m in zip(x, methods):
    mean = table[m.name]["test_acc"]
    ax.plot(xi + jitter, table[m.name]["test_per_seed"], "o", color=m.color, markersize=3,
            alpha=0.7, label="one seed" if xi == 0 else None)
    ax.plot([xi - 0.3, xi + 0.3], [mean, mean], "-", color=m.color, lw=2.5,
            label="mean over seeds" if xi == 0 else None)
    ax.text(xi, mean + 0.003, f"{mean:.3f}", ha="center", va="bottom", fontsize=7)
  values = [v for m in methods for v in table[m.name]["test_per_seed"]]
  if "best_individual" in table:
    ax.axhline(table["best_individual"]["test_acc"], color="k", ls="--", lw=1,
               label="best individual, mean")
  ax.legend(fontsize=7, loc="lower right")
  ax.set(xticks=x, xticklabels=[m.label for m in methods], xlabel="method",
         ylabel="test accuracy (fraction)",
         ylim=(max(0.0, min(values) - 0.03), min(1.0, max(values) + 0.02)),
         title=f"{len(results['seeds'])} seeds, K = {results['num_ingredients']}, "
               f"b = {results['block_size']}")
  ax.tick_params(axis="x", labelrotation=45, labelsize=7)
  soups = [m for m in methods if "diff_best" in table[m.name]]
  for xi, m in enumerate(soups):
    d = table[m.name]["diff_best"]
    ax_d.plot(xi + jitter, np.asarray(d["per_seed"]) * 100, "o", color=m.color, markersize=3,
              alpha=0.6)
    ax_d.errorbar(xi, d["mean"] * 100, yerr=(d["se"] or 0) * 100, fmt="s", color=m.color,
                  capsize=4, markersize=6)
  ax_d.axhline(0, color="k", ls="--", lw=1)
  ax_d.set(xticks=range(len(soups)), xticklabels=[m.label for m in soups], xlabel="soup",
           ylabel="minus best individual (accuracy points)",
           title="paired by seed: seeds (dots), mean +- s.e.")
  ax_d.tick_params(axis="x", labelrotation=45, labelsize=7)
  for a in (ax, ax_d):
    a.grid(axis="y", alpha=0.3)
  return wd.save_figure(fig, "accuracy")


def plot_memory(results: dict[str, Any], wd: Workdir) -> str:
  """Compiled coefficient-step MiB against K (log-log), this run's peak as a star."""
  fig, ax = plotting.figure(1, 1)
  curves = results["memory_vs_k"]
  for method in (BY_NAME["learned_plus"], BY_NAME["mehl_plus"]):
    ks = sorted(int(k) for k in curves[method.name])
    ax.plot(ks, [curves[method.name][str(k)] / 2**20 for k in ks], "o-", color=method.color,
            label=f"{method.label} (compiled step)")
    if method.name in results["methods"]:
      ax.plot([results["num_ingredients"]],
              [results["methods"][method.name]["peak_bytes"] / 2**20], "*",
              color=method.color, markersize=12, label=f"{method.label}, this run")
  ax.set(xlabel="number of ingredients K", ylabel="peak MiB", xscale="log", yscale="log",
         title=f"coefficient-learning memory (b = {results['block_size']})")
  ks = sorted({int(k) for k in curves["learned_plus"]} | {results["num_ingredients"]})
  ax.set_xticks(ks, [str(k) for k in ks])
  ax.set_xticks([], minor=True)
  ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
  ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3, which="both")
  return wd.save_figure(fig, "memory_vs_k")


def plot_ablation(results: dict[str, Any], wd: Workdir) -> str:
  """2x3 panels: one per soup (Greedy Soup, Learned-Soup+, MEHL-Soup+, Uniform Soup) and one
  for the premise, the sixth holds the legend. Each soup panel: the paired difference against
  the best individual model (accuracy points on test, mean +- se over seeds) against the top
  of the fine-tuning learning-rate range, one line per pre-training strength; the premise
  panel: the mean ingredient minus the start (val). A grey band marks the default regime's
  range."""
  cells = results["ablation"]
  strengths = sorted({c["pretrain_epochs"] for c in cells})
  soups = [m for m in ("greedy", "learned_plus", "mehl_plus", "uniform")
           if m in cells[0]["diff_best"]]
  fig, axes = plotting.figure(2, 3, panel_size=(3.6, 3.0))
  panels, key = axes[:len(soups) + 1], axes[-1]
  colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.85, len(strengths)))
  for color, epochs in zip(colors, strengths):
    row = sorted((c for c in cells if c["pretrain_epochs"] == epochs), key=lambda c: c["lr_max"])
    lrs = [c["lr_max"] for c in row]
    label = f"start pre-trained {epochs} epochs" if epochs else "no pre-training (probe only)"
    for ax, name in zip(panels, soups):
      mean = np.array([c["diff_best"][name]["mean"] for c in row]) * 100
      se = np.array([c["diff_best"][name]["se"] or 0.0 for c in row]) * 100
      ax.errorbar(lrs, mean, yerr=se, fmt="o-", color=color, capsize=3, label=label)
    panels[len(soups)].plot(lrs, [c["premise"]["gain_val"] * 100 for c in row], "o-",
                            color=color, label=label)
  for ax, name in zip(panels, soups):
    ax.set(title=f"{BY_NAME[name].label} - best individual",
           ylabel="accuracy points (test)")
  panels[len(soups)].set(title="premise: mean ingredient - start",
                         ylabel="accuracy points (val)")
  default_top = results.get("default_lr_max")
  for ax in panels:
    ax.axhline(0, color="k", ls="--", lw=1)
    if default_top:
      ax.axvline(default_top, color="0.6", lw=8, alpha=0.3, zorder=0)
    ax.set(xscale="log", xlabel="fine-tuning lr, top of range")
    ax.grid(alpha=0.3)
  handles, labels = panels[0].get_legend_handles_labels()
  if default_top:
    handles.append(matplotlib.patches.Patch(color="0.6", alpha=0.3))
    labels.append(f"the default's range ({default_top / 10:g}..{default_top:g})")
  key.axis("off")
  key.legend(handles, labels, loc="center", fontsize=8,
             title=f"AdamW lr log-uniform in top/10..top\n{len(results['seeds'])} seeds, "
                   f"K = {results['num_ingredients']}", title_fontsize=8)
  return wd.save_figure(fig, "ablation")
