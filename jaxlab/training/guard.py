"""The finite-value guard: a non-finite loss, gradient or parameter stops a run.

  record = guard.init()                                        # all finite so far
  record = guard.update(record, step, loss, grad_norm, params)  # inside the jitted step
  guard.check(record, where="epoch 3")                         # at log time: may raise

The record rides in the training state (`TrainState.nonfinite`), so the compiled step never
syncs with the host: it keeps the first step at which something went non-finite and what it
was; the loop reads it when it logs (once per epoch, where it syncs anyway) and raises
`NonFiniteError`, which the run skeleton turns into a failed workdir and the entry point into
a message naming the step and the flags most likely responsible.

Checks per step: `isfinite(loss)`, `isfinite(||grad||)` (a reduction the step computes for its
metrics anyway), `isfinite(sum of all parameters)` (one pass; NaN and +-inf propagate, and
a finite sum overflows only near the dtype's maximum, which is divergence too), and an
exploding loss: `loss > EXPLOSION * max(loss at step 0, 1)` (finite garbage such as a
cross-entropy of 1e21 after an Adam step with learning rate 1e6).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

QUANTITIES = ("", "loss", "gradient", "parameter", "exploding loss")  # code 0: all is well
EXPLOSION = 1e6


class Record(NamedTuple):
  """The guard's state (a pytree, checkpointed with the training state).

  Attributes:
    first_step: int32 (): the first 0-based step that failed, -1 while none has.
    code: int32 (): what failed there (an index of `QUANTITIES`).
    initial_loss: float32 (): the loss at step 0 (the scale of "exploded").
  """

  first_step: jax.Array
  code: jax.Array
  initial_loss: jax.Array


class NonFiniteError(FloatingPointError):
  """Training produced a non-finite loss, gradient or parameter.

  Attributes:
    step: the 0-based optimiser step whose loss / gradient / update went non-finite.
    quantity: 'loss', 'gradient', 'parameter' or 'exploding loss'.
    where: where it was detected (e.g. 'epoch 3 of 10').
  """

  def __init__(self, step: int, quantity: str, where: str = ""):
    self.step = step
    self.quantity = quantity
    self.where = where
    what = quantity if quantity == "exploding loss" else f"non-finite {quantity}"
    super().__init__(f"{what} at step {step}" + (f" ({where})" if where else ""))


def init() -> Record:
  """The record of a run where everything is finite so far."""
  return Record(jnp.array(-1, jnp.int32), jnp.array(0, jnp.int32), jnp.array(0, jnp.float32))


def tree_sum_is_finite(tree: Any) -> jax.Array:
  """bool (): whether the sum of every element of `tree` is finite."""
  leaves = jax.tree_util.tree_leaves(tree)
  if not leaves:
    return jnp.bool_(True)
  total = sum(jnp.sum(leaf.astype(jnp.result_type(leaf, jnp.float32))) for leaf in leaves)
  return jnp.isfinite(total)


def code(loss: jax.Array, grad_norm: jax.Array, params: Any,
         initial_loss: jax.Array | float = jnp.inf) -> jax.Array:
  """int32 (): 0 if all is well, else 1 (loss), 2 (gradient), 3 (parameter after the
  update) or 4 (loss above `EXPLOSION * max(initial_loss, 1)`), the first that fails in
  that order."""
  loss32 = jnp.asarray(loss, jnp.float32)
  bound = EXPLOSION * jnp.maximum(jnp.asarray(initial_loss, jnp.float32), 1.0)
  return jnp.where(~jnp.isfinite(loss), 1,
                   jnp.where(~jnp.isfinite(grad_norm), 2,
                             jnp.where(~tree_sum_is_finite(params), 3,
                                       jnp.where(loss32 > bound, 4, 0)))).astype(jnp.int32)


def update(record: Record, step: jax.Array, loss: jax.Array, grad_norm: jax.Array,
           params: Any) -> Record:
  """The record after optimiser step `step` (0-based): the first failure is kept."""
  step = jnp.asarray(step, jnp.int32)
  initial = jnp.where(step == 0, jnp.asarray(loss, jnp.float32), record.initial_loss)
  c = code(loss, grad_norm, params, jnp.where(step == 0, jnp.inf, initial))
  failed_now = (record.first_step < 0) & (c > 0)
  return Record(jnp.where(failed_now, step, record.first_step),
                jnp.where(failed_now, c, record.code), initial)


def check(record: Any, where: str = "") -> None:
  """Raises `NonFiniteError` if `record` (host or device) holds a failure; a None record
  (a state without a guard) passes."""
  if record is None:
    return
  step, c = int(jax.device_get(record.first_step)), int(jax.device_get(record.code))
  if step >= 0:
    raise NonFiniteError(step, QUANTITIES[c], where)


def check_values(values: Any, *, steps: Any = None, quantity: str = "loss",
                 where: str = "") -> None:
  """For loops outside the training step (a `lax.scan` of GD steps returning its trajectory):
  raises `NonFiniteError` at the first position of the last axis of `values (..., T)` where
  any entry is non-finite; `steps (T,)` maps positions to step numbers (default: the
  positions)."""
  v = np.asarray(jax.device_get(values))
  bad = ~np.isfinite(v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1))
  if bad.any():
    t = int(np.argmax(bad.any(axis=0)))
    step = t if steps is None else int(np.asarray(steps)[t])
    raise NonFiniteError(step, quantity, where)


__all__ = ["EXPLOSION", "NonFiniteError", "QUANTITIES", "Record", "check", "check_values",
           "code", "init", "tree_sum_is_finite", "update"]
