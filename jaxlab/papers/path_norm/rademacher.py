"""Empirical Rademacher complexity of the path-norm ball P_R = {f_theta : ||theta||_P <= R},
every width at once, through the single-atom identity.

  x = two_layer.with_bias_coordinate(synthetic.sphere(key, 1024, 5))     # (n, D)
  ns = (128, 256, 512, 1024)
  weights = sign_weights(key_eps, num_draws=20, ns=ns, n_max=1024)      # (4, 20, 1024)
  est = estimate(key_dirs, x, weights, ns=ns)    # one problem per (n, draw)
  est.value.reshape(4, 20)                       # lower bounds of the sup, R = 1

For signs eps (n,), the map f -> (1/n) sum_i eps_i f(x_i) is linear, so over the convex hull
of {+-R relu(w . x~)} it peaks at a single atom, for every width m >= 1 (Liu, Dadi & Cevher,
arXiv:2404.18769; spec section 2.2):

  sup_{f in P_R} (1/n) sum_i eps_i f(x_i) = R max_{||w||_q = 1} |(1/n) sum_i eps_i relu(w . x~_i)|.

The inner maximum is not concave. It is searched by `num_directions` random unit directions
(shared by every problem), then the `num_refine` best of them for each sign of the objective
are refined by `refine_steps` normalised projected-gradient steps (step along the gradient,
renormalise to ||w||_q = 1; step sizes decay geometrically from `step_size` to
`step_size / 100`), keeping the best value seen. The result is a lower bound of the supremum:
an estimate from below, exact up to the search.

A problem is a weight vector v (n,) with v_i = eps_i / n on the points used and 0 elsewhere, so
nested designs (the first n of n_max points) and sign draws are one batch: `estimate` scores
the random directions of every (n, draw) in one product, and refines each problem (`lax.map`;
the two signs and the refined directions `vmap`ped) on the points it uses.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from jaxlab.models import path_norm as path_norm_lib
from jaxlab.models import two_layer


class Estimate(NamedTuple):
  """Per problem (row of `weights`): `value (B,)` the lower bound of max_w |g(w)| (R = 1),
  `direction (B, D)` its maximiser on the unit q-sphere and `sign (B,)` the sign s with
  g(direction) = s * value (the atom is s * relu(direction . x~))."""

  value: jax.Array
  direction: jax.Array
  sign: jax.Array


def sign_weights(key: jax.Array, num_draws: int, ns: Sequence[int], n_max: int,
                 dtype=None) -> jax.Array:
  """Problem weights `(len(ns), num_draws, n_max)`: v_i = eps_i / n for i < n, else 0, with
  independent Rademacher signs eps for every (n, draw)."""
  if min(ns) < 1 or max(ns) > n_max:
    raise ValueError(f"ns: sample sizes must be in [1, {n_max}], got {tuple(ns)}")
  dtype = jax.dtypes.canonicalize_dtype(dtype or float)
  eps = jax.random.rademacher(key, (len(ns), num_draws, n_max)).astype(dtype)
  ns_arr = jnp.asarray(ns)
  mask = jnp.arange(n_max)[None, :] < ns_arr[:, None]                     # (N, n_max)
  scale = jnp.where(mask, 1.0 / ns_arr[:, None].astype(eps.dtype), 0.0)
  return eps * scale[:, None, :].astype(eps.dtype)


def unit_directions(key: jax.Array, num: int, dim: int, variant: str = "l2",
                    dtype=None) -> jax.Array:
  """`num` random directions `(num, dim)`: Gaussian rows scaled to ||w||_q = 1."""
  w = jax.random.normal(key, (num, dim), dtype)
  return w / path_norm_lib.neuron_norms(w, variant)[:, None]


def correlation(w: jax.Array, x: jax.Array, v: jax.Array) -> jax.Array:
  """g(w) = sum_i v_i relu(w . x_i) for directions `w (..., D)`: `(...)`."""
  return jax.nn.relu(w @ x.T) @ v


def _refine(w0: jax.Array, x: jax.Array, v: jax.Array, sign: jax.Array, steps: int,
            step_size: float, variant: str) -> tuple[jax.Array, jax.Array]:
  """Normalised projected-gradient ascent of sign * g from the directions `w0 (k, D)`;
  returns the best value and direction seen `((k,), (k, D))`."""
  decay = 0.01 ** (1.0 / max(steps - 1, 1))

  def objective(w):
    return sign * correlation(w, x, v)

  grad = jax.vmap(jax.grad(objective))

  def step(carry, t):
    w, best, best_w = carry
    g = grad(w)
    if variant == "l2":
      g = g - jnp.sum(g * w, -1, keepdims=True) * w                       # tangent part
    g = g / jnp.maximum(jnp.linalg.norm(g, axis=-1, keepdims=True), 1e-30)
    w = w + (step_size * decay**t) * g
    w = w / path_norm_lib.neuron_norms(w, variant)[:, None]
    value = objective(w)
    better = value > best
    return (w, jnp.where(better, value, best), jnp.where(better[:, None], w, best_w)), None

  start = objective(w0)
  (_, best, best_w), _ = jax.lax.scan(step, (w0, start, w0),
                                      jnp.arange(steps, dtype=w0.dtype))
  return best, best_w


def estimate(key: jax.Array, x: jax.Array, weights: jax.Array, *,
             ns: Sequence[int] | None = None, num_directions: int = 4000, num_refine: int = 10,
             refine_steps: int = 150, step_size: float = 0.1, variant: str = "l2",
             chunk: int = 500) -> Estimate:
  """Lower bounds of max_{||w||_q = 1} |sum_i v_i relu(w . x_i)| for every problem v of
  `weights`, on the points `x (n, D)`; see the module docstring.

  Args:
    key: PRNG key of the random directions.
    x: the points x~ `(n, D)`.
    weights: problems `(B, n)`; or, with `ns`, `(len(ns), S, n)` where the S problems of group
      i use only the first ns[i] points (zero weight beyond, as from `sign_weights`): they are
      scored with all the others in one product and refined on x[:ns[i]] (the same values as
      the flattened masked problems, without computing the zero terms).
    ns: the nested sample sizes of the groups (static), or None.
    num_directions: random directions shared by all problems (scored in chunks of `chunk`).
    num_refine: directions refined per problem and sign.
    refine_steps: projected-gradient steps per refined direction.
    step_size: the first step's length (on the unit sphere).
    variant: the path norm, "l2" or "l1" (the sphere searched).

  Returns:
    `Estimate` with a leading axis B (the problems flattened in order).
  """
  path_norm_lib.check_variant(variant)
  groups = 1 if ns is None else len(ns)
  if x.ndim != 2 or weights.shape[-1] != x.shape[0] or weights.ndim != (2 if ns is None else 3) \
      or (ns is not None and (weights.shape[0] != groups or max(ns) > x.shape[0])):
    raise ValueError(f"weights: expected (B, {x.shape[0]}) problems, or (len(ns), S, "
                     f"{x.shape[0]}) with ns, for x {x.shape}; got {weights.shape}")
  if not 1 <= num_refine <= num_directions:
    raise ValueError(f"num_refine: must be in [1, num_directions={num_directions}], got "
                     f"{num_refine}")
  flat = weights.reshape(-1, x.shape[0])
  num_chunks = -(-num_directions // chunk)
  dirs = unit_directions(key, num_chunks * chunk, x.shape[1], variant, x.dtype)

  def chunk_scores(d):                                     # (chunk, B)
    a = jax.nn.relu(x @ d.T)                               # (n, chunk)
    if ns is None:
      return a.T @ flat.T
    return jnp.concatenate([a[:m].T @ weights[i, :, :m].T for i, m in enumerate(ns)], axis=1)

  scores = jax.lax.map(chunk_scores, dirs.reshape(num_chunks, chunk, -1))
  scores = scores.reshape(-1, flat.shape[0])
  scores, dirs = scores[:num_directions].T, dirs[:num_directions]          # (B, K), (K, D)
  if ns is None:
    return _refine_all(dirs, scores, x, flat, num_refine, refine_steps, step_size, variant)
  per_group = flat.shape[0] // groups
  parts = [_refine_all(dirs, scores[i * per_group:(i + 1) * per_group], x[:m],
                       weights[i, :, :m], num_refine, refine_steps, step_size, variant)
           for i, m in enumerate(ns)]
  return Estimate(*(jnp.concatenate(field) for field in zip(*parts)))


def _refine_all(dirs: jax.Array, scores: jax.Array, x: jax.Array, weights: jax.Array,
                num_refine: int, steps: int, step_size: float, variant: str) -> Estimate:
  """For each problem (row of `weights (B, n)`, its direction scores `(B, K)`): the best of
  the random directions and of the refined `num_refine` best ones, for both signs."""
  signs = jnp.array([1.0, -1.0], x.dtype)

  def one_problem(args):
    v, score = args

    def one_sign(sign):
      _, top = jax.lax.top_k(sign * score, num_refine)
      return _refine(dirs[top], x, v, sign, steps, step_size, variant)

    best, best_w = jax.vmap(one_sign)(signs)                             # (2, k), (2, k, D)
    flat = best.reshape(-1)
    i = jnp.argmax(flat)
    return flat[i], best_w.reshape(-1, x.shape[1])[i], signs[i // num_refine]

  return Estimate(*jax.lax.map(one_problem, (weights, scores)))


def atom(est: Estimate, radius: float = 1.0) -> two_layer.Params:
  """The width-1 networks `(B,)` that attain the estimates: a = sign * R, w = direction
  (path norm R; (1/n) sum eps_i f(x_i) = R * value)."""
  return two_layer.Params(est.direction[:, None, :], (radius * est.sign)[:, None])


def random_networks(key: jax.Array, num: int, widths: Sequence[int], dim: int,
                    radius: float = 1.0, variant: str = "l2", dtype=None) -> two_layer.Params:
  """`num` Gaussian networks of each width in `widths`, rescaled to ||theta||_P = R exactly:
  batched `Params` `(len(widths) * num, max(widths), dim)`, the narrower ones padded with zero
  neurons (which change neither f nor the norm). The sanity gate's competitors."""
  widest = max(widths)
  k_w, k_a = jax.random.split(key)
  w = jax.random.normal(k_w, (len(widths) * num, widest, dim), dtype)
  a = jax.random.normal(k_a, (len(widths) * num, widest), dtype)
  active = jnp.arange(widest)[None, :] < jnp.repeat(jnp.asarray(widths), num)[:, None]
  w = jnp.where(active[:, :, None], w, jnp.zeros((), w.dtype))
  a = jnp.where(active, a, jnp.zeros((), a.dtype))
  norms = jax.vmap(lambda p: path_norm_lib.path_norm(p, variant))(two_layer.Params(w, a))
  return two_layer.Params(w, a * (radius / norms)[:, None])


def network_correlations(params: two_layer.Params, x: jax.Array, weights: jax.Array
                         ) -> jax.Array:
  """(1/n) sum_i eps_i f(x_i) = sum_i v_i f(x_i) for batched networks `params` (leading axis
  M) and problems `weights (B, n)`: `(M, B)`."""
  return jax.lax.map(lambda p: weights @ two_layer.apply(two_layer.Params(*p), x), params)


def ascend(params0: two_layer.Params, x: jax.Array, weights: jax.Array, *, radius: float = 1.0,
           steps: int = 400, learning_rate: float = 0.02, variant: str = "l2") -> jax.Array:
  """A diagnostic of the inner maximum: networks of any width, one per problem, trained by
  Adam with the feasibility rescaling (`path_norm_constraint`) to maximise sum_i v_i f(x_i)
  over ||theta||_P <= R. Returns the final correlations `(B,)`; by the single-atom identity
  they never exceed R times the supremum, so a value above `estimate(...).value` shows that
  the search missed the maximum.

  Args:
    params0: batched initial networks (leading axis B).
    x: the points `(n, D)`.
    weights: problems `(B, n)`.
  """
  tx = path_norm_lib.path_norm_constraint(optax.adam(learning_rate), radius, variant)

  def one(params, v):
    def loss(p):
      return -(v @ two_layer.apply(p, x))

    def step(carry, _):
      p, state = carry
      updates, state = tx.update(jax.grad(loss)(p), state, p)
      return (optax.apply_updates(p, updates), state), None

    params = path_norm_lib.rescale_to_ball(params, radius, variant)
    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    return v @ two_layer.apply(params, x)

  return jax.vmap(one)(params0, weights)


__all__ = ["Estimate", "ascend", "atom", "correlation", "estimate", "network_correlations",
           "random_networks", "sign_weights", "unit_directions"]
