import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.kernels import spectral


def _psd(key, n, rank=None, dtype=jnp.float64):
  a = jax.random.normal(key, (n, rank or n), dtype=dtype)
  return a @ a.T / (rank or n)


def test_ridge_path_equals_direct_solves(x64):
  k = _psd(jax.random.key(0), 30)
  kxt = jax.random.normal(jax.random.key(1), (7, 30), dtype=jnp.float64)
  y = jax.random.normal(jax.random.key(2), (30, 3), dtype=jnp.float64)
  ridges = jnp.array([1e-6, 1e-3, 0.1, 10.0])
  eig = spectral.eigh(k)
  path = jax.jit(jax.vmap(lambda r: spectral.predict(eig, kxt, y,
                                                     spectral.ridge_filter(eig.values, r))))(ridges)
  for r, p in zip(ridges, path):
    direct = kxt @ np.linalg.solve(np.asarray(k) + float(r) * np.eye(30), np.asarray(y))
    np.testing.assert_allclose(p, direct, rtol=1e-9, atol=1e-12)


def test_ridgeless_filter_is_the_pseudo_inverse(x64):
  k = _psd(jax.random.key(3), 20, rank=8)  # singular
  y = jax.random.normal(jax.random.key(4), (20,), dtype=jnp.float64)
  eig = spectral.eigh(k)
  alpha = spectral.apply_filter(eig, spectral.pinv_filter(eig.values), y)
  np.testing.assert_allclose(alpha, np.linalg.pinv(np.asarray(k), hermitian=True) @ y,
                             rtol=1e-8, atol=1e-10)


def test_gradient_flow_filter_solves_the_ode(x64):
  # d f/dt = -eta K (f - y) on the training set, f(0) = 0  =>  f(t) = (I - e^{-eta t K}) y
  k = _psd(jax.random.key(5), 12)
  y = jax.random.normal(jax.random.key(6), (12,), dtype=jnp.float64)
  eig = spectral.eigh(k)
  t, eta = 3.0, 0.5
  f_t = spectral.predict(eig, k, y, spectral.gradient_flow_filter(eig.values, t, eta))
  expected = y - jax.scipy.linalg.expm(-eta * t * k) @ y
  np.testing.assert_allclose(f_t, expected, rtol=1e-9, atol=1e-11)
  # t -> infinity: the interpolant; zero eigenvalue: the limit eta * t.
  g = spectral.gradient_flow_filter(jnp.array([0.0, 1e-300, 2.0]), 2.0, 0.25)
  np.testing.assert_allclose(g, [0.5, 0.5, (1 - np.exp(-1.0)) / 2.0], rtol=1e-12)


def test_spectrum_helpers(dtype):
  k = jnp.diag(jnp.array([0.5, 2.0, 4.0], dtype=dtype))
  assert float(spectral.lambda_min(k)) == pytest.approx(0.5)
  assert float(spectral.lambda_max(k)) == pytest.approx(4.0)
  assert float(spectral.condition_number(k)) == pytest.approx(8.0)
  assert spectral.lambda_min(k).dtype == jnp.dtype(dtype)
  assert float(spectral.condition_number(jnp.diag(jnp.array([0.0, 1.0])))) == float("inf")
  vals = jnp.array([1e-20, 1.0], dtype=jnp.float32)
  assert float(spectral.effective_condition(vals)) > 1 / float(jnp.finfo(jnp.float32).eps)
  assert float(spectral.effective_condition(vals, 1.0)) == pytest.approx(2.0)


def test_batched_filters_equal_one_at_a_time(x64):
  k = _psd(jax.random.key(7), 25)
  kxt = jax.random.normal(jax.random.key(8), (6, 25), dtype=jnp.float64)
  eig = spectral.eigh(k)
  ridges = jnp.array([0.0, 1e-4, 0.5])
  filters = jax.vmap(lambda r: spectral.ridge_or_pinv_filter(eig.values, r))(ridges)
  np.testing.assert_allclose(filters[0], spectral.pinv_filter(eig.values), rtol=1e-14)
  np.testing.assert_allclose(filters[2], spectral.ridge_filter(eig.values, 0.5), rtol=1e-14)
  for y in (jax.random.normal(jax.random.key(9), (25,), dtype=jnp.float64),
            jax.random.normal(jax.random.key(10), (25, 3), dtype=jnp.float64)):
    alphas = spectral.apply_filters(eig, filters, y)
    preds = spectral.predict_many(eig, kxt, y, filters)
    for f, a, p in zip(filters, alphas, preds):
      np.testing.assert_allclose(a, spectral.apply_filter(eig, f, y), rtol=1e-10, atol=1e-12)
      np.testing.assert_allclose(p, spectral.predict(eig, kxt, y, f), rtol=1e-10, atol=1e-12)
