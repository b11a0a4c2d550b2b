"""Covariate shift: the data model, IW-KRR identities, the linearisation, and the
krr_covariate_shift experiment contract."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO
from jaxlab.config import ConfigError
from jaxlab.kernels import covariate_shift as cs
from jaxlab.kernels import krr_covariate_shift, ridge
from test_cli import run_module

SMOKE = os.path.join(REPO, "experiments", "flags", "krr_covariate_shift_smoke.flags")


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


def test_config_validation_names_the_field():
  with pytest.raises(ConfigError, match="h: got 'tanh'"):
    krr_covariate_shift.Config(h="tanh")
  with pytest.raises(ConfigError, match="nlams: must start at 0"):
    krr_covariate_shift.Config(nlams=(0.1, 1.0))
  with pytest.raises(ConfigError, match="surrogate_d: must be one of ds"):
    krr_covariate_shift.Config(ds=(100, 200), surrogate_d=400)


def test_cli_small_run_writes_the_contract(tmp_path):
  out = tmp_path / "run"
  proc = run_module("experiments.krr_covariate_shift", f"--flagfile={SMOKE}",
                    "--studies=identities,bias_variance", "--ds=40,80", "--surrogate_d=80",
                    "--num_designs=2", "--num_test=300", "--level_tol_scale=3",
                    f"--workdir={out}", timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((out / "results.json").read_text())
  assert {"curves", "slopes", "checks"} <= set(results)
  checks = results["checks"]
  identity = [c for name, c in checks.items() if name.startswith("E2.2")]
  assert len(identity) == 4 and all(c["pass"] for c in identity)
  conditioning = next(c for name, c in checks.items() if "singular" in name)
  assert conditioning["value"] == 0 and set(conditioning["condition_numbers"]) == {"40", "80"}
  assert all(1.0 < v < 1e12 for v in conditioning["condition_numbers"].values())
  assert any(name.startswith("E2.3a") for name in checks)
  krr0 = [c for c in results["curves"] if c["estimator"] == "krr" and c["nlam"] == 0.0]
  iw0 = [c for c in results["curves"] if c["estimator"] == "iw" and c["nlam"] == 0.0]
  for a, b in zip(krr0, iw0):
    assert a["variance"] == pytest.approx(b["variance"], rel=1e-8)
  assert (out / "plots" / "bias_variance.png").exists()
  bad = run_module("experiments.krr_covariate_shift", f"--flagfile={SMOKE}", "--mu=5",
                   f"--workdir={tmp_path / 'bad'}", timeout=120)
  assert bad.returncode == 2 and "--mu: must be in [0, 2]" in bad.stderr
