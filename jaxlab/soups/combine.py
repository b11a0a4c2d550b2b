"""Linear combinations of parameter pytrees by layer group: the arithmetic all soups share.

  stacked = stack([p1, p2, p3])               # every leaf gains a leading axis: (3, ...)
  groups = leaf_groups(p1, per_layer=True)    # (0, 1, ..., L-1): one group per leaf
  w = jnp.full((3, num_groups(groups)), 1 / 3)
  soup = combine(stacked, w, groups)          # leaf l: sum_k w[k, g(l)] p_k[l]
  g = group_vdot(stacked, grads, groups)      # (3, G): sum over leaves l in g of <p_k[l], grads[l]>

A "layer" is one parameter tensor (one pytree leaf). `groups[l]` is the group of leaf `l` in
`jax.tree_util.tree_leaves` order: one group per leaf for the "+" soups (Learned-Soup+,
MEHL-Soup+), a single group for Learned-Soup and MEHL-Soup.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

Params = Any


def leaf_groups(tree: Params, per_layer: bool) -> tuple[int, ...]:
  """Group index of every leaf of `tree`: `(0, 1, ..., L-1)` if `per_layer`, else all 0."""
  n = len(jax.tree_util.tree_leaves(tree))
  if n == 0:
    raise ValueError("the parameter pytree has no leaves")
  return tuple(range(n)) if per_layer else (0,) * n


def num_groups(groups: Sequence[int]) -> int:
  return max(groups) + 1


def _leaves(tree):
  return jax.tree_util.tree_flatten(tree)


def _set_row(stacked, index, tree):
  """`stacked` with row `index` replaced by `tree`; jitted as `set_row` with the buffers of
  `stacked` donated (updated in place)."""
  return jax.tree_util.tree_map(lambda s, x: s.at[index].set(x.astype(s.dtype)), stacked, tree)


set_row = jax.jit(_set_row, donate_argnums=0)


def stack(trees: Sequence[Params]) -> Params:
  """One pytree whose leaves stack the leaves of `trees` on a new leading axis `(K, ...)`.

  Filled in place one tree at a time, so besides the `(K, ...)` result only one input tree
  needs to be resident (`trees` may load lazily, e.g. an `IngredientStore`).
  """
  k = len(trees)
  if k == 0:
    raise ValueError("stack needs at least one pytree")
  first = trees[0]
  out = set_row(zeros_stack(first, k), 0, first)
  del first
  for i in range(1, k):
    out = set_row(out, i, trees[i])
  return out


def zeros_stack(tree: Params, k: int) -> Params:
  """Zeros shaped like `tree` (arrays or `ShapeDtypeStruct`s) stacked `k` times: `(k, ...)`."""
  return jax.tree_util.tree_map(lambda x: jnp.zeros((k,) + x.shape, x.dtype), tree)


def unstack(stacked: Params, index: int) -> Params:
  """Row `index` of a stacked pytree."""
  return jax.tree_util.tree_map(lambda s: s[index], stacked)


def combine(stacked: Params, weights: jax.Array, groups: Sequence[int]) -> Params:
  """`sum_k weights[k, groups[l]] * stacked_l[k]` for every leaf `l`.

  Args:
    stacked: pytree with leaves `(K, ...)`.
    weights: `(K, G)`.
    groups: group of each leaf (length L, values in `[0, G)`).

  Returns:
    A pytree like one row of `stacked`.
  """
  leaves, treedef = _leaves(stacked)
  _check(leaves, groups, weights)
  # A (K,) x (K, M) matmul: its VJP w.r.t. the weights is a matmul too, so XLA keeps no (K, M)
  # temporary (tensordot/einsum over the leading axis materialise one on CPU).
  out = [(weights[:, g].astype(s.dtype) @ jnp.reshape(s, (s.shape[0], -1))).reshape(s.shape[1:])
         for s, g in zip(leaves, groups)]
  return jax.tree_util.tree_unflatten(treedef, out)


def group_vdot(stacked: Params, tree: Params, groups: Sequence[int]) -> jax.Array:
  """`(K, G)` inner products: entry `[k, g]` is `sum_{l: groups[l] = g} <stacked_l[k], tree_l>`."""
  leaves, _ = _leaves(stacked)
  other = jax.tree_util.tree_leaves(tree)
  _check(leaves, groups)
  k = leaves[0].shape[0]
  out = jnp.zeros((k, num_groups(groups)), leaves[0].dtype)
  for s, t, g in zip(leaves, other, groups):
    out = out.at[:, g].add(jnp.reshape(s, (k, -1)) @ jnp.reshape(t, (-1,)).astype(s.dtype))
  return out


def group_norms(stacked: Params, groups: Sequence[int]) -> jax.Array:
  """`(K, G)` Euclidean norms of each row restricted to each group of leaves."""
  leaves, _ = _leaves(stacked)
  _check(leaves, groups)
  sq = jnp.zeros((leaves[0].shape[0], num_groups(groups)), leaves[0].dtype)
  for s, g in zip(leaves, groups):
    sq = sq.at[:, g].add(jnp.sum(jnp.square(s), axis=tuple(range(1, s.ndim))))
  return jnp.sqrt(sq)


def scale_groups(stacked: Params, factors: jax.Array, groups: Sequence[int]) -> Params:
  """Each row `k` of each leaf `l` multiplied by `factors[k, groups[l]]` (`factors (K, G)`)."""
  leaves, treedef = _leaves(stacked)
  _check(leaves, groups, factors)
  out = [s * jnp.reshape(factors[:, g], (-1,) + (1,) * (s.ndim - 1)).astype(s.dtype)
         for s, g in zip(leaves, groups)]
  return jax.tree_util.tree_unflatten(treedef, out)


def running_mean(mean: Params, tree: Params, count) -> Params:
  """`mean * n / (n + 1) + tree / (n + 1)` with `n = count`: the mean of `n` trees updated with
  one more (the uniform soup's accumulation and the greedy soup's candidate)."""
  count = jnp.asarray(count, jnp.float32)
  return jax.tree_util.tree_map(
      lambda m, x: (m * (count / (count + 1)).astype(m.dtype)
                    + x * (1 / (count + 1)).astype(m.dtype)), mean, tree)


def tree_bytes(tree: Params) -> int:
  """Bytes of all array leaves of `tree` (arrays or `ShapeDtypeStruct`s)."""
  return int(sum(x.size * jnp.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(tree)))


def _check(leaves, groups, weights=None):
  if len(leaves) != len(groups):
    raise ValueError(f"groups has {len(groups)} entries but the pytree has {len(leaves)} leaves")
  if weights is not None and (weights.ndim != 2 or weights.shape[0] != leaves[0].shape[0]
                              or weights.shape[1] < num_groups(groups)):
    raise ValueError(f"weights must be (K={leaves[0].shape[0]}, G>={num_groups(groups)}), "
                     f"got {weights.shape}")
