"""The two-layer ReLU network f(x) = sum_k a_k relu(w_k . x~), as a pure `(init, apply)` pair
and as a Flax linen module with the same parameters.

  x_t = with_bias_coordinate(x)                    # (n, d) -> (n, d + 1): (x, 1) / sqrt(2)
  params = init(jax.random.key(0), x_t.shape[-1], width=256)
  params.w.shape, params.a.shape                   # (256, d + 1), (256,)
  apply(params, x_t)                               # (n,)

  net = TwoLayerReLU(width=256)
  variables = net.init(jax.random.key(0), x_t)     # {"params": {"w": (256, d+1), "a": (256,)}}
  net.apply(variables, x_t)                        # (n,) = apply(as_params(variables), x_t)

There is no bias parameter: a bias enters through a constant input coordinate, so that the
neuron k is the pair (a_k, w_k) and the positive rescaling (a_k, w_k) -> (a_k / c, c w_k),
c > 0, leaves f unchanged (ReLU is positively homogeneous). With x uniform on S^{d-1},
x~ = (x, 1) / sqrt(2) lies on S^d. The norms of such networks (path norm, balanced rescaling,
the constraint ||theta||_P <= R) are in `jaxlab.models.path_norm`.

Every function here that reads parameters accepts a `Params`, a mapping `{"w", "a"}` or the
Flax variables `{"params": {"w", "a"}}` (`weights` / `with_weights` convert), so the same
norms and constraints apply to a network trained either way.

References: F. Liu, L. Dadi, V. Cevher, "Learning with Norm Constrained, Over-parameterized,
Two-layer Neural Networks", JMLR 2024, arXiv:2404.18769, section 2.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp


class Params(NamedTuple):
  """A two-layer network: input weights `w (m, D)` (row k is neuron k) and output weights
  `a (m,)`."""

  w: jax.Array
  a: jax.Array


def _is_flax_variables(params: Mapping[str, Any]) -> bool:
  return "params" in params and not {"w", "a"} <= set(params)


def weights(params: Any) -> tuple[jax.Array, jax.Array]:
  """`(w (m, D), a (m,))` of a `Params`, a mapping `{"w", "a"}` or Flax variables."""
  if isinstance(params, Params):
    return params.w, params.a
  if isinstance(params, Mapping):
    if _is_flax_variables(params):
      return weights(params["params"])
    if {"w", "a"} <= set(params):
      return params["w"], params["a"]
  raise TypeError("params: expected two_layer.Params, a mapping with 'w' and 'a', or Flax "
                  f"variables {{'params': {{'w', 'a'}}}}; got {type(params).__name__}")


def with_weights(params: Any, w: jax.Array, a: jax.Array) -> Any:
  """`params` (same container type) with its weights replaced by `w` and `a`."""
  if isinstance(params, Params):
    return Params(w, a)
  if _is_flax_variables(params):
    return {**params, "params": with_weights(params["params"], w, a)}
  weights(params)  # raises for anything else
  return {**params, "w": w, "a": a}


def as_params(params: Any) -> Params:
  """The `Params` of any accepted container (e.g. the Flax module's variables)."""
  return Params(*weights(params))


def with_bias_coordinate(x: jax.Array) -> jax.Array:
  """x~ = (x, 1) / sqrt(2): `(n, d) -> (n, d + 1)`; unit vectors map to unit vectors."""
  x = jnp.asarray(x)
  if x.ndim != 2 or x.shape[-1] < 1:
    raise ValueError(f"x: expected inputs (n, d) with d >= 1, got shape {x.shape}")
  ones = jnp.ones(x.shape[:-1] + (1,), x.dtype)
  return jnp.concatenate([x, ones], axis=-1) / math.sqrt(2.0)


def init(key: jax.Array, input_dim: int, width: int, *, scale: float = 1.0,
         dtype=None) -> Params:
  """Gaussian initialisation: w_k ~ N(0, I_D / D) and a_k ~ N(0, 1 / m), times `scale`.

  Args:
    key: PRNG key (one Gaussian draw of shape (m, D + 1): the columns w, then a).
    input_dim: D, the input dimension including any bias coordinate (>= 1).
    width: m, the number of neurons (>= 1).
    scale: multiplies both layers (> 0); the output scales as scale^2.
  """
  if not (isinstance(input_dim, int) and input_dim >= 1):
    raise ValueError(f"input_dim: must be an integer >= 1, got {input_dim!r}")
  if not (isinstance(width, int) and width >= 1):
    raise ValueError(f"width: must be an integer >= 1, got {width!r}")
  if not scale > 0:
    raise ValueError(f"scale: must be > 0, got {scale!r}")
  z = jax.random.normal(key, (width, input_dim + 1), dtype)       # one draw: w | a
  return Params(z[:, :input_dim] * (scale / math.sqrt(input_dim)),
                z[:, input_dim] * (scale / math.sqrt(width)))


def features(params: Any, x: jax.Array) -> jax.Array:
  """Hidden activations relu(x w^T): `(n, D) -> (n, m)`."""
  w, _ = weights(params)
  return jax.nn.relu(x @ w.T)


def apply(params: Any, x: jax.Array) -> jax.Array:
  """f(x) = sum_k a_k relu(w_k . x): inputs `(n, D)` -> outputs `(n,)`."""
  _, a = weights(params)
  return features(params, x) @ a


class TwoLayerReLU(nn.Module):
  """`apply` as a Flax linen module: parameters `w (width, D)` and `a (width,)` with the
  distribution of `init` (Flax's own key per parameter); `__call__(x (n, D)) -> (n,)`.

  Attributes:
    width: the number of neurons m.
    scale: the initialisation scale of `init`.
  """

  width: int
  scale: float = 1.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    input_dim = x.shape[-1]

    def init_w(key, shape, dtype=jnp.float32):
      return jax.random.normal(key, shape, dtype) * (self.scale / math.sqrt(shape[1]))

    def init_a(key, shape, dtype=jnp.float32):
      return jax.random.normal(key, shape, dtype) * (self.scale / math.sqrt(shape[0]))

    w = self.param("w", init_w, (self.width, input_dim), x.dtype)
    a = self.param("a", init_a, (self.width,), x.dtype)
    return apply(Params(w, a), x)


__all__ = ["Params", "TwoLayerReLU", "apply", "as_params", "features", "init", "weights",
           "with_bias_coordinate", "with_weights"]
