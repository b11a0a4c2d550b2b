"""The covariate-shift model of paper 3 (arXiv 2406.03171): the data and density ratio, the
IW-KRR identities, the linearisation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.kernels import ridge
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs


def test_inner_product_functions_and_density_ratio(x64):
  h = cs.inner_product_fn(jnp.exp)
  assert (h.h0, h.h1, h.h2) == pytest.approx((1.0, 1.0, 1.0))
  assert h.gamma_imp == pytest.approx(math.e - 2)
  cubic = cs.inner_product_fn(cs.INNER_PRODUCT_FNS["cubic"])
  assert (cubic.h1, cubic.h2, cubic.gamma_imp) == pytest.approx((3.0, 6.0, 4.0))
  assert cs.inner_product_fn(cs.INNER_PRODUCT_FNS["exp_half"]).gamma_imp == pytest.approx(
      math.exp(0.5) - 1.5)
  data = cs.sample(jax.random.key(0), 20000, 3, 1.0, 20000)
  # E_p[w] = 1, E_p[w^2] = e^{mu^2}; E_p[w f] = E_q[f] (importance-sampling identity).
  assert float(data.w.mean()) == pytest.approx(1.0, abs=0.03)
  assert float((data.w**2).mean()) == pytest.approx(math.e, rel=0.1)
  # E_q[f*] = E[x1] + (E[x1^2] - 1) / 2 = 1.5; the IS estimate has standard error ~0.064 here.
  assert float((data.w * data.f_train).mean()) == pytest.approx(1.5, abs=0.2)
  assert float(data.f_test.mean()) == pytest.approx(1.5, abs=0.05)
  assert float(data.x_test[:, 0].mean()) == pytest.approx(1.0, abs=0.03)


def test_iw_krr_identities(x64):
  h = cs.inner_product_fn(jnp.exp)
  data = cs.sample(jax.random.key(1), 120, 60, 1.0, 200)
  nlams = jnp.array([0.0, 0.08, 0.8, 8.0, 80.0])
  ev = cs.evaluate(data, h, nlams, 0.5)
  # (i) lambda = 0: IW does nothing.
  np.testing.assert_allclose(ev["iw"].bias2[0], ev["krr"].bias2[0], rtol=1e-9)
  np.testing.assert_allclose(ev["iw"].variance[0], ev["krr"].variance[0], rtol=1e-9)
  assert not np.allclose(ev["iw"].variance[1:], ev["krr"].variance[1:], rtol=1e-3)
  # (ii) mu = 0: w = 1, identical at every lambda.
  ev0 = cs.evaluate(cs.sample(jax.random.key(1), 120, 60, 0.0, 200), h, nlams, 0.5)
  np.testing.assert_allclose(ev0["iw"].bias2, ev0["krr"].bias2, rtol=1e-10)
  np.testing.assert_allclose(ev0["iw"].variance, ev0["krr"].variance, rtol=1e-10)
  # (iii) linearised IW-KRR with the training constant = weighted ridge on phi, omega_i.
  d, n = 60, 120
  const = cs.train_constant(h, d)
  k_lin = cs.linearized_gram(data.x, h, "empirical")
  k_lin_test = cs.linearized_test_kernel(data.x_test, data.x, h, const)
  y = data.f_train + 0.5 * jax.random.normal(jax.random.key(2), (n,))
  preds = ridge.predictions(ridge.path(k_lin, data.w), k_lin_test, y, nlams / n)
  gamma = jnp.sum(data.x**2, 1) / d
  gamma = h.h(gamma) - h.h0 - h.h1 * gamma
  phi, phi_test = cs.features(data.x, h, const), cs.features(data.x_test, h, const)
  np.testing.assert_allclose(phi @ phi.T + jnp.diag(gamma), k_lin, rtol=1e-12)
  for nl, pred in zip(nlams, preds):
    omega = cs.weighted_ridge_weights(data.w, gamma, nl)
    np.testing.assert_allclose(pred, cs.weighted_ridge_features(phi, y, omega, phi_test),
                               rtol=1e-8, atol=1e-10)


def test_linearization_errors_shrink_with_d(x64):
  h = cs.inner_product_fn(jnp.exp)
  errs = [cs.linearization_errors(cs.sample(jax.random.key(0), 2 * d, d, 1.0, 300), h)
          for d in (50, 200)]
  for name, rate in (("op_population", 0.5), ("op_empirical", 0.5), ("test_rms", 1.0)):
    ratio = float(errs[0][name] / errs[1][name])
    assert ratio == pytest.approx(4.0**rate, rel=0.3), name
  # The empirical diagonal is several times more accurate (spec: 4-5x).
  assert float(errs[1]["op_population"] / errs[1]["op_empirical"]) > 3
  with pytest.raises(ValueError, match="diagonal must be one of"):
    cs.linearized_gram(jnp.zeros((3, 2)), h, "none")
