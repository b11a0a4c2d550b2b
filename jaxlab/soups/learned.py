"""Learned-Soup and Learned-Soup+ (Wortsman et al., 2022, arXiv 2203.05482, the baseline of
MEHL-Soup): convex mixing coefficients learned on val by gradient descent through the
combination of all K resident ingredients.

  soup = learned_soup(ingredients, model.apply, ds.val, per_layer=True, key=key)
  soup.params                 # pytree like one ingredient
  soup.weights                # (K, G): column g is on the simplex (G = 1, or one per leaf)

  opt = learned_soup_optimizer(model.apply, groups, optax.adamw(0.05, weight_decay=0.0))
  state = opt.init(stacked)                      # logits (K, G) = 0 (the uniform soup), beta = 1
  state, metrics = opt.update(state, stacked, {"x": x, "y": y})

With `A` the `(K, G)` logits and `beta` a trainable logit scale (the reference code's),

  theta_l(A) = sum_k softmax(A[:, g(l)])_k theta_{k,l},
  minimise mean CE(beta * f(x; theta(A)), y) over shuffled val batches (AdamW, lr 0.05, wd 0).

Only `(A, beta)` are differentiated; the stacked ingredients are a `stop_gradient` input, so no
ingredient gradient is ever formed (the reference keeps one per ingredient, about 2 K D floats;
see `papers/mehl_soup.md` section 3, item 4). Memory is still O(K D): all K are arguments of
every step. `beta > 0` does not change predictions, so the soup is `theta(A)` alone.
"""

from __future__ import annotations

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
from jaxlab.training import optim


class LearnedSoupState(NamedTuple):
  """Attributes: logits `(K, G)` (mixing logits A), logit_scale `()` (beta), opt_state."""

  logits: jax.Array
  logit_scale: jax.Array
  opt_state: Any


def mixing_weights(logits: jax.Array) -> jax.Array:
  """Softmax of `(K, G)` logits over the ingredient axis: each column on the simplex."""
  return jax.nn.softmax(logits, axis=0)


def learned_soup_optimizer(apply_fn: ApplyFn, groups: Sequence[int],
                           tx: optax.GradientTransformation) -> CoefficientOptimizer:
  """Learned-Soup(+) coefficients as `(init, update)`.

  Args:
    apply_fn: `apply_fn(params, x) -> logits (N, C)`.
    groups: group of each parameter leaf (`combine.leaf_groups`): one group = Learned-Soup,
      one per leaf = Learned-Soup+.
    tx: optimiser of `(A, beta)`.
  """
  groups = tuple(groups)

  def init(stacked) -> LearnedSoupState:
    k = jax.tree_util.tree_leaves(stacked)[0].shape[0]
    logits = jnp.zeros((k, combine.num_groups(groups)), jnp.float32)
    scale = jnp.ones((), jnp.float32)
    return LearnedSoupState(logits, scale, tx.init((logits, scale)))

  def update(state: LearnedSoupState, stacked, batch):
    stacked = jax.lax.stop_gradient(stacked)

    def loss_fn(coefs):
      logits, scale = coefs
      params = combine.combine(stacked, mixing_weights(logits), groups)
      return soup_loss(apply_fn, params, batch, scale)

    coefs = (state.logits, state.logit_scale)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(coefs)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and the int32 count
      updates, opt_state = tx.update(grads, state.opt_state, coefs)
    logits, scale = optax.apply_updates(coefs, updates)
    return LearnedSoupState(logits, scale, opt_state), {"loss": loss, **aux}

  return CoefficientOptimizer(init, update)


class LearnedSoup(NamedTuple):
  """Attributes: params (the soup), weights `(K, G)`, logit_scale, history (one metrics dict
  per epoch), cost."""

  params: Any
  weights: np.ndarray
  logit_scale: float
  history: list[dict[str, float]]
  cost: SoupCost


_combine = jax.jit(combine.combine, static_argnums=2)


def compile_update(opt: CoefficientOptimizer, like, k: int, batch):
  """Ahead-of-time compile of `opt.update` for K = `k` ingredients shaped like `like` and a
  batch like `batch` (abstract shapes suffice, so the memory at any K is known without
  allocating it). Returns `(compiled, StepMemory, compile_s)`."""
  stacked = stacked_like(like, k)
  state = jax.eval_shape(opt.init, stacked)
  return memory.compile_step(jax.jit(opt.update, donate_argnums=0), state, stacked, batch)


def learned_soup(ingredients: Sequence[Any], apply_fn: ApplyFn, val: Split, *, per_layer: bool,
                 key: jax.Array, learning_rate: float = 0.05, epochs: int = 5,
                 batch_size: int = 256,
                 log_fn: Callable[[int, dict[str, float]], None] | None = None) -> LearnedSoup:
  """Learns Learned-Soup (`per_layer=False`) or Learned-Soup+ coefficients on `val`.

  Args:
    ingredients: K parameter pytrees of one model; all K are loaded and stacked.
    apply_fn: `apply_fn(params, x) -> logits`.
    val: the val split (the only data used).
    per_layer: one coefficient per (ingredient, leaf) instead of per ingredient.
    key: shuffles the val batches (epoch e uses `fold_in(key, e)`).
    learning_rate, epochs, batch_size: AdamW (wd 0, constant lr) on shuffled val batches of
      `batch_size` (the remainder of each epoch is dropped).
    log_fn: `(epoch, metrics)` after every epoch.
  """
  k = len(ingredients)
  if k == 0:
    raise ValueError("learned_soup needs at least one ingredient")
  if not 1 <= batch_size <= len(val):
    raise ValueError(f"batch_size must be in [1, {len(val)}] (the val size), got {batch_size}")
  like = memory.abstract(ingredients[0])
  groups = combine.leaf_groups(like, per_layer)
  tx = optim.make_optimizer("adamw", learning_rate, weight_decay=0.0)
  opt = learned_soup_optimizer(apply_fn, groups, tx)
  step, mem, compile_s = compile_update(opt, like, k, batch_like(val, batch_size))

  t0 = time.perf_counter()
  stacked = combine.stack(ingredients)  # all K resident: the baseline's O(K D) memory
  state = opt.init(stacked)
  history = []
  for epoch in range(epochs):
    state, means = coefficient_epoch(step, state, stacked, val, batch_size, key, epoch)
    history.append({"epoch": epoch + 1, **{f"coef_{n}": v for n, v in means.items()}})
    if log_fn is not None:
      log_fn(epoch + 1, history[-1])
  weights = mixing_weights(state.logits)
  params = jax.block_until_ready(_combine(stacked, weights, groups))
  cost = SoupCost(step_memory=mem, compile_s=compile_s, wall_s=time.perf_counter() - t0,
                  val_passes=float(epochs), ingredient_loads=k)
  return LearnedSoup(params, np.asarray(weights), float(state.logit_scale), history, cost)
