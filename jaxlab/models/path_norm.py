"""Path norm of two-layer ReLU networks, its rescaling symmetry, the weight-decay equivalence
and the feasibility rescaling onto the ball ||theta||_P <= R as an optax transformation.

  from jaxlab.models import path_norm, two_layer
  params = two_layer.init(key, input_dim=6, width=256)
  path_norm.path_norm(params)                          # sum_k |a_k| ||w_k||_2
  path_norm.path_norm(params, "l1")                    # sum_k |a_k| ||w_k||_1
  b = path_norm.balance(params)                        # |a_k| = ||w_k||, same f, same norm
  path_norm.penalty(b) == path_norm.path_norm(b)       # weight decay = path norm when balanced
  tx = path_norm.path_norm_constraint(optax.adam(1e-2), radius=2.0)
  # every step of tx leaves ||theta||_P <= 2 (a_k multiplied by R / ||theta||_P when above)

Definitions (Liu, Dadi & Cevher, arXiv:2404.18769, section 2; E, Ma & Wu 2019 for the l1
variant), for f(x) = sum_k a_k relu(w_k . x~) (`jaxlab.models.two_layer`):
  path norm         ||theta||_P = sum_k |a_k| ||w_k||_q,   q = 2 ("l2") or 1 ("l1"), where w_k
                    includes the bias coordinate of x~;
  rescaling         (a_k, w_k) -> (a_k / c_k, c_k w_k), c_k > 0, leaves f and ||theta||_P as
                    they are;
  penalty           (1/2) sum_k (a_k^2 + ||w_k||_q^2) >= ||theta||_P (AM-GM), with equality iff
                    every neuron is balanced, |a_k| = ||w_k||_q; for q = 2 this is the usual
                    weight decay (1/2)||theta||_2^2, so the problems
                    min L(theta) + lambda (1/2)||theta||_2^2 and min L(theta) + lambda
                    ||theta||_P have the same minimal values and f's, and every stationary
                    point of the first is balanced;
  constraint        after each optimiser step, if ||theta||_P > R, every a_k is multiplied by
                    R / ||theta||_P: a feasibility rescaling (not the Euclidean projection) that
                    keeps w, the activation patterns and the sign of f.

Keep one variant for constraint, bound and report: the Rademacher bounds (`rademacher_bound`)
differ between them (2R / sqrt(n) for l2 with ||x~||_2 <= 1, 2R sqrt(2 log(2D) / n) for l1
with ||x~||_inf <= 1).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlab.models import two_layer

VARIANTS = ("l2", "l1")


def check_variant(variant: str) -> None:
  """Raises ValueError naming `variant` unless it is 'l2' or 'l1'."""
  if variant not in VARIANTS:
    raise ValueError(f"variant: unknown path-norm variant {variant!r}; valid: "
                     f"{', '.join(VARIANTS)}")


def check_radius(radius: Any, name: str = "radius") -> None:
  """Raises ValueError naming `name` unless the radius R is > 0 (inf means unconstrained).
  Traced values pass unchecked (check them where they enter, outside jit)."""
  if isinstance(radius, jax.core.Tracer):
    return
  values = np.asarray(radius, dtype=float)
  if values.size == 0 or bool(np.any(np.isnan(values) | (values <= 0))):
    raise ValueError(f"{name}: the path-norm radius R must be > 0 (inf: no constraint), got "
                     f"{radius!r}")


def neuron_norms(w: jax.Array, variant: str = "l2") -> jax.Array:
  """||w_k||_q of the rows of `w (m, D)`: `(m,)`."""
  check_variant(variant)
  return jnp.sum(jnp.abs(w), axis=-1) if variant == "l1" else jnp.linalg.norm(w, axis=-1)


def path_norm(params: Any, variant: str = "l2") -> jax.Array:
  """||theta||_P = sum_k |a_k| ||w_k||_q (a scalar)."""
  w, a = two_layer.weights(params)
  return jnp.sum(jnp.abs(a) * neuron_norms(w, variant))


def penalty(params: Any, variant: str = "l2") -> jax.Array:
  """(1/2) sum_k (a_k^2 + ||w_k||_q^2); for "l2" the weight decay (1/2) ||theta||_2^2. It is
  >= `path_norm(params, variant)`, with equality iff every neuron is balanced."""
  w, a = two_layer.weights(params)
  return 0.5 * jnp.sum(a**2 + neuron_norms(w, variant) ** 2)


def product_norm(params: Any) -> jax.Array:
  """||a||_2 sum_k ||w_k||_2: a product of layer norms (grows with the width at a fixed path
  norm; reported as a contrast, it bounds nothing width-free)."""
  w, a = two_layer.weights(params)
  return jnp.linalg.norm(a) * jnp.sum(jnp.linalg.norm(w, axis=-1))


def rescale_neurons(params: Any, c: jax.Array) -> Any:
  """(a_k, w_k) -> (a_k / c_k, c_k w_k) for `c (m,)` > 0: f and the path norm are unchanged."""
  w, a = two_layer.weights(params)
  c = jnp.asarray(c, a.dtype)
  return two_layer.with_weights(params, c[:, None] * w, a / c)


def balance(params: Any, variant: str = "l2") -> Any:
  """The balanced rescaling |a_k| = ||w_k||_q = sqrt(|a_k| ||w_k||_q): the minimiser of
  `penalty` over all rescalings, with f and the path norm unchanged. A neuron with a_k = 0 or
  w_k = 0 (it contributes nothing) becomes a_k = 0, w_k = 0."""
  w, a = two_layer.weights(params)
  norms = neuron_norms(w, variant)
  live = (norms > 0) & (a != 0)
  c = jnp.sqrt(jnp.where(live, jnp.abs(a), 1.0) / jnp.where(live, norms, 1.0))
  zero = jnp.zeros((), a.dtype)
  return two_layer.with_weights(params, jnp.where(live[:, None], c[:, None] * w, zero),
                                jnp.where(live, a / c, zero))


def rescale_to_ball(params: Any, radius: Any, variant: str = "l2") -> Any:
  """The feasibility rescaling: every a_k times min(1, R / ||theta||_P), so that the result
  has ||theta||_P <= R (to rounding). `radius` may be inf (no constraint) or traced."""
  check_radius(radius)
  w, a = two_layer.weights(params)
  norm = path_norm(params, variant)
  factor = jnp.minimum(jnp.ones((), a.dtype), jnp.asarray(radius, a.dtype) / norm)
  factor = jnp.where(norm > 0, factor, jnp.ones((), a.dtype))
  return two_layer.with_weights(params, w, a * factor)


def path_norm_constraint(inner: optax.GradientTransformation, radius: Any,
                         variant: str = "l2") -> optax.GradientTransformationExtraArgs:
  """`inner` followed by the feasibility rescaling onto ||theta||_P <= R, as an optax
  transformation: `update(grads, state, params)` returns updates u such that
  `optax.apply_updates(params, u)` is `rescale_to_ball(params + inner's update, R)`.

  The state is `inner`'s. `params` are required (a `two_layer.Params`, a mapping {"w", "a"}
  or Flax variables). Chain-compatible: `path_norm_constraint(optax.chain(...), R)`.

  Args:
    inner: any optax transformation (the optimiser).
    radius: R > 0; a scalar that may be traced (e.g. `vmap`ped over R), inf for none.
    variant: the path norm, "l2" or "l1".
  """
  check_radius(radius)
  check_variant(variant)
  inner = optax.with_extra_args_support(inner)

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("params: path_norm_constraint needs the current params in update()")
    with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and its int32 count
      updates, state = inner.update(updates, state, params, **extra_args)
    stepped = optax.apply_updates(params, updates)
    feasible = rescale_to_ball(stepped, radius, variant)
    return jax.tree.map(lambda new, old: new - old, feasible, params), state

  return optax.GradientTransformationExtraArgs(inner.init, update_fn)


def rademacher_bound(n: int, radius: float = 1.0, variant: str = "l2",
                     input_dim: int | None = None) -> float:
  """Bound on the empirical Rademacher complexity of {f : ||theta||_P <= R} on n points:
  2R / sqrt(n) for "l2" with ||x~||_2 <= 1 (contraction), and 2R sqrt(2 log(2D) / n) for "l1"
  with ||x~||_inf <= 1 and D = `input_dim` inputs (E, Ma & Wu 2019)."""
  check_variant(variant)
  check_radius(radius)
  if not n >= 1:
    raise ValueError(f"n: must be >= 1, got {n!r}")
  if variant == "l2":
    return 2.0 * radius / math.sqrt(n)
  if input_dim is None or input_dim < 1:
    raise ValueError(f"input_dim: the l1 bound needs the input dimension D >= 1, got "
                     f"{input_dim!r}")
  return 2.0 * radius * math.sqrt(2.0 * math.log(2.0 * input_dim) / n)


__all__ = ["VARIANTS", "balance", "check_radius", "check_variant", "neuron_norms", "path_norm",
           "path_norm_constraint", "penalty", "product_norm", "rademacher_bound",
           "rescale_neurons", "rescale_to_ball"]
