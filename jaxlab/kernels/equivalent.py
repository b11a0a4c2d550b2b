"""Deterministic equivalent of kernel ridge(less) regression: theory curves at finite n.

  mu = 1.0 / jnp.arange(1, 2001.0) ** 2                  # eigenvalues (J,), multiplicities expanded
  de = deterministic_equivalent(mu, v, noise_var=1.0, lam=1e-4, n=512, weights=c)
  de.kappa, de.bias2, de.variance                        # scalars; vmap over lam for a path

For eigenvalues mu_j of the kernel operator, target coefficients v_j in its eigenbasis, noise
variance sigma^2 and the theory ridge lambda (n lambda on the Gram diagonal, as in
`jaxlab.kernels.ridge`), the effective ridge kappa solves

    kappa - lambda = (kappa / n) sum_j mu_j / (mu_j + kappa),

and with L_j = mu_j / (mu_j + kappa), E0 = n / (n - sum_j L_j^2), B = sum_j (1 - L_j)^2 v_j^2,
for an error sum_j c_j (vhat_j - v_j)^2:

    bias2    = sum_j c_j (1 - L_j)^2 v_j^2 + (E0 / n) B sum_j c_j L_j^2     # + aliasing term
    variance = (E0 / n) sigma^2 sum_j c_j L_j^2.

With c = 1 the total is E0 (B + sigma^2) - sigma^2. (Spec krr_inverse.md section 2.4; see
Canatar, Bordelon & Pehlevan 2021, Simon et al. 2021 "The eigenlearning framework".)
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp


class Equivalent(NamedTuple):
  """Deterministic-equivalent `kappa`, `bias2`, `variance` (scalars, or `(L,)` on a path)."""

  kappa: jax.Array
  bias2: jax.Array
  variance: jax.Array

  @property
  def risk(self) -> jax.Array:
    return self.bias2 + self.variance


def effective_ridge(mu: jax.Array, lam, n: int, *, iterations: int = 200) -> jax.Array:
  """kappa > 0 solving kappa - lam = (kappa / n) sum_j mu_j / (mu_j + kappa), by bisection on
  log kappa (the map kappa -> 1 - lam / kappa - (1/n) sum_j mu_j / (mu_j + kappa) is increasing
  and changes sign once). `mu (J,)` >= 0 with multiplicities expanded; `lam` >= 0."""
  mu = jnp.asarray(mu)
  lam = jnp.asarray(lam, mu.dtype)

  def g(log_kappa):
    kappa = jnp.exp(log_kappa)
    return 1.0 - lam / kappa - jnp.sum(mu / (mu + kappa)) / n

  hi = jnp.log(lam + jnp.sum(mu) / n)           # g(hi) >= 0
  lo = jnp.asarray(jnp.log(jnp.finfo(mu.dtype).tiny), mu.dtype)

  def body(_, bounds):
    a, b = bounds
    mid = 0.5 * (a + b)
    up = g(mid) > 0
    return jnp.where(up, a, mid), jnp.where(up, mid, b)

  a, b = jax.lax.fori_loop(0, iterations, body, (lo, hi))
  return jnp.exp(0.5 * (a + b))


def deterministic_equivalent(mu: jax.Array, v: jax.Array, noise_var, lam, n: int,
                             weights: Optional[jax.Array] = None) -> Equivalent:
  """Deterministic-equivalent bias^2 (with the aliasing term) and variance of KRR.

  Args:
    mu: kernel eigenvalues `(J,)`, multiplicities expanded (the tail beyond J is dropped).
    v: the target's coefficients `(J,)` in the same eigenbasis (L2-orthonormal).
    noise_var: sigma^2.
    lam: theory ridge (n lam on the Gram diagonal); 0 for ridgeless.
    n: sample size.
    weights: error weights c `(J,)` (e.g. s_j(gamma) / a_j^2 for an H^gamma error of the
      inverse problem); default 1 (the L2 error of the fit).
  """
  c = jnp.ones_like(mu) if weights is None else weights
  kappa = effective_ridge(mu, lam, n)
  ell = mu / (mu + kappa)
  e0 = n / (n - jnp.sum(ell**2))
  b = jnp.sum((1.0 - ell) ** 2 * v**2)
  cl2 = jnp.sum(c * ell**2)
  bias2 = jnp.sum(c * (1.0 - ell) ** 2 * v**2) + e0 / n * b * cl2
  variance = e0 / n * noise_var * cl2
  return Equivalent(kappa, bias2, variance)


@functools.partial(jax.jit, static_argnames=("n",))
def path(mu: jax.Array, v: jax.Array, noise_var, lams: jax.Array, n: int,
         weights: Optional[jax.Array] = None) -> Equivalent:
  """`deterministic_equivalent` for every ridge in `lams (L,)`: fields of shape `(L,)`."""
  return jax.vmap(lambda lam: deterministic_equivalent(mu, v, noise_var, lam, n, weights))(
      jnp.asarray(lams, mu.dtype))
