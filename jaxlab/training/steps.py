"""Pure training and evaluation steps.

  state = TrainState.create(params, tx)
  loss_fn = classification_loss(model.apply)
  train_step = make_train_step(loss_fn, tx)           # jitted
  state, metrics = train_step(state, {"x": x, "y": y}, key)
  eval_step = make_eval_step(model.apply)             # jitted
  sums = eval_step(state.params, x, y, mask)          # {"loss": ., "correct": ., "count": .}

A loss function has the signature `loss_fn(params, batch, key) -> (loss, aux)` where `aux` is a
dict of scalar metrics; adversarial training and other methods plug in their own. The step key
is `fold_in(key, state.step)`, so no key is ever reused across steps.

A loss with state that changes every step (an adaptive regularisation weight, a running
statistic) is *stateful*: `loss_fn(params, batch, key, loss_state) -> (loss, (aux,
new_loss_state))`, built with `make_train_step(loss_fn, tx, stateful=True)`; the state rides in
`TrainState.loss_state` (checkpointed with the rest) and is never differentiated.

  state = TrainState.create(params, tx, loss_state=schedule.init())
  train_step = make_train_step(stateful_loss_fn, tx, stateful=True)
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlab.training import guard

Batch = dict[str, jax.Array]
LossFn = Callable[[Any, Batch, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


class TrainState(NamedTuple):
  """Everything that changes during training; a pytree (checkpointable as is).

  `loss_state` is the state of a stateful loss (see the module docstring), None otherwise.
  `nonfinite` is the finite-value guard's record (`jaxlab.training.guard.Record`: the first
  step whose loss, gradient or updated parameters were non-finite, or whose loss exploded);
  None switches the guard off.
  """

  step: jax.Array
  params: Any
  opt_state: Any
  loss_state: Any = None
  nonfinite: Any = None

  @classmethod
  def create(cls, params, tx: optax.GradientTransformation, loss_state: Any = None
             ) -> "TrainState":
    return cls(jnp.zeros((), jnp.int32), params, tx.init(params), loss_state, guard.init())


def cross_entropy(logits: jax.Array, labels: jax.Array, label_smoothing: float | jax.Array = 0.0
                  ) -> jax.Array:
  """Per-example softmax cross-entropy `(N,)` of `logits (N, C)` against int labels `(N,)`.

  `label_smoothing` may be a traced scalar (one compiled step for many values).
  """
  targets = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
  if not isinstance(label_smoothing, (int, float)) or label_smoothing:
    targets = optax.smooth_labels(targets, jnp.asarray(label_smoothing, logits.dtype))
  return optax.softmax_cross_entropy(logits, targets)


def classification_loss(apply_fn: Callable[..., jax.Array], label_smoothing: float = 0.0
                        ) -> LossFn:
  """Mean cross-entropy of `apply_fn(params, batch['x'])` against `batch['y']`."""

  def loss_fn(params, batch: Batch, key: jax.Array):
    del key  # deterministic models
    logits = apply_fn(params, batch["x"])
    loss = jnp.mean(cross_entropy(logits, batch["y"], label_smoothing))
    correct = jnp.argmax(logits, -1).astype(batch["y"].dtype) == batch["y"]
    return loss, {"accuracy": jnp.mean(correct)}

  return loss_fn


def make_train_step(loss_fn: LossFn, tx: optax.GradientTransformation, *, jit: bool = True,
                    donate: bool = False, stateful: bool = False):
  """`train_step(state, batch, key) -> (state, metrics)`: one gradient step, one optimiser update.

  `metrics` holds 'loss', 'grad_norm' and the loss function's aux metrics (scalars, on device).
  With `donate=True` the input state's buffers are reused for the output (less memory on
  accelerators); the state passed in, and any array it shares, is then invalid.
  With `stateful=True`, `loss_fn(params, batch, key, state.loss_state)` returns
  `(loss, (aux, new_loss_state))` and the new state is stored in the returned `TrainState`
  (gradients do not flow into it).
  """

  def train_step(state: TrainState, batch: Batch, key: jax.Array):
    step_key = jax.random.fold_in(key, state.step)
    loss_state = state.loss_state
    if stateful:
      (loss, (aux, loss_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          state.params, batch, step_key, loss_state)
      loss_state = jax.lax.stop_gradient(loss_state)
    else:
      (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch,
                                                                     step_key)
    # optax mixes Python floats with the int32 step count (bias corrections, schedules), which
    # strict dtype promotion refuses: the update runs under standard promotion.
    with jax.numpy_dtype_promotion("standard"):
      updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    grad_norm = optax.tree.norm(grads)
    metrics = dict(aux, loss=loss, grad_norm=grad_norm)
    nonfinite = state.nonfinite
    if nonfinite is not None:  # no host sync: the loop reads the record when it logs
      nonfinite = guard.update(nonfinite, state.step, loss, grad_norm, params)
    return TrainState(state.step + 1, params, opt_state, loss_state, nonfinite), metrics

  if not jit:
    return train_step
  return jax.jit(train_step, donate_argnums=0 if donate else ())


def make_eval_step(apply_fn: Callable[..., jax.Array], *, jit: bool = True):
  """`eval_step(params, x, y, mask) -> {'loss', 'correct', 'count'}` summed over rows with
  mask 1 (padding rows have mask 0), so a padded last batch does not recompile."""

  def eval_step(params, x: jax.Array, y: jax.Array, mask: jax.Array):
    logits = apply_fn(params, x)
    mask = mask.astype(logits.dtype)
    return {"loss": jnp.sum(cross_entropy(logits, y) * mask),
            "correct": jnp.sum((jnp.argmax(logits, -1).astype(y.dtype) == y).astype(mask.dtype)
                               * mask),
            "count": jnp.sum(mask)}

  return jax.jit(eval_step) if jit else eval_step
