"""Rank agreement between benchmark metrics, scores and datasets.

  kendall_tau(scores, accuracies)                 # tau-b in [-1, 1] (ties handled)
  spearman_rho(scores, accuracies)
  top_k_overlap(a, b, k=10)                       # |top-k(a) & top-k(b)| / k
  table = rank_table({"clean": c, "pgd": p}, {"lambda_min": s}, kendall_tau)
  table["lambda_min"]["pgd"]                       # tau of the score against PGD accuracy
  shared = aligned(table_cifar10, table_cifar100)  # (ids, values_a, values_b) on common ids

Kendall's tau-b and Spearman's rho are scipy's; they are undefined (None here, strict JSON)
when either sequence is constant or shorter than two. NAS-RobBench-201 (Wu et al., arXiv
2403.13134) reports both between clean, FGSM and PGD accuracies, across datasets, and between
NTK scores and accuracies.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

Correlation = Callable[[Sequence[float], Sequence[float]], float | None]


def _prepare(a, b) -> tuple[np.ndarray, np.ndarray]:
  a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f"need two 1-D sequences of one length, got shapes {a.shape}, {b.shape}")
  return a, b


def _defined(a: np.ndarray, b: np.ndarray) -> bool:
  return len(a) >= 2 and np.ptp(a) > 0 and np.ptp(b) > 0


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float | None:
  """Kendall's tau-b of two sequences `(n,)`; None if undefined."""
  a, b = _prepare(a, b)
  if not _defined(a, b):
    return None
  value = float(stats.kendalltau(a, b).statistic)
  return value if math.isfinite(value) else None


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float | None:
  """Spearman's rank correlation of two sequences `(n,)`; None if undefined."""
  a, b = _prepare(a, b)
  if not _defined(a, b):
    return None
  value = float(stats.spearmanr(a, b).statistic)
  return value if math.isfinite(value) else None


def top_k_overlap(a: Sequence[float], b: Sequence[float], k: int) -> float:
  """Fraction of the k largest entries of `a` that are among the k largest of `b` (ties
  broken by position)."""
  a, b = _prepare(a, b)
  if not 1 <= k <= len(a):
    raise ValueError(f"k must be in [1, {len(a)}], got {k}")
  top_a = set(np.argsort(-a, kind="stable")[:k].tolist())
  top_b = set(np.argsort(-b, kind="stable")[:k].tolist())
  return len(top_a & top_b) / k


def rank_table(targets: Mapping[str, Sequence[float]], predictors: Mapping[str, Sequence[float]],
               correlation: Correlation = kendall_tau) -> dict[str, dict[str, float | None]]:
  """`{predictor: {target: correlation(predictor, target)}}` (e.g. scores x accuracies)."""
  return {p: {t: correlation(pv, tv) for t, tv in targets.items()}
          for p, pv in predictors.items()}


def aligned(a: Mapping[int, float], b: Mapping[int, float]
            ) -> tuple[list[int], np.ndarray, np.ndarray]:
  """The ids two tables share (sorted) and their values in each, e.g. one metric on two
  datasets (`Benchmark.table`), for cross-dataset rank correlations."""
  ids = sorted(set(a) & set(b))
  return ids, np.array([a[i] for i in ids]), np.array([b[i] for i in ids])
