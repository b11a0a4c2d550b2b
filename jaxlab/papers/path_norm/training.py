"""Full-batch training of many small two-layer ReLU networks in one compiled step: runs (seeds x
weight decays x radii) are `vmap`ped, the steps are a `lax.scan`.

  fit = make_fit(optim, num_steps=2500)                 # one compiled function per shape
  out = fit(params0, x, y, weight_decay, radius)        # leading axis R: one run per row
  out.params, out.objective                             # batched Params, (R, num_logs)

Each run minimises, by the optimiser of `optim` (e.g. Adam with a cosine schedule) followed by
the feasibility rescaling onto ||theta||_P <= radius after every step (`jaxlab.models.
path_norm.path_norm_constraint`; radius = inf: unconstrained),

  J(theta) = (1/2n) sum_i (f_theta(x_i) - y_i)^2 + lambda * penalty(theta),

where penalty = (1/2) sum_k (a_k^2 + ||w_k||_q^2) is weight decay for the l2 path norm, so J
has the minimisers of (1/2n) sum (f - y)^2 + lambda ||theta||_P (Liu, Dadi & Cevher,
arXiv:2404.18769; spec section 2.1).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.models import path_norm as path_norm_lib
from jaxlab.models import two_layer
from jaxlab.training import guard
from jaxlab.training import optim as optim_lib


class Fit(NamedTuple):
  """Trained runs: `params` (batched, leading axis R), and per log point `objective`,
  `train_mse` (mean (f - y)^2) and `path_norm`, each `(R, num_logs)`."""

  params: two_layer.Params
  objective: jax.Array
  train_mse: jax.Array
  path_norm: jax.Array


def objective(params: two_layer.Params, x: jax.Array, y: jax.Array, weight_decay: jax.Array,
              variant: str = "l2") -> jax.Array:
  """J(theta) = (1/2n) sum (f(x_i) - y_i)^2 + lambda penalty(theta) (a scalar)."""
  residual = two_layer.apply(params, x) - y
  return 0.5 * jnp.mean(residual**2) + weight_decay * path_norm_lib.penalty(params, variant)


def make_fit(optim: optim_lib.OptimConfig, num_steps: int, *, variant: str = "l2",
             num_logs: int = 20) -> Callable[..., Fit]:
  """A jitted `fit(params0, x, y, weight_decay, radius) -> Fit` over runs.

  Args of `fit` (leading axis R on all): `params0` batched `Params` `(R, m, D)`, `(R, m)`;
  `x (R, n, D)`; `y (R, n)`; `weight_decay (R,)` (lambda >= 0); `radius (R,)` (R > 0 or inf).
  The schedule of `optim` runs over `num_steps`; `optim.weight_decay` must be 0 (lambda is
  per run). The objective is logged every `num_steps // num_logs` steps.
  """
  if optim.weight_decay != 0:
    raise ValueError("optim.weight_decay: must be 0 here; the weight decay is set per run")
  if num_steps < num_logs or num_steps % num_logs:
    raise ValueError(f"num_steps: must be a multiple of num_logs={num_logs}, got {num_steps}")
  path_norm_lib.check_variant(variant)
  schedule = optim_lib.make_schedule(optim.schedule, optim.learning_rate, num_steps)
  inner = optim_lib.make_optimizer(optim.optimizer, schedule, momentum=optim.momentum)
  chunk = num_steps // num_logs

  def fit_one(params, x, y, weight_decay, radius):
    tx = path_norm_lib.path_norm_constraint(inner, radius, variant)
    loss_and_grad = jax.value_and_grad(objective)

    def step(carry, _):
      params, state = carry
      _, grads = loss_and_grad(params, x, y, weight_decay, variant)
      updates, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, updates), state), None

    def logged_chunk(carry, _):
      carry, _ = jax.lax.scan(step, carry, None, length=chunk)
      p = carry[0]
      mse = jnp.mean((two_layer.apply(p, x) - y) ** 2)
      return carry, (objective(p, x, y, weight_decay, variant), mse,
                     path_norm_lib.path_norm(p, variant))

    params = path_norm_lib.rescale_to_ball(params, radius, variant)    # start feasible
    (params, _), logs = jax.lax.scan(logged_chunk, (params, tx.init(params)), None,
                                     length=num_logs)
    return Fit(params, *logs)

  return jax.jit(jax.vmap(fit_one))


def check_finite(fit: Fit, num_steps: int, where: str) -> None:
  """Raises the guard's `NonFiniteError` (naming the step) if a run of `fit` logged a
  non-finite objective or training MSE: the point is not recorded, the run stops, the workdir
  is marked failed (`guard.check_values` over the log points, step = chunk end)."""
  num_logs = fit.objective.shape[-1]
  steps = np.arange(1, num_logs + 1) * (num_steps // num_logs)
  guard.check_values(fit.objective, steps=steps, quantity="loss", where=where)
  guard.check_values(fit.train_mse, steps=steps, quantity="loss", where=where)


def excess_risk(params: two_layer.Params, x_test: jax.Array, f_test: jax.Array) -> jax.Array:
  """E (f_theta - f*)^2 on the test points `x_test (m, D)` with the noise-free teacher values
  `f_test (m,)`, for batched `params`: `(R,)` (runs one after another: memory m x width)."""
  return jax.lax.map(
      lambda p: jnp.mean((two_layer.apply(two_layer.Params(*p), x_test) - f_test) ** 2), params)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def init_many(keys: jax.Array, input_dim: int, width: int, scale: float) -> two_layer.Params:
  """`two_layer.init` for every key of `keys (R,)`: batched `Params` (one compiled call)."""
  return jax.vmap(lambda k: two_layer.init(k, input_dim, width, scale=scale))(keys)


def stack(trees) -> Any:
  """Stacks a list of pytrees (e.g. `Params`) along a new leading axis."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def norms(params: two_layer.Params, variant: str = "l2") -> dict[str, np.ndarray]:
  """Per run of batched `params`: `path_norm`, `penalty` ((1/2) sum a^2 + ||w||_q^2),
  `product_norm` (||a||_2 sum ||w_k||_2) and `imbalance`, max_k | |a_k| - ||w_k||_q | over
  the neurons (0 at every stationary point of the weight-decay objective, spec E3.5)."""

  def one(p):
    w, a = two_layer.weights(p)
    gap = jnp.abs(jnp.abs(a) - path_norm_lib.neuron_norms(w, variant))
    return (path_norm_lib.path_norm(p, variant), path_norm_lib.penalty(p, variant),
            path_norm_lib.product_norm(p), jnp.max(gap))

  values = jax.vmap(one)(params)
  return {k: np.asarray(v) for k, v in zip(("path_norm", "penalty", "product_norm",
                                              "imbalance"), values)}


__all__ = ["Fit", "check_finite", "excess_risk", "init_many", "make_fit", "norms", "objective", "stack"]
