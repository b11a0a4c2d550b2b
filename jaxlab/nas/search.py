"""NAS on tabular benchmarks: random search, regularised evolution, local search, and regret.

  objective = bench.table("cifar10", "val_pgd_8.0_acc")      # {canonical id: value}
  space = Space.of(objective)                                # the cells and their neighbours
  trace = ALGORITHMS[1].fn(space, objective, budget=100, key=jax.random.key(0))
  regret(trace, objective, bench.table("cifar10", "val_acc"))   # (100,) clean-accuracy regret
  curves = regret_over_seeds(ALGORITHMS[2], space, objective, {"pgd": objective}, 100, keys)

A search maximises `objective` (e.g. clean or PGD accuracy) over the cells of a table, paying
one query per distinct cell it evaluates; its *trace* is the list of cells queried, in order.
After t queries the incumbent is the queried cell with the best objective, and its regret on
a metric is `max(metric) - metric(incumbent)` (so a clean objective can be scored on robust
accuracy, NAS-RobBench-201's Table 2, Wu et al., arXiv 2403.13134).

Neighbours (`Space`): the cells one edge-op change away (canonicalised) that the table holds;
on a partial table (jaxlab's mini benchmark) where a cell has none, the table's cells nearest
in Hamming distance between op strings.

Algorithms:
  random search: cells drawn uniformly without replacement.
  regularised evolution (Real et al., arXiv 1802.01548): a population of `population` cells;
    each cycle samples `sample_size` of them, mutates the best (a random neighbour), adds the
    child and removes the oldest.
  local search (White, Nolen, Savani, arXiv 2005.02960): from a random cell, query all its
    neighbours and move to the best while it improves; restart at a local optimum.

Randomness: one numpy generator per run, seeded from the run's key (as `jaxlab.experiment.
gates` does), so a run is a pure function of its key.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Callable, Mapping, NamedTuple, Sequence

import jax
import numpy as np

from jaxlab.nas import search_space

Table = Mapping[int, float]


def _rng(key: jax.Array) -> np.random.Generator:
  return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


@dataclasses.dataclass(frozen=True)
class Space:
  """The searchable cells (canonical ids, ascending) and each one's neighbours."""

  ids: tuple[int, ...]
  neighbours: Mapping[int, tuple[int, ...]]

  @classmethod
  def of(cls, table: Table) -> "Space":
    """The space of the cells in `table` (see the module docstring for neighbours)."""
    ids = tuple(sorted(int(i) for i in table))
    if len(ids) < 2:
      raise ValueError(f"a search space needs at least two cells, got {len(ids)}")
    held = set(ids)
    ops = {i: np.array([search_space.OPS.index(o) for o in search_space.from_index(i).ops])
           for i in ids}
    all_ops = np.stack([ops[i] for i in ids])
    neighbours = {}
    for i in ids:
      near = {search_space.canonical_id(c) for c in
              search_space.neighbours(search_space.from_index(i))} & held - {i}
      if not near:
        distance = np.sum(all_ops != ops[i], axis=1).astype(float)
        distance[ids.index(i)] = np.inf
        near = {ids[j] for j in np.flatnonzero(distance == distance.min())}
      neighbours[i] = tuple(sorted(near))
    return cls(ids, neighbours)


class _Queries:
  """The cells queried so far, in order, with a budget of distinct queries."""

  def __init__(self, objective: Table, budget: int):
    self.objective, self.budget, self.order = objective, budget, []
    self.seen: set[int] = set()

  @property
  def done(self) -> bool:
    return len(self.order) >= self.budget

  def __call__(self, cell: int) -> float:
    if cell not in self.seen and not self.done:
      self.seen.add(cell)
      self.order.append(cell)
    return self.objective[cell]


def random_search(space: Space, objective: Table, budget: int, key: jax.Array) -> list[int]:
  """The first `budget` cells of a uniform random order of the space."""
  order = _rng(key).permutation(len(space.ids))[:budget]
  return [space.ids[i] for i in order]


def regularized_evolution(space: Space, objective: Table, budget: int, key: jax.Array, *,
                          population: int = 10, sample_size: int = 3) -> list[int]:
  """Regularised (ageing) evolution; returns the trace. Mutations whose child was already
  queried cost nothing; the run stops when the budget or the space is exhausted."""
  rng, query = _rng(key), _Queries(objective, budget)
  pop: collections.deque[int] = collections.deque()
  for i in rng.permutation(len(space.ids))[:min(population, budget)]:
    query(space.ids[i])
    pop.append(space.ids[i])
  stall = 0
  while not query.done and len(query.seen) < len(space.ids) and stall < 100 * budget:
    contestants = rng.choice(len(pop), min(sample_size, len(pop)), replace=False)
    parent = max((pop[c] for c in contestants), key=lambda c: objective[c])
    options = space.neighbours[parent]
    child = options[rng.integers(len(options))]
    stall = stall + 1 if child in query.seen else 0
    query(child)
    pop.append(child)
    pop.popleft()
  return query.order


def local_search(space: Space, objective: Table, budget: int, key: jax.Array) -> list[int]:
  """Best-improvement hill climbing with random restarts; returns the trace."""
  rng, query = _rng(key), _Queries(objective, budget)
  while not query.done and len(query.seen) < len(space.ids):
    fresh = [c for c in space.ids if c not in query.seen]
    current = fresh[rng.integers(len(fresh))]
    value = query(current)
    while not query.done:
      options = list(space.neighbours[current])
      best, best_value = current, value
      for c in (options[i] for i in rng.permutation(len(options))):
        if query.done:
          break
        v = query(c)
        if v > best_value:
          best, best_value = c, v
      if best == current:
        break  # a local optimum: restart
      current, value = best, best_value
  return query.order


class Algorithm(NamedTuple):
  """A search algorithm: `fn(space, objective, budget, key) -> trace`."""

  name: str
  fn: Callable[[Space, Table, int, jax.Array], list[int]]


ALGORITHMS = (Algorithm("random_search", random_search),
              Algorithm("regularized_evolution", regularized_evolution),
              Algorithm("local_search", local_search))


def regret(trace: Sequence[int], objective: Table, metric: Table, budget: int | None = None
           ) -> np.ndarray:
  """`(budget,)` regret on `metric` of the incumbent (best queried cell by `objective`) after
  each query: `max(metric) - metric(incumbent)`; a trace shorter than `budget` keeps its
  last incumbent."""
  budget = budget or len(trace)
  best = max(metric.values())
  out, incumbent = np.empty(budget), None
  for t in range(budget):
    if t < len(trace) and (incumbent is None or objective[trace[t]] > objective[incumbent]):
      incumbent = trace[t]
    out[t] = best - metric[incumbent]
  return out


def regret_over_seeds(algorithm: Algorithm, space: Space, objective: Table,
                      metrics: Mapping[str, Table], budget: int, keys: Sequence[jax.Array]
                      ) -> dict[str, np.ndarray]:
  """`{metric name: (len(keys), budget) regret curves}` of `algorithm` run once per key."""
  traces = [algorithm.fn(space, objective, budget, k) for k in keys]
  return {name: np.stack([regret(t, objective, table, budget) for t in traces])
          for name, table in metrics.items()}
