"""Regularisation weights that react to the regulariser's value: ELLE-A's adaptive lambda as a
small state machine in optax's `(init, update)` shape.

  schedule = lambda_schedule.adaptive(lam_max=5000.0)      # ELLE-A
  state = schedule.init()                                   # state.lam == 0
  loss = ce + state.lam * e_lin                             # the step uses the current lambda
  state = schedule.update(e_lin, state)                     # the new lambda acts next step

ELLE-A (Abad Rocamora et al., ICLR 2024, arXiv 2401.11618; `--lambda_schedule onoff` in the
reference code). With H the history of past values of the regulariser (E_lin):

    if len(H) >= min_history and E_lin > mean(H) + num_std * std(H):  lam <- lam_max
    else:                                                             lam <- decay * lam
    H <- H + [E_lin]

with the population standard deviation (numpy's default, as the reference code). Defaults:
min_history = 3 (the first three values never trigger), num_std = 2, decay = 0.99, the
history of the whole run (CIFAR/SVHN code; kept in O(1) memory with Welford's running mean and
variance) or, with `window = W`, only the last W values (the ImageNet code uses 500).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class LambdaState(NamedTuple):
  """State of a lambda schedule (a pytree; lives in `TrainState.loss_state`).

  Attributes:
    lam: `()` the weight the next training step uses.
    count: `()` int32, number of values seen.
    mean, m2: `()` running mean and sum of squared deviations of all values (Welford).
    window: `(W,)` ring buffer of the last W values, or None for a whole-run history.
    triggered: `()` bool, whether the last update jumped to lam_max.
  """

  lam: jax.Array
  count: jax.Array
  mean: jax.Array
  m2: jax.Array
  window: jax.Array | None
  triggered: jax.Array


class LambdaSchedule(NamedTuple):
  """`init() -> LambdaState`; `update(value, state) -> state` after a step with value `()`."""

  init: Callable[[], LambdaState]
  update: Callable[[jax.Array, LambdaState], LambdaState]


def _init_state(lam: float, window: int) -> LambdaState:
  zero = jnp.zeros(())
  return LambdaState(lam=jnp.asarray(lam, zero.dtype), count=jnp.zeros((), jnp.int32),
                     mean=zero, m2=zero,
                     window=jnp.zeros((window,), zero.dtype) if window else None,
                     triggered=jnp.zeros((), bool))


def history_stats(state: LambdaState) -> tuple[jax.Array, jax.Array, jax.Array]:
  """`(length, mean, std)` of the history the next update compares against (population std)."""
  if state.window is None:
    n = state.count
    var = jnp.where(n > 0, state.m2 / jnp.maximum(n, 1).astype(state.m2.dtype), 0.0)
    return n, state.mean, jnp.sqrt(jnp.maximum(var, 0.0))
  size = state.window.shape[0]
  n = jnp.minimum(state.count, size)
  valid = jnp.arange(size, dtype=n.dtype) < n
  denom = jnp.maximum(n, 1).astype(state.window.dtype)
  mean = jnp.sum(jnp.where(valid, state.window, 0.0)) / denom
  var = jnp.sum(jnp.where(valid, jnp.square(state.window - mean), 0.0)) / denom
  return n, mean, jnp.sqrt(var)


def _record(value: jax.Array, state: LambdaState) -> LambdaState:
  """Appends `value` to the history."""
  value = jnp.asarray(value, state.mean.dtype)
  count = state.count + 1
  delta = value - state.mean
  mean = state.mean + delta / count.astype(value.dtype)
  m2 = state.m2 + delta * (value - mean)
  window = state.window
  if window is not None:
    window = window.at[state.count % window.shape[0]].set(value)
  return state._replace(count=count, mean=mean, m2=m2, window=window)


def constant(lam: float) -> LambdaSchedule:
  """A fixed weight (plain ELLE, GradAlign); the history is still recorded (for traces)."""

  def update(value, state):
    return _record(value, state)._replace(triggered=jnp.zeros((), bool))

  return LambdaSchedule(lambda: _init_state(lam, 0), update)


def adaptive(lam_max: float, *, decay: float = 0.99, num_std: float = 2.0,
             min_history: int = 3, window: int = 0, lam_init: float = 0.0) -> LambdaSchedule:
  """ELLE-A's schedule (module docstring).

  Args:
    lam_max: the weight after a trigger.
    decay: multiplies the weight at every step without a trigger.
    num_std: trigger when the value exceeds the history's mean by this many std.
    min_history: values needed in the history before a trigger is possible.
    window: compare against the last `window` values only (0 = the whole run).
    lam_init: the weight of the first step (0 in the CIFAR code; lam_max on ImageNet at 16/255).
  """
  if lam_max < 0 or not 0 <= decay <= 1 or min_history < 1 or window < 0:
    raise ValueError(f"adaptive lambda needs lam_max >= 0, 0 <= decay <= 1, min_history >= 1 "
                     f"and window >= 0; got {lam_max}, {decay}, {min_history}, {window}")

  def update(value, state):
    n, mean, std = history_stats(state)
    triggered = (n >= min_history) & (value > mean + num_std * std)
    lam = jnp.where(triggered, jnp.asarray(lam_max, state.lam.dtype), decay * state.lam)
    return _record(value, state)._replace(lam=lam, triggered=triggered)

  return LambdaSchedule(lambda: _init_state(lam_init, window), update)
