"""Models with non-trainable state (BatchNorm running statistics): split Flax variables into
trainable parameters and the rest, and run a model in train mode.

  variables = model.init(key, x)                          # {"params", "batch_stats"}
  init_fn = compiled_init(model); variables = init_fn(key, x)   # the same, to a few ulps
  params, model_state = split_variables(variables)        # trainable / everything else
  logits = model.apply({"params": params, **model_state}, x)          # eval mode
  train_apply_fn = train_apply(model)
  logits, model_state = train_apply_fn({"params": params, **model_state}, x)  # train mode

`compiled_init(model)` is `model.init` as one program compiled for a cheap compile (an
eager init of a large Flax model compiles every initialiser shape and layer op separately).

`train_apply(model)` is the `train_apply_fn` of `jaxlab.adversarial.training` (the loss is
taken in train mode and its batch statistics replace the running ones); the model's
`__call__` must take `train: bool` as a keyword.
"""

from __future__ import annotations

from typing import Any, Callable

import jax

Variables = dict[str, Any]


def split_variables(variables: Variables) -> tuple[Any, Variables]:
  """`(params, model_state)`: the "params" collection and every other collection."""
  return variables["params"], {k: v for k, v in variables.items() if k != "params"}


def has_state(variables: Variables) -> bool:
  """Whether `variables` hold a collection besides "params" (e.g. BatchNorm statistics)."""
  return any(k != "params" for k in variables)


def train_apply(model) -> Callable[[Variables, jax.Array], tuple[jax.Array, Variables]]:
  """`(variables, x) -> (logits, model_state)`: `model` in train mode (`train=True`), with
  every collection but "params" mutable; `model_state` holds the updated collections."""

  def fn(variables: Variables, x: jax.Array) -> tuple[jax.Array, Variables]:
    _, state = split_variables(variables)
    logits, updates = model.apply(variables, x, train=True, mutable=list(state))
    return logits, {**state, **updates}

  return fn


# XLA CPU/GPU backend optimisation off: an init runs once per model, so its compile time is
# what counts (for the 23k-parameter NB201 network on CPU: 5.5 s of CPU to compile and run, vs
# 28 s for the eager init's ~120 one-op programs and 38 s compiled at the default level).
CHEAP_COMPILE = {"xla_backend_optimization_level": 0}


def compiled_init(model) -> Callable[..., Variables]:
  """`model.init` (same arguments; the same random bits, so the same variables up to the
  rounding of their scaling, a few ulps, which XLA may fuse differently) jitted with
  `CHEAP_COMPILE`:
  one program per input shape instead of one per initialiser shape and layer op. Keep the
  returned function to reuse its compilation (each call of `compiled_init` compiles anew)."""
  return jax.jit(model.init, compiler_options=CHEAP_COMPILE)
