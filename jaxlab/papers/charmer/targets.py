"""The study's targets at each (victim, k), as rows and as checks in the one schema.

Charmer should reach at least 95% of exhaustive greedy search's ASR with at least 5x fewer mean
queries, and a higher ASR than the random and DeepWordBug baselines (design targets of the
small-scale reproduction of arXiv:2405.04346).

  row = target_row("cnn", 5, attacks)     # {"victim", "k", "asr_ratio_vs_exhaustive", ...}
  checks(rows)                            # {"cnn_k5_asr_vs_exhaustive": {"value", ...}, ...}
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from jaxlab.experiment import gates

ASR_RATIO = 0.95     # Charmer ASR / exhaustive ASR, at least
QUERY_RATIO = 5.0    # exhaustive mean queries / Charmer mean queries, at least
BASELINES = ("random", "deepwordbug")


def target_row(victim: str, k: int, attacks: Mapping[str, Mapping[str, float]]
               ) -> dict[str, Any] | None:
  """The targets' numbers at one (victim, k) and whether all are met (`met`); None unless
  both charmer and exhaustive ran."""
  if "charmer" not in attacks or "exhaustive" not in attacks:
    return None
  c, e = attacks["charmer"], attacks["exhaustive"]
  row = {"victim": victim, "k": k,
         "asr_ratio_vs_exhaustive": c["asr"] / e["asr"] if e["asr"] else float("nan"),
         "query_ratio_exhaustive_over_charmer": e["mean_queries"] / c["mean_queries"]}
  met = (row["asr_ratio_vs_exhaustive"] >= ASR_RATIO and
         row["query_ratio_exhaustive_over_charmer"] >= QUERY_RATIO)
  for other in BASELINES:
    if other in attacks:
      row[f"asr_minus_{other}"] = c["asr"] - attacks[other]["asr"]
      met = met and row[f"asr_minus_{other}"] > 0
  row["met"] = bool(met)
  return row


def _positive(value: float | None) -> dict[str, Any]:
  ok = value is not None and math.isfinite(value) and value > 0
  return gates.check(value, "> 0", ok)


def checks(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
  """`{name: {"value", "target", "pass"}}` for every target of every row of `target_row`."""
  out = {}
  for row in rows:
    prefix = f"{row['victim']}_k{row['k']}"
    out[f"{prefix}_asr_vs_exhaustive"] = gates.interval(
        _nan(row["asr_ratio_vs_exhaustive"]), lo=ASR_RATIO)
    out[f"{prefix}_queries_exhaustive_over_charmer"] = gates.interval(
        _nan(row["query_ratio_exhaustive_over_charmer"]), lo=QUERY_RATIO)
    for other in BASELINES:
      if f"asr_minus_{other}" in row:
        out[f"{prefix}_asr_above_{other}"] = _positive(row[f"asr_minus_{other}"])
  return out


def _nan(value: float | None) -> float:
  return float("nan") if value is None else float(value)
