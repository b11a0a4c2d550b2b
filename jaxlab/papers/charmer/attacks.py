"""The attacks of the Charmer study as typed records: name, function, and how budgets are run.

  setting = Setting(score_fn, alphabet="abc...z", n=20, loss="margin")
  attack = BY_NAME["charmer"]
  result = attack.run(setting, "what a lovely flight", 1, 5, None)   # an `AttackResult`
  keys = attack_keys(key)            # {"charmer": key, ..., "deepwordbug": key}

`run(setting, text, label, k, key)` attacks one sentence with budget k; `key` is the PRNG key
of that sentence's random draws (None for the deterministic attacks, `uses_key=False`). An
`anytime` attack is greedy with a trajectory that does not depend on the budget, so the study
runs it once at the largest k and reads the smaller budgets off its trajectory
(`AttackResult.at_budget`); DeepWordBug's last move depends on the budget (a swap costs 2
edits), so it runs once per k.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax

from jaxlab.text import baselines, charmer
from jaxlab.text.attack import AttackResult, ScoreFn


class Setting(NamedTuple):
  """What every attack of a study shares: the black box and the attack knobs."""

  score_fn: ScoreFn
  alphabet: str
  n: int
  loss: str


class Attack(NamedTuple):
  """One attack: `run(setting, text, label, k, key) -> AttackResult`."""

  name: str
  run: Callable[[Setting, str, int, int, jax.Array | None], AttackResult]
  anytime: bool
  uses_key: bool


def _charmer(s: Setting, text: str, label: int, k: int, key: None) -> AttackResult:
  del key
  return charmer.charmer(s.score_fn, text, label, k=k, n=s.n, alphabet=s.alphabet,
                         loss=s.loss)


def _exhaustive(s: Setting, text: str, label: int, k: int, key: None) -> AttackResult:
  del key
  return charmer.exhaustive_greedy(s.score_fn, text, label, k=k, alphabet=s.alphabet,
                                   loss=s.loss)


def _random(s: Setting, text: str, label: int, k: int, key: jax.Array) -> AttackResult:
  """One random single-character edit per step (a random walk)."""
  return baselines.random_edits(s.score_fn, text, label, k=k, key=key, num_candidates=1,
                                alphabet=s.alphabet, loss=s.loss)


def _random_search(s: Setting, text: str, label: int, k: int, key: jax.Array) -> AttackResult:
  """n (|alphabet| + 1) random edits per step: as many queries as Charmer's symbol search."""
  return baselines.random_edits(s.score_fn, text, label, k=k, key=key,
                                num_candidates=s.n * (len(s.alphabet) + 1),
                                alphabet=s.alphabet, loss=s.loss)


def _deepwordbug(s: Setting, text: str, label: int, k: int, key: jax.Array) -> AttackResult:
  return baselines.deepwordbug(s.score_fn, text, label, k=k, key=key, alphabet=s.alphabet,
                               loss=s.loss)


ATTACKS = (
    Attack("charmer", _charmer, anytime=True, uses_key=False),
    Attack("exhaustive", _exhaustive, anytime=True, uses_key=False),
    Attack("random", _random, anytime=True, uses_key=True),
    Attack("random_search", _random_search, anytime=True, uses_key=True),
    Attack("deepwordbug", _deepwordbug, anytime=False, uses_key=True),
)
BY_NAME = {a.name: a for a in ATTACKS}
NAMES = tuple(BY_NAME)


def attack_keys(key: jax.Array) -> dict[str, jax.Array]:
  """One key per attack of `ATTACKS`, split once: an attack's draws do not depend on which
  other attacks a run selects."""
  return dict(zip(NAMES, jax.random.split(key, len(ATTACKS))))


def sentence_key(key: jax.Array | None, index: int) -> jax.Array | None:
  """The key of sentence `index` (`fold_in(key, index)`; None stays None). The same sentence
  gets the same draws at every budget, so a budget-k run is the same attack cut at k."""
  return None if key is None else jax.random.fold_in(key, index)
