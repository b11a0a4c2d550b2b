"""What the soups share: the optax-shaped coefficient optimiser, the soup loss, the cost record.

  opt = learned.learned_soup_optimizer(model.apply, groups, optax.adamw(0.05))
  state = opt.init(stacked)                        # like optax: init, then update per batch
  state, metrics = opt.update(state, stacked, {"x": x, "y": y})
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.soups.memory import StepMemory
from jaxlab.training import guard, loop
from jaxlab.training.steps import cross_entropy

ApplyFn = Callable[[Any, jax.Array], jax.Array]


class CoefficientOptimizer(NamedTuple):
  """A soup's coefficient learner as a pair of pure functions, in optax's (init, update) shape.

  Attributes:
    init: `init(ingredients) -> state`; `ingredients` is what the soup keeps resident (the
      stacked K ingredients for Learned-Soup, one block for MEHL-Soup).
    update: `update(state, ingredients, batch) -> (state, metrics)`: one step on one val
      batch `{"x": (N, ...), "y": (N,)}`; `metrics` holds scalar 'loss' and 'accuracy'.
  """

  init: Callable[..., Any]
  update: Callable[..., tuple[Any, dict[str, jax.Array]]]


def batch_like(split, batch_size: int) -> dict[str, jax.ShapeDtypeStruct]:
  """Abstract `{"x", "y"}` batch of `batch_size` rows of `split` (for ahead-of-time compiles)."""
  return {"x": jax.ShapeDtypeStruct((batch_size,) + split.x.shape[1:], split.x.dtype),
          "y": jax.ShapeDtypeStruct((batch_size,), split.y.dtype)}


def stacked_like(like, k: int):
  """Abstract pytree of `k` stacked copies of `like`: leaves `(k, ...)`."""
  return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct((k,) + x.shape, x.dtype), like)


def coefficient_epoch(step, state, ingredients, val, batch_size: int, key: jax.Array,
                      epoch: int) -> tuple[Any, dict[str, float]]:
  """One pass of a coefficient optimiser's `step(state, ingredients, batch)` over val batches
  shuffled by `fold_in(key, epoch)` (the remainder is dropped); returns the state and the mean
  of each metric.

  The shared finite-value guard (`jaxlab.training.guard`) runs once per pass, where the loop
  syncs anyway: a non-finite batch loss, a loss above `guard.EXPLOSION * max(first loss of
  the pass, 1)`, or a non-finite coefficient state raises `guard.NonFiniteError` naming the
  step (counted from the first pass), so a diverged fit stops instead of returning a NaN soup.
  """
  order = loop.epoch_permutation(key, epoch, len(val))
  metrics = []
  for idx in loop.batch_indices(len(val), batch_size, order):
    state, m = step(state, ingredients, {"x": val.x[idx], "y": val.y[idx]})
    metrics.append(m)
  stacked = jax.device_get(jax.tree_util.tree_map(lambda *v: jnp.stack(v), *metrics))
  _check_finite(stacked["loss"], state, epoch)
  return state, {name: float(np.mean(v)) for name, v in stacked.items()}


def _check_finite(losses: np.ndarray, state: Any, epoch: int) -> None:
  """Raises `guard.NonFiniteError` if a loss of the pass (`(n,)`) is non-finite or exploded,
  or if the coefficient state after it is non-finite."""
  n, where = len(losses), f"soup coefficients, val pass {epoch + 1}"
  steps = epoch * n + np.arange(n)
  guard.check_values(losses, steps=steps, where=where)
  exploded = np.asarray(losses) > guard.EXPLOSION * max(float(losses[0]), 1.0)
  if exploded.any():
    raise guard.NonFiniteError(int(steps[np.argmax(exploded)]), "exploding loss", where)
  floats = [x for x in jax.tree_util.tree_leaves(state) if jnp.issubdtype(x.dtype, jnp.inexact)]
  if not bool(guard.tree_sum_is_finite(floats)):
    raise guard.NonFiniteError(int(steps[-1]), "parameter", where)


def soup_loss(apply_fn: ApplyFn, params, batch, logit_scale=1.0
              ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Mean cross-entropy of `logit_scale * apply_fn(params, batch['x'])` and its accuracy."""
  logits = apply_fn(params, batch["x"])
  loss = jnp.mean(cross_entropy(logit_scale * logits, batch["y"]))
  predicted = jnp.argmax(logits, -1).astype(batch["y"].dtype)  # int64 under x64
  return loss, {"accuracy": jnp.mean(predicted == batch["y"])}


@dataclasses.dataclass
class SoupCost:
  """Cost of building one soup.

  Attributes:
    step_memory: XLA memory of the method's largest jitted step (the coefficient step for the
      learned soups and MEHL; the accumulation or val-evaluation step for the others).
    resident_bytes: ingredient or soup bytes the method keeps resident outside that step's
      arguments (e.g. the greedy soup while a candidate is evaluated).
    compile_s: seconds spent compiling (excluded from `wall_s`).
    wall_s: construction wall-clock, compile excluded, ingredient loading included.
    val_passes: passes over the val set.
    ingredient_loads: ingredient checkpoints read.
  """

  step_memory: StepMemory = dataclasses.field(default_factory=StepMemory)
  resident_bytes: int = 0
  compile_s: float = 0.0
  wall_s: float = 0.0
  val_passes: float = 0.0
  ingredient_loads: int = 0

  @property
  def peak_bytes(self) -> int:
    """Step bytes plus resident bytes: the method's peak device memory by this accounting."""
    return self.step_memory.total_bytes + self.resident_bytes

  def as_dict(self) -> dict[str, Any]:
    return dict(peak_bytes=self.peak_bytes, step_memory=self.step_memory.as_dict(),
                resident_bytes=self.resident_bytes, compile_s=self.compile_s,
                wall_s=self.wall_s, val_passes=self.val_passes,
                ingredient_loads=self.ingredient_loads)
