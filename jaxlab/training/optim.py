"""Optimisers and learning-rate schedules by name (optax), for configs and flags.

  optim = OptimConfig(optimizer="sgd", learning_rate=0.1, schedule="triangular")
  tx = from_config(optim, total_steps=1000)       # an optax GradientTransformation
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import optax

from jaxlab.experiment.config import require, require_choice

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine", "triangular", "onecycle")


def make_schedule(name: str, learning_rate: float, total_steps: int,
                  warmup_fraction: float = 0.1) -> optax.Schedule:
  """Learning-rate schedule over `total_steps` optimiser steps.

  'constant'; 'cosine' (to 0); 'warmup_cosine' (linear warm-up over `warmup_fraction` of the
  steps, then cosine to 0); 'triangular' (one cycle: linear 0 -> lr over the first half, then
  lr -> 0, the cyclic schedule of fast adversarial training); 'onecycle' (PyTorch's
  OneCycleLR with its defaults, `onecycle_schedule`: cosine from lr / 25 up to lr over the
  first 30% of the steps, then cosine down to lr / 25e4; Smith & Topin, arXiv 1708.07120).
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
  if name == "onecycle":
    return onecycle_schedule(learning_rate, total_steps)
  raise ValueError(f"unknown schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}")


def onecycle_schedule(learning_rate: float, total_steps: int, pct_start: float = 0.3,
                      div_factor: float = 25.0, final_div_factor: float = 1e4) -> optax.Schedule:
  """PyTorch's `OneCycleLR` (anneal 'cos', two phases; Smith & Topin, arXiv 1708.07120), step
  for step: the rate rises from lr / div_factor to lr over steps [0, pct_start * total_steps
  - 1], then falls to lr / div_factor / final_div_factor at step total_steps - 1 (the last step
  taken), both halves cosine: lr(t) = end + (start - end) (1 + cos(pi f)) / 2, f the fraction
  of the phase done; constant after the last step. float32 arithmetic (safe under strict dtype
  promotion).

  Not `optax.cosine_onecycle_schedule`: optax puts the peak at int(pct_start * total_steps)
  and the floor at total_steps, one step later than PyTorch (whose last step runs at the
  floor), so it differs from the reference at every step.
  """
  initial = learning_rate / div_factor
  final = initial / final_div_factor
  peak = pct_start * total_steps - 1.0       # PyTorch's float end of the first phase
  last = total_steps - 1.0

  def anneal(start, end, fraction):
    # (1 + cos(pi f)) / 2 = cos(pi f / 2)^2, without cancellation near the floor.
    return end + (start - end) * jnp.cos(0.5 * jnp.pi * jnp.clip(fraction, 0.0, 1.0)) ** 2

  def schedule(step):
    t = jnp.asarray(step).astype(jnp.float32)
    rise = anneal(initial, learning_rate, t / peak if peak > 0 else jnp.ones_like(t))
    return jnp.where(t <= peak, rise, anneal(learning_rate, final, (t - peak) / (last - peak)))

  return schedule


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
    schedule: constant, cosine, warmup_cosine, triangular or onecycle.
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
