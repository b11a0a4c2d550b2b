"""The study's figures: plots/accuracy (test and val accuracy of every method) and
plots/memory_vs_k (coefficient-learning memory of Learned-Soup+ and MEHL-Soup+ against K).

  plots(config, results, wd)          # called by the run skeleton after results.json
"""

from __future__ import annotations

from typing import Any

import matplotlib.ticker
import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.papers.mehl_soup.methods import BY_NAME, selected


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  del config
  plot_accuracy(results, wd)
  plot_memory(results, wd)


def plot_accuracy(results: dict[str, Any], wd: Workdir) -> str:
  """Bars: test accuracy per method (val as a tick), the ingredients' mean test accuracy as a
  dotted line."""
  methods = selected(list(results["methods"]))
  fig, ax = plotting.figure(1, 1, panel_size=(6.5, 3.8))
  x = np.arange(len(methods))
  test = [results["methods"][m.name]["test_acc"] for m in methods]
  val = [results["methods"][m.name]["val_acc"] for m in methods]
  ax.bar(x, test, color=[m.color for m in methods], label="test")
  ax.plot(x, val, "k_", markersize=18, mew=2, label="val")
  mean_ingredient = results["ingredients"]["test_acc_mean"]
  ax.axhline(mean_ingredient, color="0.5", ls=":", lw=1, label="ingredients, mean test")
  lo = min(min(test), min(val), mean_ingredient)
  ax.set(xticks=x, xticklabels=[m.label for m in methods], ylabel="accuracy",
         ylim=(max(0.0, lo - 0.05), min(1.0, max(max(test), max(val)) + 0.02)),
         title=f"K = {results['num_ingredients']} ingredients, b = {results['block_size']}")
  for xi, t in zip(x, test):
    ax.text(xi, t + 0.002, f"{t:.3f}", ha="center", va="bottom", fontsize=7)
  ax.legend(fontsize=7, loc="lower right")
  ax.grid(axis="y", alpha=0.3)
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
