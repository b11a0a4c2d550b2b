"""Metrics of text attacks: success rate, Levenshtein distance, queries, time, similarity.

  summarize(results, k=5)          # {"asr", "mean_lev", "max_lev", "mean_queries", ...}
  char_ngram_cosine("good", "g00d")  # 0.0 for n = 3: no trigram in common

The attack success rate (ASR) counts only the examples the classifier got right before the attack
(`AttackResult.attacked`); an example it already got wrong is neither a success nor a failure.
Distance and similarity are averaged over the successful attacks (the `_all` variants over every
attacked example, so both conventions of the literature are reported).

The paper's similarity is the Universal Sentence Encoder (TF-Hub, online); it is not available
offline, so jaxlab reports a character n-gram cosine always and, when the user passes an offline
sentence-embedding function, an embedding cosine under the name `embedding_similarity` (never
"USE").
"""

from __future__ import annotations

import collections
import math
from typing import Callable, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from jaxlab.text.attack import AttackResult

EmbedFn = Callable[[list[str]], np.ndarray]


def levenshtein(a: str, b: str) -> int:
  """Edit distance with unit-cost insertion, deletion and substitution (no transpositions)."""
  return Levenshtein.distance(a, b)


def char_ngrams(text: str, n: int = 3) -> collections.Counter:
  """Counts of the character n-grams of `text` (the text itself if shorter than n)."""
  if len(text) < n:
    return collections.Counter([text])
  return collections.Counter(text[i:i + n] for i in range(len(text) - n + 1))


def char_ngram_cosine(a: str, b: str, n: int = 3) -> float:
  """Cosine similarity of the character n-gram count vectors of `a` and `b`, in [0, 1]."""
  ca, cb = char_ngrams(a, n), char_ngrams(b, n)
  dot = sum(v * cb[g] for g, v in ca.items())
  norm = math.sqrt(sum(v * v for v in ca.values()) * sum(v * v for v in cb.values()))
  return dot / norm if norm else 1.0


def embedding_cosine(embed_fn: EmbedFn, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
  """Cosine `(N,)` between the embeddings of `a[i]` and `b[i]`; `embed_fn(list[str]) -> (N, d)`
  is any offline sentence encoder."""
  ea = np.asarray(embed_fn(list(a)), np.float64)
  eb = np.asarray(embed_fn(list(b)), np.float64)
  num = np.sum(ea * eb, axis=-1)
  den = np.linalg.norm(ea, axis=-1) * np.linalg.norm(eb, axis=-1)
  return num / np.maximum(den, 1e-12)


def _mean(values) -> float:
  return float(np.mean(values)) if len(values) else float("nan")


def summarize(results: Sequence[AttackResult], k: int, *, ngram: int = 3,
              embed_fn: EmbedFn | None = None) -> dict[str, float]:
  """Aggregate metrics of one attack at budget `k` over a list of examples.

  Returns:
    asr: successes / originally-correct examples; mean_lev, max_lev, mean_similarity (character
    n-gram cosine): over successful attacks; mean_queries: over attacked examples; wall_s: total
    attack time of the attacked examples; plus num_attacked, num_success, mean_wall_s,
    mean_lev_all, mean_similarity_all and, with `embed_fn`, embedding_similarity.

  Raises:
    AssertionError: an adversarial text is more than k edits from its original.
  """
  attacked = [r for r in results if r.attacked]
  won = [r for r in attacked if r.success]
  levs = [levenshtein(r.original, r.text) for r in attacked]
  if levs and max(levs) > k:
    raise AssertionError(f"an attack exceeded the budget: Levenshtein {max(levs)} > k = {k}")
  sims = [char_ngram_cosine(r.original, r.text, ngram) for r in attacked]
  ok = [r.success for r in attacked]
  out = {
      "asr": len(won) / len(attacked) if attacked else float("nan"),
      "mean_lev": _mean([d for d, s in zip(levs, ok) if s]),
      "max_lev": int(max([d for d, s in zip(levs, ok) if s], default=0)),
      "mean_queries": _mean([r.queries for r in attacked]),
      "mean_similarity": _mean([v for v, s in zip(sims, ok) if s]),
      "wall_s": float(sum(r.seconds for r in attacked)),
      "num_attacked": len(attacked),
      "num_success": len(won),
      "mean_wall_s": _mean([r.seconds for r in attacked]),
      "mean_lev_all": _mean(levs),
      "mean_similarity_all": _mean(sims),
  }
  if embed_fn is not None and won:
    out["embedding_similarity"] = _mean(embedding_cosine(
        embed_fn, [r.original for r in won], [r.text for r in won]))
  return out
