"""What every query-based text attack shares: the black-box oracle, losses, and the result.

  oracle = Oracle(score_fn, label=1)      # score_fn(list[str]) -> logits (N, C)
  oracle.loss(["a text", "a txt"])        # (2,) margin losses; > 0 means misclassified
  oracle.queries                          # 2: unique strings sent to score_fn so far

An attack calls `start(score_fn, text, label, loss)`, which queries the clean text once; the
attack runs only if the classifier is right on it (`AttackRun.attacked`). After every accepted
edit it calls `run.record(text, edits)`; `run.result(k)` checks Levenshtein(original, text) <= k
and returns an `AttackResult`, whose `steps` let `at_budget(j)` recover the result a budget-j run
of a greedy attack would have returned (its trajectory does not depend on the budget).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np
from rapidfuzz.distance import Levenshtein

ScoreFn = Callable[[list[str]], Any]
LOSSES = ("margin", "ce")


def margin_loss(logits: np.ndarray, label: int) -> np.ndarray:
  """max_{j != y} z_j - z_y per row of `logits (N, C)`: > 0 exactly when misclassified."""
  logits = np.asarray(logits, np.float64)
  others = np.delete(logits, label, axis=-1)
  return np.max(others, axis=-1) - logits[..., label]


def ce_loss(logits: np.ndarray, label: int) -> np.ndarray:
  """Cross-entropy -log softmax(z)_y per row of `logits (N, C)`."""
  logits = np.asarray(logits, np.float64)
  top = np.max(logits, axis=-1, keepdims=True)
  lse = np.log(np.sum(np.exp(logits - top), axis=-1)) + top[..., 0]
  return lse - logits[..., label]


def loss_fn(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
  if name == "margin":
    return margin_loss
  if name == "ce":
    return ce_loss
  raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")


class Oracle:
  """A batched black-box classifier seen through a cache: every distinct string is sent to
  `score_fn` once, in one call per request, and `queries` counts the distinct strings sent.

  Args:
    score_fn: `score_fn(list[str]) -> logits (N, C)` (any array-like).
    label: the true label y.
    loss: 'margin' (max_{j != y} z_j - z_y) or 'ce'.
  """

  def __init__(self, score_fn: ScoreFn, label: int, loss: str = "margin"):
    self._score_fn = score_fn
    self._loss = loss_fn(loss)
    self.label = int(label)
    self._cache: dict[str, np.ndarray] = {}

  @property
  def queries(self) -> int:
    return len(self._cache)

  def logits(self, texts: Sequence[str]) -> np.ndarray:
    """Logits `(len(texts), C)`; only strings never seen before are sent, in one call."""
    new = [t for t in dict.fromkeys(texts) if t not in self._cache]
    if new:
      out = np.asarray(self._score_fn(new))
      if out.ndim != 2 or out.shape[0] != len(new) or out.shape[1] < 2:
        raise ValueError(f"score_fn must return logits of shape (N, C >= 2) for N = {len(new)} "
                         f"texts, got shape {out.shape}")
      if not 0 <= self.label < out.shape[1]:
        raise ValueError(f"label {self.label} out of range for {out.shape[1]} classes")
      self._cache.update(zip(new, out))
    return np.stack([self._cache[t] for t in texts])

  def loss(self, texts: Sequence[str]) -> np.ndarray:
    """The attack loss `(len(texts),)` of each text (higher is better for the attacker)."""
    return self._loss(self.logits(texts), self.label)

  def predict(self, text: str) -> int:
    return int(np.argmax(self.logits([text])[0]))


@dataclasses.dataclass(frozen=True)
class Step:
  """The attack's state after an accepted edit (step 0: the clean text); counts are cumulative."""

  text: str
  edits: int
  queries: int
  seconds: float
  success: bool


@dataclasses.dataclass(frozen=True)
class AttackResult:
  """One attacked example.

  Attributes:
    original: the input text.
    label: its true label.
    text: the adversarial text (the original if not attacked or no edit was made).
    attacked: the classifier was right on the original (otherwise nothing was attempted).
    success: the classifier is wrong on `text`.
    edits: number of character edits made (an adjacent swap counts 2); Levenshtein <= edits.
    queries: distinct strings sent to the classifier, the clean query included.
    seconds: wall time of the attack, the clean query included.
    lev: Levenshtein(original, text) (rapidfuzz).
    budget: the k the attack ran with.
    steps: the state after each accepted edit, `steps[0]` being the clean text.
  """

  original: str
  label: int
  text: str
  attacked: bool
  success: bool
  edits: int
  queries: int
  seconds: float
  lev: int
  budget: int
  steps: tuple[Step, ...]

  def at_budget(self, k: int) -> "AttackResult":
    """The result of the same greedy attack run with budget `k <= budget`: its state after
    the last step with at most `k` edits."""
    if not 0 <= k <= self.budget:
      raise ValueError(f"budget {k} must be in [0, {self.budget}]")
    last = [s for s in self.steps if s.edits <= k][-1]
    return dataclasses.replace(
        self, text=last.text, success=last.success, edits=last.edits, queries=last.queries,
        seconds=last.seconds, lev=Levenshtein.distance(self.original, last.text), budget=k,
        steps=tuple(s for s in self.steps if s.edits <= last.edits))

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, d: dict[str, Any]) -> "AttackResult":
    return cls(**{**d, "steps": tuple(Step(**s) for s in d["steps"])})


def numpy_rng(key: jax.Array) -> np.random.Generator:
  """A numpy generator seeded by the JAX key `key` (for host-side draws of data-dependent sizes,
  which would make `jax.random` recompile for every size)."""
  return np.random.default_rng(np.asarray(jax.random.bits(key, (4,), np.uint32)))


def check_budget(k: int, alphabet: Sequence[str] | None = None) -> list[str] | None:
  """Validates the budget `k >= 0` and the alphabet (distinct single characters, non-empty);
  returns the alphabet as a list."""
  if not isinstance(k, (int, np.integer)) or k < 0:
    raise ValueError(f"budget k must be an integer >= 0, got {k!r}")
  if alphabet is None:
    return None
  symbols = list(alphabet)
  if not symbols or any(not isinstance(c, str) or len(c) != 1 for c in symbols):
    raise ValueError(f"alphabet must be a non-empty sequence of single characters, got "
                     f"{alphabet!r}")
  return list(dict.fromkeys(symbols))


class AttackRun:
  """Book-keeping of one attack on one example: the clean query, steps, time, the final checks.

  Args: as `start`.
  """

  def __init__(self, score_fn: ScoreFn, text: str, label: int, loss: str = "margin"):
    if not isinstance(text, str):
      raise TypeError(f"text must be a str, got {type(text).__name__}")
    self._t0 = time.perf_counter()
    self.original = text
    self.oracle = Oracle(score_fn, label, loss)
    self.clean_loss = float(self.oracle.loss([text])[0])
    self.attacked = self.oracle.predict(text) == self.oracle.label
    self.text = text
    self.edits = 0
    self.success = False
    self.steps = [self._step()]

  def _step(self) -> Step:
    return Step(self.text, self.edits, self.oracle.queries, time.perf_counter() - self._t0,
                self.success)

  def record(self, text: str, edits: int) -> bool:
    """Accepts `text`, reached with `edits` edits in total; returns whether it fools the model
    (answered from the cache: the attack already queried `text`)."""
    self.text, self.edits = text, edits
    self.success = self.oracle.predict(text) != self.oracle.label
    self.steps.append(self._step())
    return self.success

  def result(self, k: int) -> AttackResult:
    lev = Levenshtein.distance(self.original, self.text)
    if not lev <= self.edits <= k:
      raise AssertionError(f"attack broke its budget: Levenshtein {lev}, {self.edits} edits, "
                           f"k = {k}")
    last = self._step()  # queries made after the last accepted edit count towards it
    self.steps[-1] = dataclasses.replace(self.steps[-1], queries=last.queries,
                                         seconds=last.seconds)
    return AttackResult(self.original, self.oracle.label, self.text, self.attacked, self.success,
                        self.edits, last.queries, last.seconds, lev, k, tuple(self.steps))


def start(score_fn: ScoreFn, text: str, label: int, loss: str = "margin") -> AttackRun:
  """Queries the clean `text` once and returns the run (`run.attacked` is False if the
  classifier is already wrong, and then the attack must stop)."""
  return AttackRun(score_fn, text, label, loss)
