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
follows a fresh AdamW (wd 0, 20% linear warm-up then cosine) in every block. Centres (typed
records, `Centre`): `RUNNING` (reference code: o = a = mean of the first block's models, then
the current soup) or `GLOBAL_MEAN` (paper form: o = mean of all K, a = the current soup).
Zero directions (a tensor equal in an ingredient and the centre) give zero rows and zero
gradients, never NaN.

`mehl_soup` reads like the algorithm: `block_schedule` (which blocks, in which order),
`load_block` + `init_block` (anchor, origin, directions), `fit_block` (E passes over val),
then `Centre.step_weights` (the effective weights of the new soup).
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
    with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and the int32 count
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
  scale = factors * mask[:, None].astype(factors.dtype)
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
    num_groups: G, coefficient groups per ingredient.
  """

  fill: Any
  directions: Any
  mean: Any
  update: Any
  rebuild: Any
  memory: memory.StepMemory
  compile_s: float
  num_groups: int


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
    return MehlSteps(fill, directions, None, update, None, largest, c1 + c2 + c3,
                     combine.num_groups(groups))
  mean, _, c4 = memory.compile_step(jax.jit(_masked_mean), buffer, mask)
  rebuild_fn, _, c5 = memory.compile_step(
      jax.jit(rebuild, static_argnums=2), block,
      jax.ShapeDtypeStruct((b, combine.num_groups(groups)), jnp.float32), groups)
  return MehlSteps(fill, directions, mean, update, rebuild_fn, largest, c1 + c2 + c3 + c4 + c5,
                   combine.num_groups(groups))


class Centre(NamedTuple):
  """Where a block's directions start and what a step along them does to the soup's weights.

  Attributes:
    name: 'running' or 'global_mean'.
    global_mean: the origin of every block is the mean of all K ingredients (theta_bar) and the
      first anchor is theta_bar too; else the origin is the block's anchor, the first anchor
      the mean of the first block's models.
    first_weights: `(ids, K, G) -> (K, G)`: effective weights of the first anchor.
    step_weights: `(W_a, ids, s, K) -> (K, G)`: effective weights after steps `s (n, G)`
      along `theta_k - o` from an anchor with weights `W_a`.
  """

  name: str
  global_mean: bool
  first_weights: Callable[[Any, int, int], np.ndarray]
  step_weights: Callable[[np.ndarray, Any, np.ndarray, int], np.ndarray]


def _uniform_weights(ids, k: int, n_groups: int) -> np.ndarray:
  """theta_bar: 1/K on every ingredient."""
  del ids
  return np.full((k, n_groups), 1.0 / k)


def _block_mean_weights(ids, k: int, n_groups: int) -> np.ndarray:
  """The mean of the block `ids`: 1/n on its n ingredients."""
  w = np.zeros((k, n_groups))
  w[ids] = 1.0 / len(ids)
  return w


def _running_step(w_anchor: np.ndarray, ids, s: np.ndarray, k: int) -> np.ndarray:
  """`W = (1 - sum_k s_k) W_a + sum_k s_k e_k` (origin = anchor)."""
  del k
  w = np.array(w_anchor, np.float64)
  w *= (1.0 - s.sum(axis=0))[None, :]
  for row, i in enumerate(ids):
    w[int(i)] += s[row]
  return w


def _global_mean_step(w_anchor: np.ndarray, ids, s: np.ndarray, k: int) -> np.ndarray:
  """`W = W_a + sum_k s_k (e_k - 1/K)` (origin = theta_bar)."""
  w = np.array(w_anchor, np.float64)
  w -= s.sum(axis=0)[None, :] / k
  for row, i in enumerate(ids):
    w[int(i)] += s[row]
  return w


RUNNING = Centre("running", False, _block_mean_weights, _running_step)
GLOBAL_MEAN = Centre("global_mean", True, _uniform_weights, _global_mean_step)
CENTRES = {c.name: c for c in (RUNNING, GLOBAL_MEAN)}


class MehlSoup(NamedTuple):
  """Attributes: params (the soup), weights `(K, G)` effective weights (columns sum to 1),
  history (one metrics dict per block), cost, direction_norms `(K, G)`: `||theta_k - o||`
  per group when ingredient k's block was last built (an effective weight is a coefficient
  divided by this norm when the directions are normalised)."""

  params: Any
  weights: np.ndarray
  history: list[dict[str, Any]]
  cost: SoupCost
  direction_norms: np.ndarray


def block_schedule(key: jax.Array, k: int, b: int, outer_epochs: int):
  """The blocks of BCGD: yields `(t, index, ids)`. Outer epoch t visits the permutation of the
  K ingredients drawn from `fold_in(key, t)` in consecutive blocks of b ids (the last one may
  be shorter); `index` numbers the blocks of all epochs from 0."""
  per_epoch = math.ceil(k / b)
  for t in range(outer_epochs):
    order = np.asarray(jax.random.permutation(jax.random.fold_in(key, t), k))
    for j, start in enumerate(range(0, k, b)):
      yield t, t * per_epoch + j, order[start:start + b]


def load_block(fill, buffer, ingredients: Sequence[Any], ids) -> tuple[Any, np.ndarray]:
  """Writes ingredients `ids` into the first rows of the donated `buffer` `(b, ...)`; returns
  the buffer and its row mask `(b,)` (1 for a loaded row, 0 for padding)."""
  mask = np.zeros(jax.tree_util.tree_leaves(buffer)[0].shape[0], np.float32)
  mask[:len(ids)] = 1.0
  for slot, i in enumerate(ids):
    buffer = fill(buffer, jnp.int32(slot), ingredients[int(i)])
  return buffer, mask


def init_block(steps: MehlSteps, centre: Centre, buffer, mask: np.ndarray, ids, k: int,
               soup, weights: np.ndarray | None, theta_bar):
  """Init block: the anchor a (the current soup, or the centre's first anchor), the origin o
  and the directions `P_k` (written over the donated `buffer`).

  Returns:
    `(Block(a, P), norms (b, G), factors (b, G), W_a (K, G))`: `P_k = factors_k (theta_k - o)`
    per group, and W_a the effective weights of the anchor.
  """
  if soup is None:
    anchor = theta_bar if centre.global_mean else steps.mean(buffer, mask)
    weights = centre.first_weights(ids, k, steps.num_groups)
  else:
    anchor = soup
  origin = theta_bar if centre.global_mean else anchor
  directions, norms, factors = steps.directions(buffer, origin, mask)
  return Block(anchor, directions), norms, factors, weights


def fit_block(steps: MehlSteps, state: MehlState, block: Block, val: Split, batch_size: int,
              key: jax.Array, epochs: int):
  """Fit block: E passes of the coefficient step over val batches shuffled by
  `fold_in(key, epoch)`, from `state` (X = 0). Returns `(X (b, G), first, last)` with the
  epoch means of the first and the last pass."""
  first = last = None
  for epoch in range(epochs):
    state, last = coefficient_epoch(steps.update, state, block, val, batch_size, key, epoch)
    first = last if first is None else first
  return state.coefs, first, last


def effective_weights(centre: Centre, w_anchor: np.ndarray, ids, coefs, factors, k: int
                      ) -> np.ndarray:
  """Effective weights `(K, G)` of the soup after a block: its coefficients X `(b, G)` times
  the direction factors are steps `s` along `theta_k - o` (k in `ids`), which
  `centre.step_weights` applies to the anchor's weights `w_anchor`."""
  s = (np.asarray(coefs, np.float64) * np.asarray(factors, np.float64))[:len(ids)]
  return centre.step_weights(w_anchor, ids, s, k)


def _block_record(t: int, index: int, ids, coefs, norms, first, last) -> dict[str, Any]:
  coefs = np.asarray(coefs, np.float64)
  return {"outer_epoch": t + 1, "block": index + 1, "ids": [int(i) for i in ids],
          "coef_loss_first": first["loss"], "coef_loss_last": last["loss"],
          "coef_accuracy_last": last["accuracy"], "coef_abs_max": float(np.max(np.abs(coefs))),
          "direction_norm_mean": float(np.mean(np.asarray(norms)[:len(ids)]))}


def block_adamw(learning_rate: float, warmup_fraction: float, steps_per_block: int
                ) -> optax.GradientTransformation:
  """The coefficient optimiser of one block (the reference code's): AdamW, wd 0, linear
  warm-up over `warmup_fraction` of the block's steps, then cosine to 0."""
  schedule = optim.make_schedule("warmup_cosine", learning_rate, max(1, steps_per_block),
                                 warmup_fraction=warmup_fraction)
  return optim.make_optimizer("adamw", schedule, weight_decay=0.0)


def mehl_soup(ingredients: Sequence[Any], apply_fn: ApplyFn, val: Split, *, block_size: int,
              key: jax.Array, per_layer: bool = True, epochs: int = 5, outer_epochs: int = 1,
              learning_rate: float = 0.01, warmup_fraction: float = 0.2,
              batch_size: int = 128, centre: str | Centre = "running", normalize: bool = True,
              clip_norm: float | None = 1.0, eps: float = 1e-12,
              log_fn: Callable[[int, dict[str, Any]], None] | None = None) -> MehlSoup:
  """MEHL-Soup (`per_layer=False`) or MEHL-Soup+ by block coordinate descent on `val`:

    for t = 1..T, for each block B of b ingredients (a permutation per epoch):
      init block:  load B; anchor a, origin o, directions P_k           (`init_block`)
      fit block:   X = 0, E passes of AdamW on L(a + sum_k X_k P_k)     (`fit_block`)
      soup := a + sum_k X_k P_k;  W := its effective weights            (`effective_weights`)

  Args:
    ingredients: K parameter pytrees of one model, read block by block (e.g. an
      `IngredientStore`, which loads on access), so only `block_size` are resident.
    apply_fn, val: `apply_fn(params, x) -> logits`; the val split (the only data used).
    block_size: b; the last block of an epoch is padded with zero directions.
    key: split into the block order (`block_schedule`) and the val shuffling (block i:
      `fold_in(key, i)`).
    per_layer: one coefficient per (ingredient, leaf) (MEHL-Soup+) or per ingredient.
    epochs, outer_epochs: E passes over val per block; T passes over all K ingredients.
    learning_rate, warmup_fraction, batch_size: `block_adamw` on shuffled val batches.
    centre: `RUNNING`, `GLOBAL_MEAN` or its name (module docstring).
    normalize: unit-norm directions per group (reference code) or raw differences.
    clip_norm, eps: weight-space gradient clipping (None: off); the norm floor.
    log_fn: `(block number, metrics)` after every block.
  """
  k = len(ingredients)
  centre = _check_arguments(k, centre, block_size, batch_size, len(val))
  b = min(block_size, k)
  like = memory.abstract(ingredients[0])
  groups = combine.leaf_groups(like, per_layer)
  tx = block_adamw(learning_rate, warmup_fraction, epochs * (len(val) // batch_size))
  opt = mehl_block_optimizer(apply_fn, groups, tx, clip_norm)
  steps = compile_steps(opt, like, b, groups, batch_like(val, batch_size), normalize, eps)
  t0 = time.perf_counter()
  order_key, data_key = jax.random.split(key)
  del key
  theta_bar, mean_cost = _global_mean(ingredients) if centre.global_mean else (None, SoupCost())
  soup, weights, buffer, history = None, None, combine.zeros_stack(like, b), []
  direction_norms = np.zeros((k, steps.num_groups))
  for t, index, ids in block_schedule(order_key, k, b, outer_epochs):
    buffer, mask = load_block(steps.fill, buffer, ingredients, ids)
    block, norms, factors, w_anchor = init_block(steps, centre, buffer, mask, ids, k, soup,
                                                 weights, theta_bar)
    direction_norms[np.asarray(ids)] = np.asarray(norms, np.float64)[:len(ids)]
    del buffer  # donated to the directions
    coefs, first, last = fit_block(steps, opt.init(block), block, val, batch_size,
                                   jax.random.fold_in(data_key, index), epochs)
    soup = steps.rebuild(block, coefs)
    weights = effective_weights(centre, w_anchor, ids, coefs, factors, k)
    buffer = block.directions  # the next block reuses this memory
    del block
    history.append(_block_record(t, index, ids, coefs, norms, first, last))
    if log_fn is not None:
      log_fn(index + 1, history[-1])
  soup = jax.block_until_ready(soup)
  wall_s = time.perf_counter() - t0 - mean_cost.compile_s
  return MehlSoup(soup, weights, history, _cost(steps, mean_cost, like, centre, wall_s, k, b,
                                                epochs, outer_epochs), direction_norms)


def _check_arguments(k: int, centre: str | Centre, block_size: int, batch_size: int,
                     n_val: int) -> Centre:
  if k == 0:
    raise ValueError("mehl_soup needs at least one ingredient")
  if isinstance(centre, str) and centre not in CENTRES:
    raise ValueError(f"centre must be one of {tuple(CENTRES)}, got {centre!r}")
  if block_size < 1:
    raise ValueError(f"block_size must be >= 1, got {block_size}")
  if not 1 <= batch_size <= n_val:
    raise ValueError(f"batch_size must be in [1, {n_val}] (the val size), got {batch_size}")
  return CENTRES[centre] if isinstance(centre, str) else centre


def _cost(steps: MehlSteps, mean_cost: SoupCost, like, centre: Centre, wall_s: float, k: int,
          b: int, epochs: int, outer_epochs: int) -> SoupCost:
  """The largest block step plus theta_bar (global-mean centre) resident; compile time (the
  mean's too) excluded from `wall_s`; ceil(K / b) E T val passes; one load for the shapes, K
  for the mean, then T K."""
  return SoupCost(step_memory=steps.memory, compile_s=steps.compile_s + mean_cost.compile_s,
                  resident_bytes=combine.tree_bytes(like) if centre.global_mean else 0,
                  wall_s=wall_s, val_passes=float(outer_epochs * math.ceil(k / b) * epochs),
                  ingredient_loads=1 + (k if centre.global_mean else 0) + outer_epochs * k)


def _global_mean(ingredients: Sequence[Any]) -> tuple[Any, SoupCost]:
  """theta_bar, the mean of all K ingredients (one streamed pass, two models resident)."""
  mean = uniform_soup(ingredients)
  return mean.params, mean.cost
