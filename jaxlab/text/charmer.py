"""Charmer: a query-based character-level attack on any batched black-box text classifier.

  from jaxlab.text import charmer
  result = charmer.charmer(score_fn, "what a lovely flight", 1, k=5, n=20,
                           alphabet="abcdefghijklmnopqrstuvwxyz")
  result.text, result.success, result.edits, result.queries, result.seconds

`score_fn(list[str]) -> logits (N, C)` is any batched classifier: a jitted JAX model
(`jaxlab.text.victim.make_score_fn`) or a user's own function wrapping, e.g., a Hugging Face
model. One step of Charmer (E. Abad Rocamora, Y. Wu, F. Liu, G. G. Chrysos, V. Cevher,
"Revisiting Character-level Adversarial Attacks for Language Models", ICML 2024,
arXiv:2405.04346; the reference code's released setting `--pga 0`):

  1. position scoring: query the space probe of every allowed slot of the 2m + 1 slot view
     (`slots.space_probe`), in one batched call, and keep the n slots of highest loss;
  2. symbol search: write every symbol of Gamma + {DEL} into those n slots (n (|Gamma| + 1)
     strings, one batched call) and move to the candidate of highest loss;
  3. stop at the first label flip, or after k edits, so Levenshtein <= k by construction.

Exhaustive greedy search (the reference's `bruteforce`) is the same loop with n = all slots and
no position scoring. Strings are deduplicated and every distinct string is one query. A slot
whose character was written by an earlier edit is not edited again (the reference re-aligns its
allowed slots the same way). When n >= the number of allowed slots, the position scoring is
skipped: it would select every slot anyway.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from jaxlab.text import slots
from jaxlab.text.attack import AttackResult, AttackRun, ScoreFn, check_budget, start

Proposer = Callable[[int, str, list[int]], list[tuple[int, str, str]]]


def charmer(score_fn: ScoreFn, text: str, label: int, *, k: int, n: int | None = 20,
            alphabet: Sequence[str], loss: str = "margin") -> AttackResult:
  """Charmer with budget `k` edits and `n` top slots per step (`n=None`: all slots, i.e.
  exhaustive greedy search).

  Args:
    score_fn: batched black-box classifier, `list[str] -> logits (N, C)`.
    text: the input (str).
    label: its true label; if the classifier is already wrong, nothing is attacked.
    k: maximum number of character edits (Levenshtein budget).
    n: number of slots kept by the space-probe position scoring (20 in the paper's scripts).
    alphabet: Gamma, the characters that may be inserted or substituted (DEL is always tried).
    loss: 'margin' (max_{j != y} z_j - z_y, the paper's) or 'ce'.

  Returns:
    An `AttackResult` (adversarial text, success, edits, queries, wall time, Levenshtein, and
    the per-edit trajectory).
  """
  symbols = check_budget(k, alphabet)
  if n is not None and n < 1:
    raise ValueError(f"n (top slots) must be >= 1 or None for all slots, got {n}")
  run = start(score_fn, text, label, loss)

  def propose(step, current, allowed):
    del step
    top = allowed
    if n is not None and len(allowed) > n:  # (1) position scoring
      scores = run.oracle.loss([slots.space_probe(current, z) for z in allowed])
      top = sorted(allowed[i] for i in np.argsort(-scores, kind="stable")[:n])
    return slots.neighbourhood(current, top, symbols)  # (2) symbol search

  return greedy_slot_search(run, k, propose)


def greedy_slot_search(run: AttackRun, k: int, propose: Proposer) -> AttackResult:
  """The greedy loop over the slot view that Charmer, exhaustive greedy and random edits share.

  At each of at most k steps, `propose(step, text, allowed_slots)` returns the `(slot, symbol,
  edited text)` candidates of this step (making any scoring queries it needs through
  `run.oracle`); their losses are queried in one batched call and the search moves to the best
  one. It stops at the first label flip, and does nothing if the clean text is misclassified.
  """
  if not run.attacked:
    return run.result(k)
  current, frozen = run.original, [False] * len(run.original)
  for step in range(k):
    candidates = propose(step, current, slots.allowed_slots(current, frozen))
    if not candidates:
      break
    losses = run.oracle.loss([c for _, _, c in candidates])
    z, v, current = candidates[int(np.argmax(losses))]
    frozen = slots.refreeze(frozen, z, v)
    if run.record(current, step + 1):  # (3) stop at the first flip
      break
  return run.result(k)


def exhaustive_greedy(score_fn: ScoreFn, text: str, label: int, *, k: int,
                      alphabet: Sequence[str], loss: str = "margin") -> AttackResult:
  """Greedy search over the whole Levenshtein-1 neighbourhood at every step: all 2m + 1 slots x
  all symbols (Charmer with n = all slots). Arguments as `charmer`."""
  return charmer(score_fn, text, label, k=k, n=None, alphabet=alphabet, loss=loss)
