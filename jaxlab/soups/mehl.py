"""MEHL-Soup and MEHL-Soup+ (Li, Jiang, Liu, Huang, Kwok, *Learning Scalable Model Soup on a
Single GPU*, ECCV 2024, arXiv 2407.03641): soup coefficients on the affine hyperplane (weights
sum to one, negative allowed), learned by block coordinate gradient descent with only one
block of b ingredients resident.

  soup = mehl_soup(ingredients, model.apply, ds.val, block_size=4, per_layer=True, key=key)
  soup.params                 # pytree like one ingredient
  soup.weights                # (K, G) effective weights: columns sum to 1, entries may be < 0

  opt = mehl_block_optimizer(model.apply, groups, tx)    # one block, optax-shaped
  state = opt.init(block)                                 # X = 0 (b, G): start at the anchor
  state, metrics = opt.update(state, block, {"x": x, "y": y})

For a block of ingredients theta_k with anchor a, origin o and unit directions
P_k = (theta_k - o) / max(||theta_k - o||, eps) (norm per group of leaves: one tensor for
MEHL-Soup+, the whole vector for MEHL-Soup),

  theta(X)_l   = a_l + sum_k X[k, g(l)] P_k[l]                       (rebuilt, never drifted)
  dL/dX[k, g]  = sum_{l in g} <P_k[l], grad_theta L(theta(X))_l>

so one step is one forward/backward of a single model plus b inner products; the ingredients
never enter the autograd graph. The weight-space gradient is clipped to global norm 1, X
follows a fresh AdamW (wd 0, 20% linear warm-up then cosine) in every block. Centres:
'running' (reference code: o = a = mean of the first block's models, then the current soup)
or 'global_mean' (paper form: o = mean of all K, a = the current soup). Zero directions (a
tensor equal in an ingredient and the centre) give zero rows and zero gradients, never NaN.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.data.dataset import Split
from jaxlab.soups import combine, memory
from jaxlab.soups.base import (ApplyFn, CoefficientOptimizer, SoupCost, batch_like,
                               coefficient_epoch, soup_loss, stacked_like)
from jaxlab.soups.uniform import uniform_soup
from jaxlab.training import optim

CENTRES = ("running", "global_mean")


class Block(NamedTuple):
  """The resident part of one block.

  Attributes:
    anchor: parameter pytree `a` (the block's starting point).
    directions: pytree with leaves `(b, ...)`: the b directions `P_k` (zero rows for padding).
  """

  anchor: Any
  directions: Any


class MehlState(NamedTuple):
  """Attributes: coefs `(b, G)` (X, one per block ingredient and group), opt_state."""

  coefs: jax.Array
  opt_state: Any


def rebuild(block: Block, coefs: jax.Array, groups: Sequence[int]):
  """`theta(X)_l = a_l + sum_k X[k, g(l)] P_k[l]`."""
  delta = combine.combine(block.directions, coefs, groups)
  return jax.tree_util.tree_map(jnp.add, block.anchor, delta)


def coefficient_gradient(directions, grads, groups: Sequence[int]) -> jax.Array:
  """`(b, G)`: `dL/dX[k, g] = sum_{l in g} <P_k[l], grads_l>`, with `grads` the weight-space
  gradient of the loss at `theta(X)` (the chain rule through `rebuild`)."""
  return combine.group_vdot(directions, grads, groups)


def mehl_block_optimizer(apply_fn: ApplyFn, groups: Sequence[int],
                         tx: optax.GradientTransformation, clip_norm: float | None = 1.0
                         ) -> CoefficientOptimizer:
  """The coefficient learner of one MEHL block as `(init, update)`.

  Args:
    apply_fn: `apply_fn(params, x) -> logits (N, C)`.
    groups: group of each leaf (`combine.leaf_groups`).
    tx: optimiser of X (the reference: AdamW lr 0.01, wd 0, warm-up + cosine).
    clip_norm: clip the weight-space gradient to this global norm (None: no clipping).
  """
  groups = tuple(groups)
  clip = optax.clip_by_global_norm(clip_norm) if clip_norm else None

  def init(block: Block) -> MehlState:
    b = jax.tree_util.tree_leaves(block.directions)[0].shape[0]
    coefs = jnp.zeros((b, combine.num_groups(groups)), jnp.float32)
    return MehlState(coefs, tx.init(coefs))

  def update(state: MehlState, block: Block, batch):
    theta = rebuild(block, state.coefs, groups)
    (loss, aux), grads = jax.value_and_grad(
        lambda p: soup_loss(apply_fn, p, batch), has_aux=True)(theta)
    grad_norm = optax.tree.norm(grads)
    if clip is not None:
      grads, _ = clip.update(grads, clip.init(grads))
    g = coefficient_gradient(block.directions, grads, groups).astype(state.coefs.dtype)
    updates, opt_state = tx.update(g, state.opt_state, state.coefs)
    coefs = optax.apply_updates(state.coefs, updates)
    return MehlState(coefs, opt_state), {"loss": loss, "grad_norm": grad_norm, **aux}

  return CoefficientOptimizer(init, update)


def _row_mask(mask, x):
  return jnp.reshape(mask, (-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)


def _masked_mean(buffer, mask):
  n = jnp.sum(mask)
  return jax.tree_util.tree_map(
      lambda s: jnp.tensordot(mask.astype(s.dtype), s, axes=1) / n.astype(s.dtype), buffer)


def make_directions(buffer, origin, mask, groups, normalize, eps):
  """`(P, norms, factors)`: `P_k = mask_k (theta_k - o) factors[k]` per group, written over the
  donated `buffer` row by row (one row of temporaries, not b).

  `factors` is `1 / ||theta_k - o||` (or 1 without `normalize`) per group, and 0 for a zero
  direction: one whose norm is at most `eps + rtol ||o||` with `rtol = 100 * dtype eps`, so a
  tensor equal in an ingredient and the centre up to the rounding of a streamed mean (frozen
  tensors) gives a zero row, never NaN and never amplified rounding noise.
  """
  leaves, treedef = jax.tree_util.tree_flatten(buffer)
  origins = jax.tree_util.tree_leaves(origin)
  dtype = leaves[0].dtype
  sq = jnp.zeros((mask.shape[0], combine.num_groups(groups)), dtype)
  for s, o, g in zip(leaves, origins, groups):
    diff = (s - o[None]) * _row_mask(mask, s)
    sq = sq.at[:, g].add(jnp.sum(jnp.square(diff), axis=tuple(range(1, s.ndim))))
  norms = jnp.sqrt(sq)
  origin_norms = combine.group_norms(jax.tree_util.tree_map(lambda o: o[None], origin), groups)
  zero = norms <= eps + 100 * jnp.finfo(dtype).eps * origin_norms
  factors = jnp.where(zero, 0.0, 1.0 / jnp.maximum(norms, eps) if normalize else 1.0)
  scale = factors * mask[:, None]
  out = []
  for s, o, g in zip(leaves, origins, groups):
    def row(k, s, o=o, g=g):
      r = (jax.lax.dynamic_index_in_dim(s, k, keepdims=False) - o) * scale[k, g].astype(s.dtype)
      return jax.lax.dynamic_update_index_in_dim(s, r, k, 0)
    out.append(jax.lax.fori_loop(0, s.shape[0], row, s))
  return jax.tree_util.tree_unflatten(treedef, out), norms, factors


class MehlSteps(NamedTuple):
  """The compiled steps of one MEHL block.

  Attributes:
    fill: `(buffer, slot, params) -> buffer` (buffer donated): load one ingredient.
    directions: `(buffer, origin, mask) -> (P, norms, factors)` (buffer donated).
    mean: `(buffer, mask) -> params`: mean of the block's models (first running centre).
    update: the coefficient step `(state, block, batch) -> (state, metrics)` (state donated).
    rebuild: `(block, coefs) -> params`.
    memory: the largest `StepMemory` of fill, directions and update.
    compile_s: seconds spent compiling them.
  """

  fill: Any
  directions: Any
  mean: Any
  update: Any
  rebuild: Any
  memory: memory.StepMemory
  compile_s: float


def compile_steps(opt: CoefficientOptimizer, like, b: int, groups: Sequence[int], batch,
                  normalize: bool = True, eps: float = 1e-12, *, memory_only: bool = False
                  ) -> MehlSteps:
  """Ahead-of-time compiles every step of a MEHL block of `b` ingredients shaped like `like`
  (abstract shapes suffice: the memory does not depend on K). With `memory_only`, only the
  measured steps (fill, directions, update) are compiled; `mean` and `rebuild` are None."""
  groups = tuple(groups)
  buffer = stacked_like(like, b)
  block = Block(like, buffer)
  state = jax.eval_shape(opt.init, block)
  mask = jax.ShapeDtypeStruct((b,), jnp.float32)
  update, mem_update, c1 = memory.compile_step(jax.jit(opt.update, donate_argnums=0), state,
                                               block, batch)
  directions, mem_dir, c2 = memory.compile_step(
      jax.jit(make_directions, static_argnums=(3, 4, 5), donate_argnums=0), buffer, like, mask,
      groups, normalize, eps)
  fill, mem_fill, c3 = memory.compile_step(combine.set_row, buffer,
                                           jax.ShapeDtypeStruct((), jnp.int32), like)
  largest = max((mem_update, mem_dir, mem_fill), key=lambda m: m.total_bytes)
  if memory_only:
    return MehlSteps(fill, directions, None, update, None, largest, c1 + c2 + c3)
  mean, _, c4 = memory.compile_step(jax.jit(_masked_mean), buffer, mask)
  rebuild_fn, _, c5 = memory.compile_step(
      jax.jit(rebuild, static_argnums=2), block,
      jax.ShapeDtypeStruct((b, combine.num_groups(groups)), jnp.float32), groups)
  return MehlSteps(fill, directions, mean, update, rebuild_fn, largest, c1 + c2 + c3 + c4 + c5)


class MehlSoup(NamedTuple):
  """Attributes: params (the soup), weights `(K, G)` effective weights (columns sum to 1),
  history (one metrics dict per block), cost."""

  params: Any
  weights: np.ndarray
  history: list[dict[str, Any]]
  cost: SoupCost


def mehl_soup(ingredients: Sequence[Any], apply_fn: ApplyFn, val: Split, *, block_size: int,
              key: jax.Array, per_layer: bool = True, epochs: int = 5, outer_epochs: int = 1,
              learning_rate: float = 0.01, warmup_fraction: float = 0.2,
              batch_size: int = 128, centre: str = "running", normalize: bool = True,
              clip_norm: float | None = 1.0, eps: float = 1e-12,
              log_fn: Callable[[int, dict[str, Any]], None] | None = None) -> MehlSoup:
  """MEHL-Soup (`per_layer=False`) or MEHL-Soup+ by block coordinate descent on `val`.

  Args:
    ingredients: K parameter pytrees of one model, read block by block (an `IngredientStore`
      loads each from its checkpoint on access), so only `block_size` are resident.
    apply_fn: `apply_fn(params, x) -> logits`.
    val: the val split (the only data used).
    block_size: b, ingredients per block; the last block of an epoch is padded with zero
      directions (one compiled step for all blocks).
    key: block order (outer epoch t: a permutation from `fold_in`) and val shuffling.
    per_layer: one coefficient per (ingredient, leaf) (MEHL-Soup+) or per ingredient.
    epochs: E, passes over val per block; outer_epochs: T, passes over all K ingredients.
    learning_rate, warmup_fraction, batch_size: AdamW (wd 0) with linear warm-up over
      `warmup_fraction` of the block's steps, then cosine, on shuffled val batches.
    centre: 'running' or 'global_mean' (see the module docstring).
    normalize: unit-norm directions per group (reference code) or raw differences.
    clip_norm: weight-space gradient clipping (None: off); eps: norm floor.
    log_fn: `(block number, metrics)` after every block.
  """
  k = len(ingredients)
  if k == 0:
    raise ValueError("mehl_soup needs at least one ingredient")
  if centre not in CENTRES:
    raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
  if block_size < 1:
    raise ValueError(f"block_size must be >= 1, got {block_size}")
  if not 1 <= batch_size <= len(val):
    raise ValueError(f"batch_size must be in [1, {len(val)}] (the val size), got {batch_size}")
  b = min(block_size, k)
  like = memory.abstract(ingredients[0])
  loads = 1
  groups = combine.leaf_groups(like, per_layer)
  n_groups = combine.num_groups(groups)
  steps_per_block = epochs * (len(val) // batch_size)
  schedule = optim.make_schedule("warmup_cosine", learning_rate, max(1, steps_per_block),
                                 warmup_fraction=warmup_fraction)
  tx = optim.make_optimizer("adamw", schedule, weight_decay=0.0)
  opt = mehl_block_optimizer(apply_fn, groups, tx, clip_norm)

  steps = compile_steps(opt, like, b, groups, batch_like(val, batch_size), normalize, eps)
  fill, to_directions, mean_fn, build, step = (steps.fill, steps.directions, steps.mean,
                                               steps.rebuild, steps.update)

  t0 = time.perf_counter()
  perm_key, data_key = jax.random.split(key)
  del key
  theta_bar = None
  compile_s = steps.compile_s
  if centre == "global_mean":
    mean = uniform_soup(ingredients)  # one streaming pass, two models resident
    theta_bar, compile_s = mean.params, compile_s + mean.cost.compile_s
    loads += k
    del mean
  weights = None  # (K, G) effective weights of `soup`
  soup = None
  buffer = combine.zeros_stack(like, b)
  history: list[dict[str, Any]] = []
  block_number = 0
  for t in range(outer_epochs):
    order = np.asarray(jax.random.permutation(jax.random.fold_in(perm_key, t), k))
    for start in range(0, k, b):
      ids = order[start:start + b]
      mask = np.zeros(b, np.float32)
      mask[:len(ids)] = 1.0
      for slot, i in enumerate(ids):
        buffer = fill(buffer, jnp.int32(slot), ingredients[int(i)])
        loads += 1
      if centre == "global_mean":
        origin = theta_bar
        anchor = theta_bar if soup is None else soup
        w_anchor = np.full((k, n_groups), 1.0 / k) if weights is None else weights
      else:
        anchor = mean_fn(buffer, mask) if soup is None else soup
        origin = anchor
        if weights is None:
          w_anchor = np.zeros((k, n_groups))
          w_anchor[ids] = 1.0 / len(ids)
        else:
          w_anchor = weights
      directions, norms, factors = to_directions(buffer, origin, mask)
      del buffer
      block = Block(anchor, directions)
      state = opt.init(block)
      block_key = jax.random.fold_in(data_key, block_number)
      first = last = None
      for e in range(epochs):
        state, means = coefficient_epoch(step, state, block, val, batch_size, block_key, e)
        first = means if first is None else first
        last = means
      coefs = np.asarray(state.coefs, np.float64)
      soup = build(block, state.coefs)
      s = (coefs * np.asarray(factors, np.float64))[:len(ids)]  # step along theta_k - o
      weights = _effective_weights(w_anchor, ids, s, centre, k)
      buffer = directions  # reuse the block's memory for the next block
      del block, directions, anchor
      block_number += 1
      record = {"outer_epoch": t + 1, "block": block_number, "ids": [int(i) for i in ids],
                "coef_loss_first": first["loss"], "coef_loss_last": last["loss"],
                "coef_accuracy_last": last["accuracy"],
                "coef_abs_max": float(np.max(np.abs(coefs))),
                "direction_norm_mean": float(np.mean(np.asarray(norms)[:len(ids)]))}
      history.append(record)
      if log_fn is not None:
        log_fn(block_number, record)
  soup = jax.block_until_ready(soup)
  cost = SoupCost(step_memory=steps.memory,
                  resident_bytes=combine.tree_bytes(like) if centre == "global_mean" else 0,
                  compile_s=compile_s,
                  wall_s=time.perf_counter() - t0 - (compile_s - steps.compile_s),
                  val_passes=float(outer_epochs * math.ceil(k / b) * epochs),
                  ingredient_loads=loads)
  return MehlSoup(soup, weights, history, cost)


def _effective_weights(w_anchor: np.ndarray, ids, s: np.ndarray, centre: str, k: int
                       ) -> np.ndarray:
  """Effective weights after a block with steps `s (n, G)` along `theta_k - o`, k in `ids`.

  running:     W = (1 - sum_k s_k) W_a + sum_k s_k e_k
  global_mean: W = W_a + sum_k s_k (e_k - 1/K)
  """
  w = np.array(w_anchor, np.float64)
  total = s.sum(axis=0)
  if centre == "running":
    w *= (1.0 - total)[None, :]
  else:
    w -= total[None, :] / k
  for row, i in enumerate(ids):
    w[int(i)] += s[row]
  return w
