"""Baseline character attacks with Charmer's API and budget (at most k edits, black-box logits).

  from jaxlab.text import baselines
  r = baselines.random_edits(score_fn, text, label, k=5, alphabet="abc", key=jax.random.key(0))
  r = baselines.deepwordbug(score_fn, text, label, k=5, alphabet="abc", key=jax.random.key(0))

- `random_edits`: each step draws `num_candidates` distinct random edits of the slot view
  (uniform over allowed slot x symbol pairs) and moves to the one of highest loss; with
  `num_candidates=1` it is a random walk of single character edits.
- `deepwordbug`: DeepWordBug-style (J. Gao, J. Lanchantin, M. L. Soffa, Y. Qi, "Black-box
  Generation of Adversarial Text Sequences to Evade Deep Learning Classifiers", IEEE S&P
  Workshops 2018, arXiv:1801.04354; TextAttack's `DeepWordBugGao2018` recipe): rank the words by
  the loss of the text with the word removed, then visit them in that order, trying an adjacent
  swap (2 edits), a random substitution, a deletion and a random insertion at every position
  inside the word, and keep the best one if it raises the loss; each word is modified at most
  once.

Every random draw comes from `fold_in(key, step)`, so the same key gives the same attack.
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from jaxlab.text import slots
from jaxlab.text.charmer import greedy_slot_search
from jaxlab.text.attack import AttackResult, ScoreFn, check_budget, numpy_rng, start


def random_edits(score_fn: ScoreFn, text: str, label: int, *, k: int, alphabet: Sequence[str],
                 key: jax.Array, num_candidates: int = 1, loss: str = "margin") -> AttackResult:
  """Random search over single character edits (see the module docstring).

  Args:
    score_fn, text, label, k, alphabet, loss: as `charmer.charmer`.
    key: PRNG key of the random draws.
    num_candidates: random edits tried per step (one batched call).
  """
  symbols = check_budget(k, alphabet)
  if num_candidates < 1:
    raise ValueError(f"num_candidates must be >= 1, got {num_candidates}")
  run = start(score_fn, text, label, loss)

  def propose(step, current, allowed):
    candidates = slots.neighbourhood(current, allowed, symbols)
    rng = numpy_rng(jax.random.fold_in(key, step))
    picks = rng.choice(len(candidates), min(num_candidates, len(candidates)), replace=False)
    return [candidates[i] for i in np.sort(picks)]

  return greedy_slot_search(run, k, propose)


def word_perturbations(text: str, start: int, end: int, alphabet: Sequence[str],
                       key: jax.Array) -> list[tuple[str, int]]:
  """`(edited text, edits)` for DeepWordBug's four character operations at every position of
  the word `text[start:end]`: adjacent swap (2 edits; only of different characters), substitution
  by a random other symbol, deletion (words longer than one character), insertion of a random
  symbol (1 edit each). No-ops are dropped."""
  word = text[start:end]
  draws = numpy_rng(key).integers(0, len(alphabet), (2, len(word) + 1))
  out = []
  for i, c in enumerate(word):
    pos = start + i
    if i + 1 < len(word) and word[i + 1] != c:
      out.append((text[:pos] + word[i + 1] + c + text[pos + 2:], 2))
    sub = alphabet[draws[0, i]]
    if sub == c:
      sub = alphabet[(draws[0, i] + 1) % len(alphabet)]
    if sub != c:
      out.append((slots.edit(text, 2 * pos + 1, sub), 1))
    if len(word) > 1:
      out.append((slots.edit(text, 2 * pos + 1, slots.DEL), 1))
  for i in range(len(word) + 1):
    out.append((slots.edit(text, 2 * (start + i), alphabet[draws[1, i]]), 1))
  return out


def deepwordbug(score_fn: ScoreFn, text: str, label: int, *, k: int, alphabet: Sequence[str],
                key: jax.Array, loss: str = "margin") -> AttackResult:
  """DeepWordBug-style greedy attack over word importance (see the module docstring).

  Args:
    score_fn, text, label, k, alphabet, loss: as `charmer.charmer`.
    key: PRNG key of the random substitution and insertion symbols.
  """
  symbols = check_budget(k, alphabet)
  run = start(score_fn, text, label, loss)
  if not run.attacked:
    return run.result(k)
  spans = slots.word_spans(text)
  importance = run.oracle.loss([text[:s] + text[e:] for s, e in spans]) if spans else []
  current, current_loss, edits = text, run.clean_loss, 0
  for w in np.argsort(-np.asarray(importance), kind="stable"):
    if edits >= k:
      break
    s, e = spans[w]
    candidates = [(t, c) for t, c in word_perturbations(current, s, e, symbols,
                                                        jax.random.fold_in(key, int(w)))
                  if edits + c <= k]
    if not candidates:
      continue
    losses = run.oracle.loss([t for t, _ in candidates])
    best = int(np.argmax(losses))
    if losses[best] <= current_loss:
      continue
    new, cost = candidates[best]
    shift = len(new) - len(current)
    spans = [(a + shift * (a > s), b + shift * (b >= e)) for a, b in spans]
    current, current_loss, edits = new, float(losses[best]), edits + cost
    if run.record(current, edits):
      break
  return run.result(k)
