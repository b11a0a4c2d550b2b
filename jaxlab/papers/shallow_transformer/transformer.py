"""Shallow encoder-only Transformer of Wu, Liu, Chrysos & Cevher, *On the Convergence of
Encoder-only Shallow Transformers*, NeurIPS 2023 (arXiv 2311.01575):

  Q, K, V = X W_Q^T, X W_K^T, X W_V^T                       # X: (d_s tokens, d)
  A = softmax_rows(tau0 Q K^T) V                            # (d_s, d_m), softmax over keys
  f(X) = tau1 w_O^T mean_tokens(ReLU(W_H A^T))              # scalar;  loss 1/2 sum_n (f - y)^2

  x = jax.random.normal(key, (20, 4, 16))                   # (N sequences, d_s, d)
  scale = scaling("lecun", "inv_sqrt", dim=16, width=256)   # forward multipliers, tau0
  params = init(key, dim=16, width=256, scheme="lecun")     # W_Q, W_K, W_V (256, 16), ...
  apply(params, x, scale)                                   # (20,)
  attention(params, x, scale)                               # (20, 4, 4), rows sum to 1
  ntk(params, x, scale)                                     # (20, 20) = J J^T (jaxlab.ntk)

The initialisation scheme (`scheme`: 'lecun' N(0, 1/fan_in), 'he' N(0, 2/fan_in), 'ntk' N(0, 1)
with 1/sqrt(fan_in) multipliers on every matmul) and the logit scaling (`tau0`: 'inv_sqrt'
d_m^-1/2 or 'inv' d_m^-1) are configuration, not code forks: `scaling` returns them as a pytree
of scalars, so one compiled function serves the whole 3 x 2 grid at a given width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.ntk import NtkImplementation, empirical_ntk_fn

INITS = ("lecun", "he", "ntk")
TAU0 = ("inv_sqrt", "inv")
TAU0_LABELS = {"inv_sqrt": "d_m^-1/2", "inv": "d_m^-1"}


class Params(NamedTuple):
  """`w_q, w_k, w_v (d_m, d)`, `w_h (d_m, d_m)`, `w_o (d_m,)`."""

  w_q: jax.Array
  w_k: jax.Array
  w_v: jax.Array
  w_h: jax.Array
  w_o: jax.Array


class Scaling(NamedTuple):
  """Logit scale `tau0` and forward multipliers of the Q, K, V, H and output matmuls (the
  output multiplier includes tau1). Scalars; a pytree, so jit/vmap see them as data."""

  tau0: jax.Array | float
  q: jax.Array | float
  k: jax.Array | float
  v: jax.Array | float
  h: jax.Array | float
  o: jax.Array | float


def _check(scheme: str | None = None, tau0: str | None = None) -> None:
  if scheme is not None and scheme not in INITS:
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {scheme!r}")
  if tau0 is not None and tau0 not in TAU0:
    raise ValueError(f"tau0 must be one of {', '.join(TAU0)}, got {tau0!r}")


def scaling(scheme: str, tau0: str, *, dim: int, width: int, tau1: float = 1.0) -> Scaling:
  """Scaling of initialisation `scheme` with logit scale d_m^-1/2 ('inv_sqrt') or d_m^-1
  ('inv').

  Under 'ntk' every matmul is multiplied by 1/sqrt(fan_in) (d for W_Q, W_K, W_V; d_m for W_H
  and w_O: the latter plays the role of tau1 = d_m^-1/2); 'lecun' and 'he' have none.
  """
  _check(scheme, tau0)
  t0 = width ** -0.5 if tau0 == "inv_sqrt" else 1.0 / width
  if scheme == "ntk":
    a, b = dim ** -0.5, width ** -0.5
    return Scaling(t0, a, a, a, b, tau1 * b)
  return Scaling(t0, 1.0, 1.0, 1.0, 1.0, tau1)


def init(key: jax.Array, *, dim: int, width: int, scheme: str = "lecun", dtype=None
         ) -> Params:
  """Gaussian weights: N(0, 1/fan_in) ('lecun'), N(0, 2/fan_in) ('he') or N(0, 1) ('ntk')."""
  _check(scheme)
  gain = {"lecun": 1.0, "he": 2.0, "ntk": None}[scheme]
  shapes = Params((width, dim), (width, dim), (width, dim), (width, width), (width,))
  fan_in = Params(dim, dim, dim, width, width)
  keys = jax.random.split(key, len(shapes))
  return Params(*(jax.random.normal(k, s, dtype=dtype) *
                  (1.0 if gain is None else math.sqrt(gain / f))
                  for k, s, f in zip(keys, shapes, fan_in)))


def attention(params: Params, x: jax.Array, scale: Scaling) -> jax.Array:
  """Attention matrices softmax_rows(tau0 Q K^T) `(N, d_s, d_s)` for inputs `x (N, d_s, d)`;
  row i holds query token i's weights over the keys (sums to 1)."""
  q = scale.q * x @ params.w_q.T
  k = scale.k * x @ params.w_k.T
  return jax.nn.softmax(scale.tau0 * jnp.einsum("nsm,ntm->nst", q, k), axis=-1)


def apply(params: Params, x: jax.Array, scale: Scaling) -> jax.Array:
  """f `(N,)` for inputs `x (N, d_s, d)`: attention, ReLU layer, mean over tokens, linear."""
  v = scale.v * x @ params.w_v.T                                # (N, d_s, d_m)
  a = attention(params, x, scale) @ v                           # (N, d_s, d_m)
  h = jax.nn.relu(scale.h * a @ params.w_h.T)                   # (N, d_s, d_m) = (W_H A^T)^T
  return scale.o * jnp.mean(h, axis=1) @ params.w_o


def attention_uniformity(params: Params, x: jax.Array, scale: Scaling) -> jax.Array:
  """max |softmax - 1/d_s| over sequences, queries and keys (0 = attention is mean pooling)."""
  a = attention(params, x, scale)
  return jnp.max(jnp.abs(a - 1.0 / a.shape[-1]))


def loss(params: Params, x: jax.Array, y: jax.Array, scale: Scaling) -> jax.Array:
  """1/2 sum_n (f(X_n) - y_n)^2 (the paper's unnormalised squared loss)."""
  return 0.5 * jnp.sum((apply(params, x, scale) - y) ** 2)


def gd_step(params: Params, x: jax.Array, y: jax.Array, scale: Scaling, learning_rate
            ) -> tuple[Params, jax.Array]:
  """One full-batch GD step theta <- theta - gamma grad loss; returns (params, loss before)."""
  value, grads = jax.value_and_grad(loss)(params, x, y, scale)
  return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), value


def ntk(params: Params, x: jax.Array, scale: Scaling) -> jax.Array:
  """Empirical NTK K = J J^T `(N, N)`, J = df(x)/dparams, from `jaxlab.ntk.empirical_ntk_fn`.
  Under GD with a small step gamma the residual evolves as r <- (I - gamma K) r."""
  f = lambda p, x: apply(p, x, scale)
  # One scalar output per example: contracting per-example Jacobians is the cheaper method.
  return empirical_ntk_fn(f, trace_axes=(), vmap_axes=0,
                          implementation=NtkImplementation.JACOBIAN_CONTRACTION)(x, None, params)


def relative_change(new, old) -> jax.Array:
  """||new - old|| / ||old|| over all leaves of two pytrees (weights or kernels)."""
  num = sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(old)))
  den = sum(jnp.sum(b ** 2) for b in jax.tree.leaves(old))
  return jnp.sqrt(num / den)
