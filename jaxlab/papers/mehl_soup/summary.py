"""The study's tables over seeds: the paper's table (mean +- std, and the difference of every
soup against the val-picked best single model paired by seed, with its standard error), the
robustness table, the effective weights and the checks.

  table = method_table(records)          # {method: {"test_acc", "test_std", "diff_best", ...}}
  paired(records, "greedy", "best_individual")     # {"mean", "se", "wins", "losses", ...}
  checks = study_checks(records, table)  # the issue's targets as {"value", "target", "pass"}

Pairing by seed: each seed has its own split, start and recipes, so the seed-to-seed spread
of every method is large (one test image is 1/360); the difference of two methods on the same
seed cancels that shared part, and its standard error over n seeds is std(d) / sqrt(n).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from jaxlab.experiment import gates

Record = dict[str, Any]
BEST = "best_individual"


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
  """Mean and sample standard deviation (None for a single value)."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)


def paired(records: Sequence[Record], a: str, b: str, split: str = "test") -> dict[str, Any]:
  """`a - b` accuracy paired by seed: mean, standard error (None for one seed), and the
  numbers of seeds where a wins, ties and loses."""
  d = np.array([r["methods"][a][f"{split}_acc"] - r["methods"][b][f"{split}_acc"]
                for r in records])
  mean, std = mean_std(d)
  return {"mean": mean, "se": None if std is None else std / math.sqrt(len(d)),
          "wins": int(np.sum(d > 1e-9)), "ties": int(np.sum(np.abs(d) <= 1e-9)),
          "losses": int(np.sum(d < -1e-9)), "per_seed": d.tolist()}


def method_table(records: Sequence[Record]) -> dict[str, dict[str, Any]]:
  """Per method: test and val accuracy mean +- std over seeds, the per-seed values, the
  paired difference against the best single model (test and val), and the cost (memory of
  the first seed, which does not depend on the seed; RSS and time over seeds)."""
  out = {}
  for name in records[0]["methods"]:
    runs = [r["methods"][name] for r in records]
    entry = dict(runs[0])  # the cost and extras of the first seed
    for split in ("test", "val"):
      mean, std = mean_std([m[f"{split}_acc"] for m in runs])
      entry.update({f"{split}_acc": mean, f"{split}_std": std,
                    f"{split}_per_seed": [m[f"{split}_acc"] for m in runs]})
    if BEST in records[0]["methods"] and name != BEST:
      entry["diff_best"] = paired(records, name, BEST)
      entry["diff_best_val"] = paired(records, name, BEST, "val")
    entry["peak_rss_bytes"] = max(m["peak_rss_bytes"] for m in runs)
    entry["coef_wall_s"] = float(np.mean([m["coef_wall_s"] for m in runs]))
    if "weights_abs_max" in runs[0]:
      entry["weights_abs_max"] = max(m["weights_abs_max"] for m in runs)
      entry["weights_abs_max_per_seed"] = [m["weights_abs_max"] for m in runs]
    out[name] = entry
  return out


def robustness_table(records: Sequence[Record]) -> dict[str, dict[str, dict[str, Any]]]:
  """`{k: {method: {"test_acc", "test_std", "val_acc", "test_per_seed"}}}` over seeds."""
  out: dict[str, dict[str, dict[str, Any]]] = {}
  for k in records[0]["robustness"]:
    out[k] = {}
    for name in records[0]["robustness"][k]:
      test = [r["robustness"][k][name]["test_acc"] for r in records]
      mean, std = mean_std(test)
      out[k][name] = {"test_acc": mean, "test_std": std, "test_per_seed": test,
                      "val_acc": mean_std([r["robustness"][k][name]["val_acc"]
                                           for r in records])[0]}
  return out


def premise(records: Sequence[Record]) -> dict[str, Any]:
  """The paper's premise, measured: the shared start, the ingredients' mean, and the mean
  gain of fine-tuning over the start (val and test), over seeds."""
  out = {}
  for split in ("val", "test"):
    start = [r["start"][split] for r in records]
    ingr = [r["ingredients"][f"{split}_acc_mean"] for r in records]
    out[f"start_{split}"] = mean_std(start)[0]
    out[f"ingredients_{split}"] = mean_std(ingr)[0]
    out[f"gain_{split}"] = float(np.mean(np.subtract(ingr, start)))
  out["ingredient_test_min"] = min(r["ingredients"]["test_acc_min"] for r in records)
  return out


def effective_weights(records: Sequence[Record], leaves: Sequence[str]) -> dict[str, Any]:
  """Largest |effective weight| per method (max over seeds), and for the per-layer MEHL
  soups, per layer: the largest |weight| and the median direction norm (means over seeds),
  with the log-log slope of the one against the other over layers and seeds (-1 when the
  weight is a bounded coefficient divided by the norm)."""
  out: dict[str, Any] = {}
  for name, m in records[0]["methods"].items():
    if "weights_abs_max" not in m:
      continue
    out[name] = {"abs_max": max(r["methods"][name]["weights_abs_max"] for r in records),
                 "negative_fraction": float(np.mean(
                     [r["methods"][name]["weights_negative_fraction"] for r in records]))}
    if "group_weights_abs_max" in m and len(m["group_weights_abs_max"]) == len(leaves) > 1:
      w = np.array([r["methods"][name]["group_weights_abs_max"] for r in records])
      n = np.array([r["methods"][name]["group_direction_norm_median"] for r in records])
      ok = (n > 0) & (w > 0)
      out[name]["per_layer"] = {
          leaf: {"abs_max": float(w[:, i].mean()), "direction_norm": float(n[:, i].mean())}
          for i, leaf in enumerate(leaves)}
      out[name]["slope_vs_norm"] = (gates.loglog_slope(n[ok], w[ok]) if ok.sum() > 2
                                    else None)
  return out


def study_checks(records: Sequence[Record], table: dict[str, dict[str, Any]]
                 ) -> dict[str, dict[str, Any]]:
  """The issue's targets on the mean over seeds (each value a mean paired difference, its
  standard error beside it), and the paper's premise (fine-tuning helps on average, on val)."""
  checks = {}
  names = set(table)
  checks["premise_finetuning_helps_on_val"] = gates.check(
      premise(records)["gain_val"], "> 0", premise(records)["gain_val"] > 0)
  for name in ("greedy", "learned_plus", "mehl_plus"):
    if {name, BEST} <= names:
      d = table[name]["diff_best"]
      checks[f"{name}_above_best_single"] = gates.check(d["mean"], "> 0", d["mean"] > 0,
                                                        se=d["se"])
  for a, b, strict in (("mehl_plus", "learned_plus", False), ("greedy", "uniform", True)):
    if {a, b} <= names:
      d = paired(records, a, b)
      ok = d["mean"] > 0 if strict else d["mean"] >= 0
      name = f"{a}_at_least_{b}" if not strict else f"{b}_below_{a}"
      checks[name] = gates.check(d["mean"], "> 0" if strict else ">= 0", ok, se=d["se"])
  return checks
