"""Models with non-trainable state (BatchNorm running statistics): split Flax variables into
trainable parameters and the rest, and run a model in train mode.

  variables = model.init(key, x)                          # {"params", "batch_stats"}
  params, model_state = split_variables(variables)        # trainable / everything else
  logits = model.apply({"params": params, **model_state}, x)          # eval mode
  train_apply_fn = train_apply(model)
  logits, model_state = train_apply_fn({"params": params, **model_state}, x)  # train mode

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
