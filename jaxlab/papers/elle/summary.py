"""What the ELLE study reports from its runs: the per-cell summary, the step-cost ratios, the
run to show and the checks.

  summary = summarize(config, runs)      # summary["fgsm"]["0.2"]["co_rate"]
  checks(config, runs, summary)          # {"masking": {"value", "target", "pass"}, ...}
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from jaxlab.experiment import gates
from jaxlab.papers.elle import methods
from jaxlab.papers.elle.config import Config


def eps_key(eps: float) -> str:
  """The key of radius `eps` in `summary[method]` ('0.2')."""
  return f"{eps:g}"


def summarize(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
  """`{method: {eps: {pgd_acc_mean, pgd_acc_std, clean_acc_mean, best_pgd_acc_mean,
  fgsm_train_acc_mean, lin_err_mean (final epoch), co_rate, collapse_rate, apgd_acc_mean
  (None when APGD was not run), n}}}` over the seeds."""
  summary: dict[str, Any] = {}
  for name in config.methods:
    summary[name] = {}
    for eps in config.eps:
      cell = [r for r in runs if r["method"] == name and r["eps"] == eps]
      pgd = [r["pgd_acc"] for r in cell]
      summary[name][eps_key(eps)] = {
          "pgd_acc_mean": float(np.mean(pgd)), "pgd_acc_std": float(np.std(pgd)),
          "clean_acc_mean": float(np.mean([r["clean_acc"] for r in cell])),
          "best_pgd_acc_mean": float(np.mean([r["best_pgd_acc"] for r in cell])),
          "fgsm_train_acc_mean": float(np.mean([r["final_fgsm_train_acc"] for r in cell])),
          "lin_err_mean": float(np.mean([r["final_lin_err"] for r in cell])),
          "co_rate": float(np.mean([r["co"] for r in cell])),
          "collapse_rate": float(np.mean([r.get("collapsed", False) for r in cell])),
          "apgd_acc_mean": _mean_or_none([r.get("apgd_acc") for r in cell]), "n": len(cell)}
  return summary


def _mean_or_none(values: list[float | None]) -> float | None:
  return None if any(v is None for v in values) else float(np.mean(values))


def step_cost_ratios(config: Config, runs: list[dict[str, Any]]) -> dict[str, float | None]:
  """Ratios of the median training-step time of methods (None if a method was not run):
  'elle/fgsm', 'gradalign/elle' and 'pgd<k>/elle'."""
  ms = {name: statistics.median([r["step_ms"] for r in runs if r["method"] == name])
        for name in config.methods}

  def ratio(a, b):
    return ms[a] / ms[b] if a in ms and b in ms else None

  return {"elle/fgsm": ratio("elle", "fgsm"), "gradalign/elle": ratio("gradalign", "elle"),
          f"pgd{config.pgd.steps}/elle": ratio("pgd", "elle")}


def co_example(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
  """The run to show: the first CO run (FGSM preferred, then the largest eps), else FGSM at
  its largest eps, else the first run."""
  flagged = [r for r in runs if r["co"]]
  flagged.sort(key=lambda r: (r["method"] != "fgsm", -r["eps"]))
  if flagged:
    return flagged[0]
  fgsm = sorted((r for r in runs if r["method"] == "fgsm"), key=lambda r: -r["eps"])
  return fgsm[0] if fgsm else (runs[0] if runs else None)


def checks(config: Config, runs: list[dict[str, Any]], summary: dict[str, Any]
           ) -> dict[str, dict[str, Any]]:
  """The study's checks (one schema, `jaxlab.experiment.gates`):

    masking: every run passes the gradient-masking checks (value: runs that fail);
    fgsm_co: FGSM AT shows CO somewhere on the grid (value: its highest CO rate over eps),
      the precondition of every claim (only if fgsm is run);
    elle_no_co: the ELLE methods (elle, elle_a, n_fgsm_elle_a) show no CO at any eps (value:
      their highest CO rate; only if one of them is run).
  """
  failing = sum(not r["masking_ok"] for r in runs)
  out = {"masking": gates.check(failing, "0 runs fail", failing == 0, runs=len(runs))}
  if "fgsm" in config.methods:
    rate = max(c["co_rate"] for c in summary["fgsm"].values())
    out["fgsm_co"] = gates.check(rate, "> 0", rate > 0)
  elle = [name for name in config.methods if methods.uses_elle(name)]
  if elle:
    rate = max(c["co_rate"] for name in elle for c in summary[name].values())
    out["elle_no_co"] = gates.interval(rate, hi=0.0, methods=elle)
  return out
