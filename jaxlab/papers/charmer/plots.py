"""The Charmer study's figure: ASR and mean queries against the budget k, per victim.

  plots(config, results, wd)         # plots/asr_vs_k.png and .pdf
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jaxlab import plotting
from jaxlab.experiment.workdir import Workdir


def _values(rows: Sequence[dict[str, Any]], attack: str, key: str) -> np.ndarray:
  """`rows[i]["attacks"][attack][key]` for the rows holding `attack` (None read as NaN)."""
  return np.array([np.nan if r["attacks"][attack][key] is None else r["attacks"][attack][key]
                   for r in rows if attack in r["attacks"]], float)


def plot_asr_vs_k(runs: Sequence[dict[str, Any]], wd: Workdir) -> str:
  """Top row: ASR vs k; bottom row: mean queries per sentence vs k; one column per victim."""
  names = list(dict.fromkeys(r["victim"] for r in runs))
  fig, axes = plotting.figure(2, len(names))
  axes = np.reshape(axes, (2, len(names)))
  for col, name in enumerate(names):
    rows = [r for r in runs if r["victim"] == name]
    for attack in dict.fromkeys(a for r in rows for a in r["attacks"]):
      ks = [r["k"] for r in rows if attack in r["attacks"]]
      axes[0, col].plot(ks, _values(rows, attack, "asr"), marker="o", label=attack)
      axes[1, col].plot(ks, _values(rows, attack, "mean_queries"), marker="o", label=attack)
    axes[0, col].set(xlabel="budget k (Levenshtein)", ylabel="attack success rate",
                     title=f"{name} (clean acc {rows[0]['clean_acc']:.2f})", ylim=(-0.02, 1.02),
                     xscale="log")
    axes[1, col].set(xlabel="budget k (Levenshtein)", ylabel="mean queries per sentence",
                     xscale="log", yscale="log")
    for ax in axes[:, col]:
      ax.set_xticks([r["k"] for r in rows], [str(r["k"]) for r in rows])
      ax.grid(alpha=0.3)
      ax.legend(fontsize=8)
  return wd.save_figure(fig, "asr_vs_k")


def plots(config, results: dict[str, Any], wd: Workdir) -> None:
  """The study's plots (called by the run skeleton after results.json is written)."""
  del config
  plot_asr_vs_k(results["runs"], wd)
