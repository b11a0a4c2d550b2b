"""Greedy soup and the best individual model (Wortsman et al., 2022, arXiv 2203.05482).

  best = best_individual(val_scores)                       # index of the best val score
  soup = greedy_soup(ingredients, score_fn, val_scores)    # score_fn(params) -> val accuracy
  soup.params, soup.selected                               # accepted ingredients, in order

The greedy soup follows the reference code: one pass over the ingredients sorted by val score
(best first); an ingredient joins when the uniform mean of the accepted ones plus it scores
strictly higher on val than the current soup (a tie is rejected). Two models are resident.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.soups import combine
from jaxlab.soups.base import SoupCost

_candidate = jax.jit(combine.running_mean)


class GreedySoup(NamedTuple):
  """Attributes: params (the soup), selected (accepted ingredient ids, in acceptance order),
  score (val score of the soup), scores (val score of every ingredient), cost."""

  params: Any
  selected: tuple[int, ...]
  score: float
  scores: tuple[float, ...]
  cost: SoupCost


def best_individual(scores: Sequence[float]) -> int:
  """Index of the ingredient with the highest val score (the first one on ties)."""
  if len(scores) == 0:
    raise ValueError("best_individual needs at least one score")
  return int(np.argmax(np.asarray(scores)))


def greedy_soup(ingredients: Sequence[Any], score_fn: Callable[[Any], float],
                scores: Sequence[float] | None = None) -> GreedySoup:
  """The greedy soup: one sorted pass with a strict-improvement test.

  Args:
    ingredients: K parameter pytrees (a sequence; each read at most twice).
    score_fn: `params -> float`, higher is better (val accuracy); only val data.
    scores: the ingredients' val scores if already known (else `score_fn` computes them).

  Returns:
    A `GreedySoup`.
  """
  k = len(ingredients)
  if k == 0:
    raise ValueError("greedy_soup needs at least one ingredient")
  t0 = time.perf_counter()
  loads = 0
  computed = scores is None
  if computed:
    scores = []
    for i in range(k):
      scores.append(float(score_fn(ingredients[i])))
      loads += 1
  if len(scores) != k:
    raise ValueError(f"got {len(scores)} scores for {k} ingredients")
  order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
  soup = ingredients[int(order[0])]
  loads += 1
  best = float(scores[int(order[0])])
  selected = [int(order[0])]
  evaluations = 0
  for i in order[1:]:
    candidate = _candidate(soup, ingredients[int(i)], jnp.float32(len(selected)))
    loads += 1
    score = float(score_fn(candidate))
    evaluations += 1
    if score > best:
      soup, best = candidate, score
      selected.append(int(i))
    del candidate
  soup = jax.block_until_ready(soup)
  cost = SoupCost(wall_s=time.perf_counter() - t0, ingredient_loads=loads,
                  val_passes=evaluations + (k if computed else 0))
  return GreedySoup(soup, tuple(selected), best, tuple(float(s) for s in scores), cost)
