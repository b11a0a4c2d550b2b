"""Optimisers and learning-rate schedules by name (optax), for configs and flags.

  optim = OptimConfig(optimizer="sgd", learning_rate=0.1, schedule="triangular")
  tx = from_config(optim, total_steps=1000)       # an optax GradientTransformation
"""

from __future__ import annotations

import dataclasses

import optax

from jaxlab.experiment.config import require, require_choice

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "triangular")


def make_schedule(name: str, learning_rate: float, total_steps: int,
                  warmup_fraction: float = 0.1) -> optax.Schedule:
  """Learning-rate schedule over `total_steps` optimiser steps.

  'constant'; 'cosine' (to 0); 'warmup_cosine' (linear warm-up over `warmup_fraction` of the
  steps, then cosine to 0); 'triangular' (one cycle: linear 0 -> lr over the first half, then
  lr -> 0, the cyclic schedule of fast adversarial training).
  """
  if total_steps < 1:
    raise ValueError(f"total_steps must be >= 1, got {total_steps}")
  if name == "constant":
    return optax.constant_schedule(learning_rate)
  if name == "cosine":
    return optax.cosine_decay_schedule(learning_rate, total_steps)
  if name == "warmup_cosine":
    warmup = max(1, int(warmup_fraction * total_steps))
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup, max(total_steps, warmup))
  if name == "triangular":
    half = max(1, total_steps // 2)
    return optax.join_schedules(
        [optax.linear_schedule(0.0, learning_rate, half),
         optax.linear_schedule(learning_rate, 0.0, max(1, total_steps - half))], [half])
  raise ValueError(f"unknown schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}")


def make_optimizer(name: str, learning_rate: float | optax.Schedule, *, weight_decay: float = 0.0,
                   momentum: float = 0.9, grad_clip_norm: float | None = None
                   ) -> optax.GradientTransformation:
  """'sgd' (heavy-ball momentum, L2 weight decay added to the gradient as in PyTorch),
  'adam' (L2 weight decay added to the gradient) or 'adamw' (decoupled weight decay);
  optionally preceded by clipping to global norm `grad_clip_norm`."""
  if name not in OPTIMIZERS:
    raise ValueError(f"unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
  parts = []
  if grad_clip_norm is not None:
    parts.append(optax.clip_by_global_norm(grad_clip_norm))
  if name == "adamw":
    parts.append(optax.adamw(learning_rate, weight_decay=weight_decay))
  else:
    if weight_decay:
      parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(optax.sgd(learning_rate, momentum=momentum or None) if name == "sgd"
                 else optax.adam(learning_rate))
  return optax.chain(*parts)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """The optimiser part of an experiment's config (`from_config` builds it).

  Attributes:
    optimizer: sgd, adam or adamw.
    learning_rate: peak learning rate.
    schedule: constant, cosine, warmup_cosine or triangular.
    weight_decay: weight decay (L2 for sgd/adam, decoupled for adamw).
    momentum: sgd momentum.
  """

  optimizer: str = "adam"
  learning_rate: float = 1e-3
  schedule: str = "cosine"
  weight_decay: float = 0.0
  momentum: float = 0.9

  def __post_init__(self):
    require_choice(self.optimizer, "optimizer", OPTIMIZERS)
    require_choice(self.schedule, "schedule", SCHEDULES)
    require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
    require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
    require(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")


def from_config(config: OptimConfig, total_steps: int) -> optax.GradientTransformation:
  """The optimiser of `config` with its schedule over `total_steps` steps."""
  schedule = make_schedule(config.schedule, config.learning_rate, total_steps)
  return make_optimizer(config.optimizer, schedule, weight_decay=config.weight_decay,
                        momentum=config.momentum)
