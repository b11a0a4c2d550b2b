"""The NB201 search space: strings, ids, the 6466 isomorphism classes (checked against a
brute-force evaluation of every cell), sampling and neighbours."""

import jax
import numpy as np
import pytest

from jaxlab.nas import search_space as ss

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_strings_and_ids_round_trip_for_every_cell():
  cells = ss.all_cells()
  assert len(cells) == 15625 == len(set(cells))
  for i, cell in enumerate(cells):
    assert ss.index(cell) == i
    assert ss.parse(ss.to_string(cell)) == cell
  cell = ss.parse(ALL_CONV)
  assert cell.ops == ("nor_conv_3x3",) * 6 and ss.to_string(cell) == ALL_CONV
  assert ss.index(ss.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")) == 0
  assert ss.index(ss.parse(
      "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")) == 1   # last edge: lowest digit


def test_exactly_6466_classes_partition_the_space():
  ids = ss.canonical_ids()
  assert len(ids) == ss.NUM_CANONICAL == 6466
  assert len({ss.canonical_key(ss.from_index(i)) for i in ids}) == 6466
  sizes = [len(ss.class_members(ss.from_index(i))) for i in ids[:50]]
  assert all(s >= 1 for s in sizes)
  canon = np.array([ss.canonical_id(c) for c in ss.all_cells()])
  assert len(np.unique(canon)) == 6466 and np.all(canon <= np.arange(15625))
  assert np.all(canon[ids] == ids)            # representatives are their own class id


@pytest.mark.parametrize("a,b", [
    # An op out of node 1 when node 1 is zero: the op does not matter.
    ("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|",
     "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"),
    # The order of a sum does not matter: node 2 = conv3(x) + conv1(x) either way.
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|skip_connect~2|",
     "|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"),
    # A skip is the identity: conv(skip(x)) = conv(x).
    ("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|",
     "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"),
])
def test_known_isomorphic_pairs_share_an_id(a, b):
  ca, cb = ss.parse(a), ss.parse(b)
  assert ca != cb
  assert ss.canonical_id(ca) == ss.canonical_id(cb)
  assert ss.canonical_cell(ca) == ss.canonical_cell(cb)


def test_different_functions_get_different_ids():
  a = ss.parse(ALL_CONV)
  b = ss.Cell(("nor_conv_1x1",) + a.ops[1:])
  assert ss.canonical_id(a) != ss.canonical_id(b)
  assert ss.class_members(a) == [a]


def _simulate(cell, x, mats):
  """The cell with fixed random ops that map 0 to 0: conv = tanh(A .), pool = tanh(P .)."""
  nodes = [x]
  for target in range(1, 4):
    total = np.zeros_like(x)
    for source in range(target):
      op, v = cell.op(source, target), nodes[source]
      if op == "skip_connect":
        total = total + v
      elif op != "none":
        total = total + np.tanh(mats[op] @ v)
    nodes.append(total)
  return nodes[-1]


def test_isomorphic_cells_compute_the_same_function():
  """Brute force over all 15625 cells: cells of one class give the same output of a random
  cell function (to float rounding of a reordered sum)."""
  rng = np.random.default_rng(0)
  mats = {op: rng.standard_normal((5, 5)) for op in ss.OPS[2:]}
  x = rng.standard_normal(5)
  outputs = {}
  for cell in ss.all_cells():
    out = _simulate(cell, x, mats)
    ref = outputs.setdefault(ss.canonical_id(cell), out)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_degenerate_cells_output_zero():
  degenerate = [c for c in ss.all_cells() if ss.is_degenerate(c)]
  assert ss.is_degenerate(ss.Cell(("none",) * 6))
  assert not ss.is_degenerate(ss.parse(ALL_CONV))
  rng = np.random.default_rng(1)
  mats = {op: rng.standard_normal((5, 5)) for op in ss.OPS[2:]}
  x = rng.standard_normal(5)
  for cell in degenerate:
    assert np.all(_simulate(cell, x, mats) == 0)
  # Every other cell depends on its input.
  others = [c for c in ss.all_cells()[:2000] if not ss.is_degenerate(c)]
  assert all(np.any(_simulate(c, x, mats) != 0) for c in others)


def test_sample_draws_distinct_representatives_deterministically():
  cells = ss.sample(jax.random.key(3), 50)
  assert len(set(cells)) == 50
  assert all(ss.canonical_id(c) == ss.index(c) for c in cells)
  assert cells == ss.sample(jax.random.key(3), 50)
  assert cells != ss.sample(jax.random.key(4), 50)
  clean = ss.sample(jax.random.key(3), 30, include_degenerate=False)
  assert not any(ss.is_degenerate(c) for c in clean)
  assert sorted(map(ss.index, ss.sample(jax.random.key(0), 6466))) == list(ss.canonical_ids())
  with pytest.raises(ValueError, match="n must be in"):
    ss.sample(jax.random.key(0), 6467)


def test_neighbours_differ_in_one_edge():
  cell = ss.parse(ALL_CONV)
  near = ss.neighbours(cell)
  assert len(near) == 24 == len(set(near))
  assert all(sum(a != b for a, b in zip(n.ops, cell.ops)) == 1 for n in near)


@pytest.mark.parametrize("bad,match", [
    ("|nor_conv_3x3~0|+|none~0|none~1|", "expected"),
    ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
    ("|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read 'op~0'"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'conv'"),
])
def test_malformed_strings_are_refused(bad, match):
  with pytest.raises(ValueError, match=match):
    ss.parse(bad)


def test_one_hot():
  cell = ss.parse(ALL_CONV)
  onehot = ss.one_hot(cell)
  assert onehot.shape == (6, 5) and np.all(onehot.sum(1) == 1)
  assert np.all(onehot[:, ss.OPS.index("nor_conv_3x3")] == 1)
