"""Rank analytics against brute force, and the search algorithms on synthetic tables: each
finds the optimum, traces are distinct and reproducible, regret is computed exactly."""

import itertools

import jax
import numpy as np
import pytest

from jaxlab.nas import analytics, search, search_space as ss


def test_kendall_and_spearman_match_brute_force():
  rng = np.random.default_rng(0)
  a, b = rng.standard_normal(12), rng.standard_normal(12)
  pairs = list(itertools.combinations(range(12), 2))
  concordant = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i, j in pairs)
  assert analytics.kendall_tau(a, b) == pytest.approx(concordant / len(pairs))
  ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
  assert analytics.spearman_rho(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1])
  assert analytics.kendall_tau(a, a) == pytest.approx(1.0)
  assert analytics.kendall_tau(a, -a) == pytest.approx(-1.0)
  assert analytics.kendall_tau(a, np.ones(12)) is None
  assert analytics.spearman_rho([1.0], [2.0]) is None


def test_top_k_overlap_and_tables():
  a = [5.0, 4.0, 3.0, 2.0, 1.0]
  assert analytics.top_k_overlap(a, a, 2) == 1.0
  assert analytics.top_k_overlap(a, [1.0, 2.0, 3.0, 4.0, 5.0], 2) == 0.0
  assert analytics.top_k_overlap(a, [5.0, 1.0, 4.0, 2.0, 3.0], 3) == pytest.approx(2 / 3)
  table = analytics.rank_table({"acc": a}, {"s": a, "r": a[::-1]})
  assert table["s"]["acc"] == pytest.approx(1.0) and table["r"]["acc"] == pytest.approx(-1.0)
  ids, x, y = analytics.aligned({1: 1.0, 2: 2.0, 5: 3.0}, {2: 7.0, 5: 8.0, 9: 0.0})
  assert ids == [2, 5] and list(x) == [2.0, 3.0] and list(y) == [7.0, 8.0]


def _conv_table():
  """The 64 cells with a 1x1 or 3x3 conv on every edge (64 classes), valued by their 3x3
  edges with a tie-break: a unique optimum (all 3x3) that every edge flip approaches."""
  table = {}
  for ops in itertools.product(("nor_conv_1x1", "nor_conv_3x3"), repeat=6):
    cell = ss.Cell(ops)
    table[ss.canonical_id(cell)] = sum((1 + 0.01 * e) * (op == "nor_conv_3x3")
                                       for e, op in enumerate(ops))
  return table


def test_space_neighbours():
  table = _conv_table()
  assert len(table) == 64
  space = search.Space.of(table)
  assert all(len(space.neighbours[i]) == 6 for i in space.ids)   # one flip per edge
  sparse = {i: v for i, v in list(table.items())[::9]}          # no one-flip neighbours held
  sparse_space = search.Space.of(sparse)
  for i in sparse_space.ids:
    assert sparse_space.neighbours[i] and i not in sparse_space.neighbours[i]
    assert set(sparse_space.neighbours[i]) <= set(sparse)


@pytest.mark.parametrize("algorithm", search.ALGORITHMS, ids=lambda a: a.name)
def test_search_finds_the_optimum_of_a_tiny_table(algorithm):
  table = _conv_table()
  space = search.Space.of(table)
  budget = 64 if algorithm.name != "local_search" else 40
  for seed in range(3):
    trace = algorithm.fn(space, table, budget, jax.random.key(seed))
    assert len(trace) == len(set(trace)) <= budget
    assert set(trace) <= set(table)
    regret = search.regret(trace, table, table, budget)
    assert regret[-1] == 0.0 and np.all(np.diff(regret) <= 0)
    assert trace == algorithm.fn(space, table, budget, jax.random.key(seed))


def test_local_search_climbs_without_restarts_on_a_monotone_table():
  table = _conv_table()
  trace = search.local_search(search.Space.of(table), table, 40, jax.random.key(1))
  best = max(table, key=table.get)
  # At most 6 moves, each after querying at most 6 neighbours, from one start.
  assert best in trace[:1 + 6 * 6]


def test_regret_is_the_incumbents_gap_on_another_metric():
  objective = {1: 0.1, 2: 0.5, 3: 0.3, 4: 0.9}
  metric = {1: 0.8, 2: 0.2, 3: 0.7, 4: 0.4}
  regret = search.regret([1, 3, 2, 4], objective, metric, 6)
  # incumbents by objective: 1, 3, 2, 4, 4, 4; regret = 0.8 - metric(incumbent)
  np.testing.assert_allclose(regret, [0.0, 0.1, 0.6, 0.4, 0.4, 0.4])
  curves = search.regret_over_seeds(search.ALGORITHMS[0], search.Space.of(objective),
                                    objective, {"m": metric}, 4,
                                    [jax.random.key(0), jax.random.key(1)])
  assert curves["m"].shape == (2, 4) and np.all(curves["m"][:, -1] == 0.4)
