"""P2-D of the shallow-Transformer study (arXiv 2311.01575): the smallest width that reaches a
training loss within a step budget, against the number of sequences N.

  rows = width_needed_sweep(config, key, sweep_dir)   # {"n", "width_needed", "steps", "tried"}

LeCun init, tau0 = d_m^-1/2, gamma = 1/lambda_max(K0) per seed; the seeds are vmapped.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import sweep
from jaxlab.kernels import spectral
from jaxlab.papers.shallow_transformer import transformer
from jaxlab.papers.shallow_transformer.config import Config
from jaxlab.papers.shallow_transformer.data import sequences


def steps_to_threshold(params, x, y, scale, learning_rate, threshold, *, max_steps: int):
  """GD until loss < threshold or `max_steps`; returns (steps taken, final loss)."""

  def cond(state):
    step, _, value = state
    return (step < max_steps) & (value >= threshold)

  def body(state):
    step, params, _ = state
    params, _ = transformer.gd_step(params, x, y, scale, learning_rate)
    return step + 1, params, transformer.loss(params, x, y, scale)

  step, _, value = jax.lax.while_loop(
      cond, body, (0, params, transformer.loss(params, x, y, scale)))
  return step, value


def seed_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The data and the weight key of one seed: `fold_in(key, 0)` and `fold_in(key, 1)` (two
  purposes, two distinct keys; the weight key is the same at every width, a paired design)."""
  return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


@functools.partial(jax.jit, static_argnames=("width", "dim", "max_steps"))
def width_trial(keys, x, y, *, width: int, dim: int, threshold, max_steps: int):
  """Per seed of `keys (S,)`, `x (S, N, d_s, d)`, `y (S, N)`: LeCun weights (from
  `seed_keys`), tau0 = d_m^-1/2, gamma = 1/lambda_max(K0), GD until loss < threshold;
  returns (steps, loss), each `(S,)`."""
  scale = transformer.scaling("lecun", "inv_sqrt", dim=dim, width=width)
  params = jax.vmap(lambda k: transformer.init(seed_keys(k)[1], dim=dim, width=width,
                                               scheme="lecun", dtype=jnp.float64))(keys)
  # lax.map: one eigendecomposition at a time (jaxlib 0.10's batched CPU LAPACK kernels can
  # deadlock when two of them run at once on a 2-thread pool).
  gamma = jax.lax.map(lambda a: 1.0 / spectral.lambda_max(transformer.ntk(a[0], a[1], scale)),
                      (params, x))
  run = functools.partial(steps_to_threshold, scale=scale, threshold=threshold,
                          max_steps=max_steps)
  return jax.vmap(lambda p, x, y, g: run(p, x, y, learning_rate=g))(params, x, y, gamma)


def width_needed_sweep(config: Config, key, sweep_dir: str) -> list[dict[str, Any]]:
  """Rows `{"n", "width_needed", "steps", "tried"}`: the smallest width of
  `width_needed.widths` at which at least half of `width_needed.num_seeds` seeds (fresh data
  and weights) reach the loss threshold within `width_needed.num_steps` steps (None if none;
  `steps` is their median step count). `tried` lists every width tried with the per-seed
  steps and final losses (None where GD diverged to a non-finite loss).
  The seeds of N are `split(fold_in(key, N))`: a point's draws depend on N only, not on which
  other sizes the grid holds."""
  cfg = config.width_needed

  def point_fn(point):
    n = point["n"]
    keys = jax.random.split(jax.random.fold_in(key, n), cfg.num_seeds)
    data = jax.vmap(lambda k: sequences(seed_keys(k)[0], n, config.seq_len, config.dim))(keys)
    tried = []
    for width in cfg.widths:
      steps, value = width_trial(keys, *data, width=width, dim=config.dim,
                                 threshold=cfg.threshold, max_steps=cfg.num_steps)
      steps, value = np.asarray(steps), np.asarray(value)
      reached = value < cfg.threshold
      tried.append({"width": width, "steps": steps,
                    "loss": [float(v) if np.isfinite(v) else None for v in value],
                    "fraction_reached": float(reached.mean())})
      if reached.mean() >= 0.5:
        return {"width_needed": width, "steps": float(np.median(steps[reached])),
                "tried": tried}
    return {"width_needed": None, "steps": None, "tried": tried}

  records = sweep.run_sweep(point_fn, [{"n": n} for n in cfg.sizes], sweep_dir)
  return [{**r["point"], **r["result"]} for r in records]
