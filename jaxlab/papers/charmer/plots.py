"""The Charmer study's figure: ASR and mean queries against the budget k, per victim.

  plots(config, results, wd)         # plots/asr_vs_k.png and .pdf
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jaxlab import plotting
from jaxlab.experiment.workdir import Workdir

# The paper's names of the attacks and victims (legends and titles).
ATTACK_NAMES = {"charmer": "Charmer", "exhaustive": "exhaustive greedy",
                "random": "random edits", "random_search": "random search",
                "deepwordbug": "DeepWordBug"}
VICTIM_NAMES = {"cnn": "char-CNN", "transformer": "char-Transformer"}


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
      label = ATTACK_NAMES.get(attack, attack)
      axes[0, col].plot(ks, _values(rows, attack, "asr"), marker="o", label=label)
      axes[1, col].plot(ks, _values(rows, attack, "mean_queries"), marker="o", label=label)
    axes[0, col].set(xlabel="budget k (character edits, Levenshtein)",
                     ylabel="attack success rate (fraction)", ylim=(-0.02, 1.02),
                     title=f"{VICTIM_NAMES.get(name, name)} "
                           f"(clean accuracy {rows[0]['clean_acc']:.2f})")
    axes[1, col].set(xlabel="budget k (character edits, Levenshtein)",
                     ylabel="mean queries per sentence (model calls)")
    axes[1, col].set_yscale("log")
    for ax in axes[:, col]:
      plotting.log_axis(ax, [r["k"] for r in rows])
    plotting.finish(axes[:, col])
  return wd.save_figure(fig, "asr_vs_k")


def plots(config, results: dict[str, Any], wd: Workdir) -> None:
  """The study's plots (called by the run skeleton after results.json is written)."""
  del config
  plot_asr_vs_k(results["runs"], wd)
