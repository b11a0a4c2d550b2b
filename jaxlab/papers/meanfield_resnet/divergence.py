"""KL-divergence proxies between particle clouds (the KL tracking of the mean-field ResNet
study, arXiv 2403.09889).

  x = jax.random.normal(jax.random.key(0), (512, 17)) + 0.1   # (N, p) particles
  gaussian_kl(x)                                 # ()  KL(N(mu, S) || N(0, I)), about 0.09 + bias
  gaussian_kl(x, reference=x0)                   # ()  KL(N(mu, S) || N(mu0, S0)) of two clouds
  knn_kl(x, jax.random.normal(key, (2048, 17)))  # ()  k-NN estimate of KL(law of x || N(0, I))

Both are estimates from finite samples, not the KL of the laws themselves: the moment-matched one
sees only the first two moments (and has an O(p^2 / N) bias against a fixed reference), the
k-NN one (Wang, Kulkarni & Verdu, IEEE Trans. IT 2009) is consistent but noisy in high p.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _moments(samples: jax.Array) -> tuple[jax.Array, jax.Array]:
  mean = jnp.mean(samples, axis=0)
  centred = samples - mean[None, :]
  return mean, centred.T @ centred / samples.shape[0]


def gaussian_kl(samples: jax.Array, reference: jax.Array | None = None) -> jax.Array:
  """Moment-matched KL(N(mu, S) || N(mu0, S0)) for particles `samples (N, p)`.

  With `reference=None` the second law is N(0, I), i.e. 0.5 (tr S + mu^T mu - p - log det S);
  otherwise (mu0, S0) are the moments of `reference (N0, p)` (N0 > p), e.g. the initial
  particles, which makes the estimate exactly 0 at initialisation. Covariances are the
  maximum-likelihood ones (divide by N).
  """
  p = samples.shape[-1]
  mean, cov = _moments(samples)
  logdet = jnp.linalg.slogdet(cov)[1]
  if reference is None:
    return 0.5 * (jnp.trace(cov) + mean @ mean - p - logdet)
  mean0, cov0 = _moments(reference)
  chol0 = jnp.linalg.cholesky(cov0)
  diff = mean - mean0
  trace = jnp.trace(jax.scipy.linalg.cho_solve((chol0, True), cov))
  maha = diff @ jax.scipy.linalg.cho_solve((chol0, True), diff)
  logdet0 = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol0)))
  return 0.5 * (trace + maha - p + logdet0 - logdet)


def _sq_dists(x: jax.Array, y: jax.Array) -> jax.Array:
  sq = jnp.sum(x ** 2, -1)[:, None] + jnp.sum(y ** 2, -1)[None, :] - 2.0 * x @ y.T
  return jnp.maximum(sq, 0.0)


def knn_kl(samples: jax.Array, reference: jax.Array, *, k: int = 1) -> jax.Array:
  """k-nearest-neighbour estimate of KL(P || Q) from `samples (N, p)` ~ P and
  `reference (N_q, p)` ~ Q (Wang, Kulkarni & Verdu 2009, Eq. 5):

    D = p/N sum_i log(nu_k(i) / rho_k(i)) + log(N_q / (N - 1))

  rho_k(i): distance from x_i to its k-th nearest other sample; nu_k(i): to its k-th nearest
  reference point. Pass fresh N(0, I) draws as `reference` for KL against the initial law.
  """
  n, p = samples.shape
  if not 1 <= k < n:
    raise ValueError(f"k must be in [1, {n - 1}] for {n} samples, got {k}")
  within = _sq_dists(samples, samples) + jnp.diag(jnp.full((n,), jnp.inf, samples.dtype))
  rho2 = -jax.lax.top_k(-within, k)[0][:, -1]
  nu2 = -jax.lax.top_k(-_sq_dists(samples, reference), k)[0][:, -1]
  return 0.5 * p * jnp.mean(jnp.log(nu2) - jnp.log(rho2)) + jnp.log(reference.shape[0] / (n - 1))
