"""The ELLE study's figures (PNG + PDF under plots/):

  pgd_acc_vs_eps   final PGD and clean test accuracy against eps, per method (perturbation-
                   wise CO);
  co_run           the run to show (`summary.co_example`): FGSM training accuracy, PGD and
                   clean test accuracy and E_lin per epoch; E_lin of every method at its eps
                   and seed; ELLE-A's lambda against the training E_lin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.adversarial import training
from jaxlab.experiment import Workdir, sweep
from jaxlab.papers.elle import methods, summary as summary_lib
from jaxlab.papers.elle.config import Config


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  """Both figures, from results.json and the runs' histories in the workdir's sweep.jsonl."""
  plot_accuracy_vs_eps(config, results["summary"], wd)
  plot_co_run(runs_with_history(results, wd), wd)


def runs_with_history(results: dict[str, Any], wd: Workdir) -> list[dict[str, Any]]:
  """The runs of results.json with their per-epoch `history`, read back from sweep.jsonl."""
  history = {(r["result"]["method"], r["result"]["eps"], r["result"]["seed"]):
             r["result"]["history"] for r in sweep.read_log(wd.path).values()}
  return [dict(r, history=history[(r["method"], r["eps"], r["seed"])])
          for r in results["runs"]]


def label(name: str) -> str:
  """The display name of method `name` ('ELLE-A')."""
  return training.LABELS.get(name, name)


def plot_accuracy_vs_eps(config: Config, summary: dict[str, Any], wd: Workdir) -> str:
  """Final PGD accuracy (mean +- std over seeds) and clean accuracy against eps."""
  fig, (ax1, ax2) = plotting.figure(1, 2)
  eps = sorted(config.eps)
  for name in config.methods:
    cells = [summary[name][summary_lib.eps_key(e)] for e in eps]
    ax1.errorbar(eps, [c["pgd_acc_mean"] for c in cells], yerr=[c["pgd_acc_std"] for c in cells],
                 marker="o", capsize=3, label=label(name))
    ax2.plot(eps, [c["clean_acc_mean"] for c in cells], marker="o", label=label(name))
  ev = config.evaluation
  ax1.set(xlabel="eps (L-inf)" if config.norm == "linf" else "eps (L2)",
          ylabel=f"PGD-{ev.steps}-{ev.restarts} accuracy", title="robust accuracy (test)")
  ax2.set(xlabel="eps", ylabel="clean accuracy", title="clean accuracy (test)")
  for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
  ax1.legend(fontsize=7)
  return wd.save_figure(fig, "pgd_acc_vs_eps")


def _example_panel(ax, example: dict[str, Any], epochs: np.ndarray) -> None:
  """Accuracies and E_lin of one run per epoch."""
  for key, text in (("fgsm_acc", "FGSM acc (train)"), ("pgd_acc", "PGD acc (test)"),
                    ("clean_acc", "clean acc (test)")):
    ax.plot(epochs, [h[key] for h in example["history"]], label=text)
  axb = ax.twinx()
  axb.semilogy(epochs, [h["lin_err"] for h in example["history"]], "k:", label="E_lin")
  axb.set_ylabel("local-linearity error E_lin")
  tag = f"{label(example['method'])} eps={example['eps']:g} seed={example['seed']}"
  ax.set(xlabel="epoch", ylabel="accuracy", title=f"{tag}{' (CO)' if example['co'] else ''}")
  ax.legend(fontsize=7, loc="center left")


def _lambda_panel(ax, peers: list[dict[str, Any]], epochs: np.ndarray) -> None:
  """ELLE-A's lambda (epoch mean) against the training E_lin of the adaptive runs."""
  adaptive = [r for r in peers if methods.is_adaptive(r["method"])]
  axb = ax.twinx()
  for r in adaptive:
    n = len(r["history"])
    ax.plot(epochs[:n], [h["train_lam"] for h in r["history"]],
            label=f"{label(r['method'])} lambda")
    axb.semilogy(epochs[:n], [h["train_lin_err"] for h in r["history"]], ":",
                 label=f"{label(r['method'])} E_lin (train)")
  ax.set(xlabel="epoch", ylabel="lambda (epoch mean)", title="ELLE-A lambda and E_lin")
  axb.set_ylabel("E_lin (training batches)")
  if adaptive:
    ax.legend(fontsize=7, loc="upper left")
    axb.legend(fontsize=7, loc="upper right")


def plot_co_run(runs: list[dict[str, Any]], wd: Workdir) -> str | None:
  """The run to show, E_lin of its peers (same eps and seed) and ELLE-A's lambda."""
  example = summary_lib.co_example(runs)
  if example is None:
    return None
  peers = [r for r in runs if r["eps"] == example["eps"] and r["seed"] == example["seed"]]
  fig, (ax1, ax2, ax3) = plotting.figure(1, 3)
  epochs = np.arange(1, len(example["history"]) + 1)
  _example_panel(ax1, example, epochs)
  for r in peers:
    ax2.semilogy(epochs[:len(r["history"])], [h["lin_err"] for h in r["history"]],
                 label=label(r["method"]))
  ax2.set(xlabel="epoch", ylabel="E_lin (fixed val batch)",
          title=f"local linearity, eps={example['eps']:g}")
  ax2.legend(fontsize=7)
  _lambda_panel(ax3, peers, epochs)
  return wd.save_figure(fig, "co_run")
