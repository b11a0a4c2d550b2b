"""KL proxies between particle clouds: closed-form Gaussian identities and a k-NN estimate of a
known divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.papers.meanfield_resnet import divergence


def test_gaussian_kl_identities(x64):
  x = jax.random.normal(jax.random.key(0), (400, 3), jnp.float64) @ jnp.diag(
      jnp.array([1.0, 2.0, 0.5])) + 0.3
  assert abs(divergence.gaussian_kl(x, x)) < 1e-12
  mean, cov = np.mean(x, 0), np.cov(np.asarray(x).T, bias=True)
  shift = jnp.array([0.5, -1.0, 0.2])
  np.testing.assert_allclose(divergence.gaussian_kl(x + shift[None, :], x),
                             0.5 * shift @ np.linalg.solve(cov, shift), rtol=1e-10)
  np.testing.assert_allclose(divergence.gaussian_kl(2.0 * x, x),  # depends on mean too
                             0.5 * (3 * 4.0 + mean @ np.linalg.solve(cov, mean) - 3
                                    - 3 * np.log(4.0)), rtol=1e-10)
  expected = 0.5 * (np.trace(cov) + mean @ mean - 3 - np.linalg.slogdet(cov)[1])
  np.testing.assert_allclose(divergence.gaussian_kl(x), expected, rtol=1e-10)


def test_knn_kl_estimates_a_known_divergence(x64):
  kp, kq = jax.random.split(jax.random.key(1))
  p = jax.random.normal(kp, (1000, 2), jnp.float64) + jnp.array([[1.0, 0.0]])
  q = jax.random.normal(kq, (2000, 2), jnp.float64)
  knn_kl = jax.jit(divergence.knn_kl, static_argnames="k")
  assert abs(float(knn_kl(p, q, k=5)) - 0.5) < 0.1       # KL = |mu|^2 / 2
  assert abs(float(knn_kl(q[:1000], q[1000:], k=5))) < 0.1
  with pytest.raises(ValueError, match="k must be in"):
    divergence.knn_kl(p[:3], q, k=3)
