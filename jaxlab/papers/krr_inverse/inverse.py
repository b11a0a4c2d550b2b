"""Kernel ridge(less) regression for an elliptic linear inverse problem on the 1D torus: the
exact spectral simulator of `krr_inverse.md` (Wong et al. 2024, arXiv 2406.09194).

  u_star = torus.random_phase_coefficients(key_u, modes=8192, smoothness=1.5)   # (8193, 2)
  v_star = operator_coefficients(u_star, rho=0.25)                               # A u*
  sim = simulate(key, 512, b=1, design="iid", lams=jnp.array([0.0, 1e-4]),
                 targets=v_star[None], weights=error_weights(8192, rho=0.25, gamma=0.0)[None])
  sim.bias2       # (1, 1, 2): squared H^gamma error of the noise-free fit, exact
  sim.variance    # (1, 2): mean over noise draws of the squared H^gamma norm of the noise fit

Setting (spec section 2.2, jaxlab notation). Data y_i = (A u*)(x_i) + eps_i with A the Fourier
multiplier a_k = k^rho (order rho > 0: differential, rho < 0: smoothing). The estimator
minimises (1/n) sum_i (A u(x_i) - y_i)^2 + lam ||u||^2_{H^{beta_s}}: a Sobolev-norm-penalised
estimator. With v = A u it is KRR for v with the kernel of eigenvalues mu_k = a_k^2 / s_k =
k^{-2b}, b = beta_s - rho (the inductive bias):

    alpha = (K + n lam I)^{-1} y,  vhat_k = mu_k sum_i alpha_i phi_k(x_i),  uhat_k = vhat_k / a_k,
    err_gamma = sum_k k^{2 gamma} (uhat_k - u*_k)^2 = sum_k k^{2(gamma - rho)} (vhat_k - v*_k)^2.

The Gram depends on b only; rho and gamma enter through the error weights k^{2(gamma - rho)}.
Errors are exact in coefficient space (`torus.weighted_errors`), for every ridge at once from
one eigendecomposition per design (`ridge.path`); lam = 0 is the ridgeless interpolant, with
its conditioning reported.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.kernels import equivalent, ridge
from jaxlab.papers.krr_inverse import torus


class Simulation(NamedTuple):
  """One design's exact errors for every ridge.

  Attributes:
    bias2: `(T, W, L)` error of the noise-free fit of target t in weighting w at ridge l.
    variance: `(W, L)` mean over the noise columns of the weighted squared norm of the fit of
      pure noise.
    condition: `(L,)` effective condition number of K + n lam I.
    ill_conditioned: `(L,)` True where the system is singular at working precision.
  """

  bias2: jax.Array
  variance: jax.Array
  condition: jax.Array
  ill_conditioned: jax.Array


def kernel_eigenvalues(modes: int, b: float, dtype=None) -> jax.Array:
  """mu_k = k^{-2b}, `(modes + 1,)`."""
  return torus.multiplier(modes, -2.0 * b, dtype)


def error_weights(modes: int, rho: float, gamma: float, dtype=None) -> jax.Array:
  """Weights k^{2(gamma - rho)} `(modes + 1,)` turning an error in v = A u into the squared
  H^gamma error of u."""
  return torus.multiplier(modes, 2.0 * (gamma - rho), dtype)


def operator_coefficients(u_coef: jax.Array, rho: float) -> jax.Array:
  """Coefficients of A u, a_k u_k with a_k = k^rho, for `u_coef (M + 1, 2)`."""
  a = torus.multiplier(u_coef.shape[0] - 1, rho, u_coef.dtype)
  return u_coef * a[:, None]


def simulate(key: jax.Array, n: int, *, b: int, design: str, lams: jax.Array,
             targets: jax.Array, weights: jax.Array, num_noise: int, noise_std: float = 1.0,
             chunk: int = 1024) -> Simulation:
  """Exact bias^2 and variance of the inverse-problem estimator on one random design.

  Args:
    key: design and noise key.
    n: sample size.
    b: inductive bias (integer; exact Bernoulli Gram).
    design: 'iid' or 'jittered'.
    lams: ridges `(L,)` (n lam on the Gram diagonal; 0 = ridgeless).
    targets: `(T, M + 1, 2)` coefficients of the noise-free targets v* = A u*; their point
      values are summed directly over all M modes (no FFT interpolation). T may be 0 (u* = 0:
      variance only; `bias2` is then empty).
    weights: `(W, M + 1)` error weights, e.g. `error_weights(M, rho, gamma)` for several
      (rho, gamma); every target is scored in every weighting.
    num_noise: noise columns per design (the variance is their mean).
    noise_std: sigma.
    chunk: modes per chunk of the coefficient sums.
  """
  if int(b) != b or not 1 <= b <= torus.MAX_ORDER:
    raise ValueError(f"b must be an integer in 1..{torus.MAX_ORDER}, got {b}")
  if design not in torus.DESIGNS:
    raise ValueError(f"design must be one of {torus.DESIGNS}, got {design!r}")
  dtype = targets.dtype
  return _simulate(key, jnp.asarray(int(b)), jnp.asarray(design == "jittered"),
                   jnp.asarray(noise_std, dtype), jnp.asarray(lams, dtype), targets, weights,
                   n=n, num_noise=num_noise, chunk=chunk)


@functools.partial(jax.jit, static_argnames=("n", "num_noise", "chunk"))
def _simulate(key, b, jittered, noise_std, lams, targets, weights, *, n, num_noise, chunk):
  """`simulate` with b and the design type traced: one compilation per shape serves every
  inductive bias and design."""
  x, noise = _draw(key, n, jittered, num_noise, noise_std, targets.dtype)
  modes = targets.shape[1] - 1
  p = ridge.path(torus.sobolev_gram(x, order=b))
  if targets.shape[0]:
    y0 = jax.vmap(lambda t: torus.synthesize(x, t, chunk=chunk))(targets).T      # (n, T)
  else:
    y0 = jnp.zeros((n, 0), x.dtype)
  y = jnp.concatenate([y0, noise], axis=1)                                       # (n, T + J)
  num_targets = targets.shape[0]
  alpha = ridge.coefficients(p, y, lams)                                          # (L, n, T + J)
  num_lams = alpha.shape[0]
  cols = jnp.moveaxis(alpha, 0, 1).reshape(n, -1)                                 # (n, L (T + J))
  index = jnp.tile(jnp.where(jnp.arange(num_targets + num_noise) < num_targets,
                             jnp.arange(num_targets + num_noise), -1), num_lams)
  errs = torus.weighted_errors(x, cols, kernel_eigenvalues(modes, b, x.dtype), targets,
                               index, weights, chunk=chunk)
  errs = errs.reshape(weights.shape[0], num_lams, num_targets + num_noise)
  cond, ill = ridge.conditioning(p, lams)
  variance = (jnp.mean(errs[:, :, num_targets:], axis=2) if num_noise else
              jnp.zeros(errs.shape[:2], errs.dtype))
  return Simulation(jnp.moveaxis(errs[:, :, :num_targets], 2, 0), variance, cond, ill)


def design_and_noise(key: jax.Array, n: int, design: str, num_noise: int, noise_std: float,
                     dtype=None) -> tuple[jax.Array, jax.Array]:
  """The design `(n,)` and noise columns `(n, num_noise)` that `simulate` draws from `key`."""
  if design not in torus.DESIGNS:
    raise ValueError(f"design must be one of {torus.DESIGNS}, got {design!r}")
  dtype = dtype or jnp.result_type(float)
  return _draw(key, n, jnp.asarray(design == "jittered"), num_noise,
               jnp.asarray(noise_std, dtype), dtype)


@functools.partial(jax.jit, static_argnums=(1, 3, 5))
def _draw(key, n, jittered, num_noise, noise_std, dtype):
  k_design, k_noise = jax.random.split(key)
  x = jnp.where(jittered, torus.design(k_design, n, "jittered", dtype),
                torus.design(k_design, n, "iid", dtype))
  return x, noise_std * jax.random.normal(k_noise, (n, num_noise), dtype)


def deterministic_equivalent(n: int, *, b: float, rho: float, gamma: float, v_star: jax.Array,
                             noise_std: float, lams: jax.Array) -> equivalent.Equivalent:
  """Deterministic-equivalent bias^2 (with aliasing) and variance of the same estimator,
  `(L,)` each, from the spectrum truncated at the target's M modes."""
  modes = v_star.shape[0] - 1
  mu = torus.expand(kernel_eigenvalues(modes, b, v_star.dtype))
  c = torus.expand(error_weights(modes, rho, gamma, v_star.dtype))
  return equivalent.path(mu, torus.flatten(v_star), noise_std**2, lams, n, weights=c)


def estimate(x: jax.Array, y: jax.Array, lam, *, b: int, rho: float, modes: int) -> jax.Array:
  """Coefficients `(modes + 1, 2)` of the Sobolev-penalised estimate uhat from data `y (n,)` at
  design `x (n,)` (one ridge; lam = 0: minimum-norm interpolant of A u)."""
  p = ridge.path(torus.sobolev_gram(x, order=b))
  alpha = ridge.coefficients(p, y, jnp.asarray([lam], x.dtype))[0]
  scale = kernel_eigenvalues(modes, b, x.dtype) / torus.multiplier(modes, rho, x.dtype)
  return scale[:, None] * torus.analyze(x, alpha, modes)


@functools.partial(jax.jit, static_argnames=("b", "rho"))
def kernel_path_l2(x: jax.Array, y: jax.Array, lams: jax.Array, *, b: int, rho: float,
                   u_grid: jax.Array) -> jax.Array:
  """The same estimator through kernel matrices only: predictions of u at a uniform grid of G
  points from `ridge.predictions`, squared L2 error by the (spectrally accurate) trapezoid rule.

  The cross-kernel of u-predictions, k_u(z, x) = sum_k (mu_k / a_k) phi_k(z) phi_k(x), has
  eigenvalues k^{-(2b + rho)}: a closed-form torus Gram when b + rho / 2 is an integer.

  Args:
    x: design `(n,)`.
    y: targets `(n,)` or `(n, c)`.
    lams: ridges `(L,)`.
    b, rho: inductive bias and operator order (b + rho / 2 integer).
    u_grid: the true u at the grid points j / G, `(G,)` (zeros for a pure-noise fit).

  Returns:
    `(L,)` or `(L, c)` squared L2 errors of u.
  """
  order = b + rho / 2
  if order != int(order) or order < 1:
    raise ValueError(f"kernel_path_l2 needs b + rho / 2 a positive integer, got {order}")
  grid = jnp.arange(u_grid.shape[0], dtype=x.dtype) / u_grid.shape[0]
  p = ridge.path(torus.sobolev_gram(x, order=b))
  k_u = torus.sobolev_gram(grid, x, order=int(order))
  pred = ridge.predictions(p, k_u, y, lams)                     # (L, G[, c])
  diff = pred - (u_grid[None, :, None] if y.ndim == 2 else u_grid[None, :])
  return jnp.mean(diff**2, axis=1)
