"""The NAS-Bench-201 cell search space: strings, the six-edge DAG, isomorphism classes, ids.

  cell = parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
  cell.ops                                  # ('nor_conv_3x3', 'none', 'skip_connect', ...)
  to_string(cell) == "|nor_conv_3x3~0|+|none~0|..."     # round trip
  index(cell), from_index(index(cell)) == cell          # base-5 id in [0, 15625)
  canonical_id(cell)                        # the smallest index of the cell's class
  len(canonical_cells())                    # 6466 non-isomorphic cells of the 15625
  sample(jax.random.key(0), 40)             # 40 distinct non-isomorphic cells

A cell is a DAG on four nodes (Dong & Yang, NAS-Bench-201, arXiv 2001.00326): node 0 is the
cell input, node i (i = 1, 2, 3) is the sum over j < i of op_{j->i}(node j), and node 3 is the
output. The six edges are ordered as in the cell string, `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`
(group i lists the inputs of node i): (0->1), (0->2), (1->2), (0->3), (1->3), (2->3).

Isomorphism (`canonical_key`, NAS-Bench-201's rule): zeros propagate through `none` edges and
through a node whose expression is a single zero term, a skip connection is replaced by its
input, and each node is written as the sorted sum of its terms op(input expression), zero
terms included. This gives exactly the 6466 classes of NB201, the non-isomorphic cells of
NAS-RobBench-201 (Wu et al., arXiv 2403.13134), whose reference list of ids holds only 5273;
jaxlab enumerates all 6466 itself. The rule is the benchmark's definition, not full
functional equivalence: dropping zero terms from sums (`a + 0 = a`) would merge more classes.

Ids: `index(cell)` reads the six ops as base-5 digits in the order `OPS` (first edge most
significant); `canonical_id` is the smallest index in the cell's class, so it is stable across
runs and machines. (The released benchmark files use NAS-Bench-201's own arch ids; their
`meta.json` maps those to strings, see `jaxlab.nas.benchmark`.)
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple, Sequence

import jax
import numpy as np

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
# (source, target) of the six edges, in the order of the cell string.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_CELLS = len(OPS) ** len(EDGES)          # 15625
NUM_CANONICAL = 6466

_GROUP = re.compile(r"^\|(.+)\|$")


class Cell(NamedTuple):
  """One NB201 cell: the operation on each edge of `EDGES`, in that order."""

  ops: tuple[str, ...]

  def op(self, source: int, target: int) -> str:
    """The operation on the edge source -> target."""
    return self.ops[EDGES.index((source, target))]


def make_cell(ops: Sequence[str]) -> Cell:
  """A `Cell` from six op names; raises ValueError naming a bad op or length."""
  ops = tuple(ops)
  if len(ops) != len(EDGES):
    raise ValueError(f"a cell has {len(EDGES)} edge ops, got {len(ops)}: {ops}")
  for op in ops:
    if op not in OPS:
      raise ValueError(f"unknown operation {op!r}; valid operations: {', '.join(OPS)}")
  return Cell(ops)


def parse(string: str) -> Cell:
  """The cell of an NB201 string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.

  Raises:
    ValueError: the string is malformed (the message shows the expected format).
  """
  expected = "expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
  groups = string.strip().split("+") if isinstance(string, str) else []
  if len(groups) != NUM_NODES - 1:
    raise ValueError(f"malformed NB201 cell string {string!r}: {expected}")
  ops = []
  for node, group in enumerate(groups, start=1):
    match = _GROUP.match(group)
    items = match.group(1).split("|") if match else []
    if len(items) != node:
      raise ValueError(f"malformed NB201 cell string {string!r}: node {node} needs {node} "
                       f"inputs; {expected}")
    for source, item in enumerate(items):
      op, _, src = item.partition("~")
      if src != str(source):
        raise ValueError(f"malformed NB201 cell string {string!r}: {item!r} should read "
                         f"'op~{source}'; {expected}")
      ops.append(op)
  # Edges in string order: node 1 (0), node 2 (0, 1), node 3 (0, 1, 2) = EDGES.
  return make_cell(ops)


def to_string(cell: Cell) -> str:
  """The NB201 string of `cell`."""
  groups, k = [], 0
  for node in range(1, NUM_NODES):
    groups.append("|" + "|".join(f"{cell.ops[k + j]}~{j}" for j in range(node)) + "|")
    k += node
  return "+".join(groups)


def index(cell: Cell) -> int:
  """The base-5 id of `cell` in [0, 15625): ops as digits in `OPS` order, first edge first."""
  value = 0
  for op in cell.ops:
    value = value * len(OPS) + OPS.index(op)
  return value


def from_index(i: int) -> Cell:
  """The cell with base-5 id `i` (inverse of `index`)."""
  if not 0 <= int(i) < NUM_CELLS:
    raise ValueError(f"cell index must be in [0, {NUM_CELLS}), got {i}")
  digits = []
  i = int(i)
  for _ in EDGES:
    i, d = divmod(i, len(OPS))
    digits.append(OPS[d])
  return Cell(tuple(reversed(digits)))


def all_cells() -> list[Cell]:
  """All 15625 cells, in index order."""
  return [from_index(i) for i in range(NUM_CELLS)]


# --- isomorphism --------------------------------------------------------------------------

ZERO = "#"


def canonical_key(cell: Cell) -> str:
  """A string equal for two cells iff they are isomorphic under NAS-Bench-201's rule (its
  `to_unique_str(consider_zero=True)`; 6466 classes).

  Node 0 is "0"; node i is the sorted '+'-join of its terms, one per input edge: the zero
  term "#" for a `none` edge or an input node whose string is exactly "#", the input's own
  string for a skip connection, and `(input)@op` otherwise. The key is node 3's string. The
  class count depends on this exact format (through the sort order of joined strings), so it
  is kept verbatim.
  """
  nodes = ["0"]
  for target in range(1, NUM_NODES):
    terms = []
    for source in range(target):
      op, value = cell.op(source, target), nodes[source]
      if op == "none" or value == ZERO:
        terms.append(ZERO)
      elif op == "skip_connect":
        terms.append(value)
      else:
        terms.append(f"({value})@{op}")
    nodes.append("+".join(sorted(terms)))
  return nodes[-1]


def is_degenerate(cell: Cell) -> bool:
  """True iff no path of non-`none` edges joins the input to the output (the cell outputs
  zeros, so the network's prediction does not depend on its input)."""
  reached = {0}
  for source, target in EDGES:   # sources come before targets in this order
    if source in reached and cell.op(source, target) != "none":
      reached.add(target)
  return NUM_NODES - 1 not in reached


@functools.lru_cache(maxsize=None)
def _classes() -> tuple[dict[str, int], np.ndarray]:
  """({key: canonical id}, canonical id of every index (15625,))."""
  first: dict[str, int] = {}
  canon = np.empty(NUM_CELLS, dtype=np.int64)
  for i in range(NUM_CELLS):
    key = canonical_key(from_index(i))
    canon[i] = first.setdefault(key, i)
  return first, canon


def canonical_id(cell: Cell) -> int:
  """The smallest index among the cells isomorphic to `cell` (a stable class id)."""
  return int(_classes()[1][index(cell)])


def canonical_cell(cell: Cell) -> Cell:
  """The representative (smallest index) of `cell`'s class."""
  return from_index(canonical_id(cell))


def canonical_ids() -> np.ndarray:
  """The 6466 canonical ids, ascending `(6466,)`."""
  return np.array(sorted(_classes()[0].values()), dtype=np.int64)


def canonical_cells() -> list[Cell]:
  """The 6466 non-isomorphic cells (class representatives), by ascending id."""
  return [from_index(i) for i in canonical_ids()]


def class_members(cell: Cell) -> list[Cell]:
  """Every cell isomorphic to `cell` (itself included), by index."""
  canon = _classes()[1]
  return [from_index(i) for i in np.flatnonzero(canon == canonical_id(cell))]


def sample(key: jax.Array, n: int, *, include_degenerate: bool = True) -> list[Cell]:
  """`n` distinct non-isomorphic cells drawn uniformly without replacement (representatives).

  Args:
    key: PRNG key of the draw.
    n: number of cells, at most 6466 (fewer if degenerate cells are excluded).
    include_degenerate: also draw the class of cells with an identically zero output.
  """
  ids = canonical_ids()
  if not include_degenerate:
    ids = ids[[not is_degenerate(from_index(i)) for i in ids]]
  if not 1 <= n <= len(ids):
    raise ValueError(f"n must be in [1, {len(ids)}], got {n}")
  chosen = np.asarray(jax.random.choice(key, len(ids), (n,), replace=False))
  return [from_index(int(ids[i])) for i in chosen]


def neighbours(cell: Cell) -> list[Cell]:
  """The 24 cells that differ from `cell` in the op of exactly one edge (local search's
  neighbourhood), in edge then `OPS` order."""
  out = []
  for e in range(len(EDGES)):
    for op in OPS:
      if op != cell.ops[e]:
        out.append(Cell(cell.ops[:e] + (op,) + cell.ops[e + 1:]))
  return out


def one_hot(cell: Cell) -> np.ndarray:
  """The `(6, 5)` float32 one-hot op matrix of `cell` (rows: `EDGES`, columns: `OPS`)."""
  out = np.zeros((len(EDGES), len(OPS)), np.float32)
  out[np.arange(len(EDGES)), [OPS.index(op) for op in cell.ops]] = 1.0
  return out
