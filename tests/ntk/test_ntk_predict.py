"""NTK-regime predictions: neural-tangents 0.6.5 reference values (tests/ntk/reference), the gradient
flow ODE, kernel ridge / GP posterior identities, and agreement with the spectral core."""

import collections
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ntk
from jaxlab.kernels import spectral
from jaxlab.ntk import predict, stax

REFERENCE = dict(np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference",
                                      "nt_reference.npz")))
Pair = collections.namedtuple("Pair", "nngp ntk")
REGS = [(0.0, False), (1e-2, False), (1e-2, True)]


def _ref(name):
  return REFERENCE[f"pred/{name}"]


@pytest.mark.parametrize("reg,absolute", REGS)
def test_gradient_descent_mse_matches_neural_tangents(x64, reg, absolute):
  tag = f"gd_mse/reg={reg},abs={absolute}"
  predict_fn = predict.gradient_descent_mse(_ref("ntk_dd"), _ref("y_train"), learning_rate=0.7,
                                            diag_reg=reg, diag_reg_absolute_scale=absolute)
  ts, f0, g0, k_td = _ref("ts"), _ref("fx_train_0"), _ref("fx_test_0"), _ref("ntk_td")
  train_t, test_t = predict_fn(ts, f0, g0, k_td)
  assert train_t.shape == (4, 8, 2) and test_t.shape == (4, 5, 2)
  np.testing.assert_allclose(train_t, REFERENCE[f"{tag}/train_t"], rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(test_t, REFERENCE[f"{tag}/test_t"], rtol=1e-9, atol=1e-12)
  train_inf, test_inf = predict_fn(None, f0, g0, k_td)
  np.testing.assert_allclose(train_inf, REFERENCE[f"{tag}/train_inf"], rtol=1e-12)
  np.testing.assert_allclose(test_inf, REFERENCE[f"{tag}/test_inf"], rtol=1e-9)
  np.testing.assert_allclose(predict_fn(ts, 0.0, 0.0, k_td)[1],
                             REFERENCE[f"{tag}/test_t_zero_init"], rtol=1e-9, atol=1e-12)


def test_gradient_descent_mse_with_output_axes_matches_neural_tangents(x64):
  # trace_axes=(): the kernel carries the output pairs, (N, N, O, O).
  k_dd, k_td, y = REFERENCE["full/k_dd"], REFERENCE["full/k_td"], REFERENCE["full/y"]
  predict_fn = predict.gradient_descent_mse(k_dd, y, learning_rate=1.3, diag_reg=1e-3,
                                            trace_axes=())
  train_t, test_t = predict_fn(_ref("ts"), 0.1 * y, np.zeros((4, 3)), k_td)
  np.testing.assert_allclose(train_t, REFERENCE["full/train_t"], rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(test_t, REFERENCE["full/test_t"], rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(predict_fn(None, 0.1 * y, np.zeros((4, 3)), k_td)[1],
                             REFERENCE["full/test_inf"], rtol=1e-9)


@pytest.mark.parametrize("reg,absolute", REGS)
def test_gp_inference_matches_neural_tangents(x64, reg, absolute):
  gp = predict.gp_inference(Pair(_ref("nngp_dd"), _ref("ntk_dd")), _ref("y_train"), diag_reg=reg,
                            diag_reg_absolute_scale=absolute)
  post = gp(("nngp", "ntk", "ntkgp"), Pair(_ref("nngp_td"), _ref("ntk_td")),
            Pair(_ref("nngp_tt"), _ref("ntk_tt")))
  for g in ("nngp", "ntk", "ntkgp"):
    for field in ("mean", "covariance"):
      np.testing.assert_allclose(getattr(getattr(post, g), field),
                                 REFERENCE[f"gp/reg={reg},abs={absolute}/{g}/{field}"],
                                 rtol=1e-8, atol=1e-12, err_msg=f"{g} {field}")
  # The mean alone is kernel ridge regression: K_td (K + r I)^-1 y with r = reg * trace / n.
  k = _ref("ntk_dd")
  r = reg if absolute else reg * np.trace(k) / 8
  ridge = _ref("ntk_td") @ np.linalg.solve(k + r * np.eye(8), _ref("y_train"))
  np.testing.assert_allclose(gp("ntk", Pair(_ref("nngp_td"), _ref("ntk_td"))), ridge, rtol=1e-9)
  assert gp("ntk").shape == (8, 2)   # train outputs: y
  np.testing.assert_array_equal(gp("nngp", None, True).covariance, np.zeros((8, 8)))


def test_gradient_flow_solves_the_function_space_ode(x64):
  # d f / dt = -(eta / |y|) Theta (f - y): compare with a fine explicit Euler integration.
  _, _, kernel_fn = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.1), stax.Relu(),
                                stax.Dense(2))
  x = jax.random.normal(jax.random.key(0), (10, 4), jnp.float64)
  y = jax.random.normal(jax.random.key(1), (6, 2), jnp.float64)
  k = kernel_fn(x, None, "ntk")
  k_dd, k_td = k[:6, :6], k[6:, :6]
  eta, t_end, steps = 2.0, 30.0, 30000
  f_train, f_test = jnp.zeros((6, 2)), jnp.zeros((4, 2))

  def euler(carry, _):
    f_train, f_test = carry
    residual = f_train - y
    dt = t_end / steps * eta / y.size
    return (f_train - dt * k_dd @ residual, f_test - dt * k_td @ residual), None

  (f_train, f_test), _ = jax.lax.scan(euler, (f_train, f_test), None, length=steps)
  train_t, test_t = predict.gradient_descent_mse(k_dd, y, learning_rate=eta)(
      t_end, 0.0, 0.0, k_td)
  np.testing.assert_allclose(train_t, f_train, rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(test_t, f_test, rtol=1e-3, atol=1e-4)
  # Long times reach the t = None (interpolating) solution; t = 0 leaves the initial outputs.
  predict_fn = predict.gradient_descent_mse(k_dd, y, learning_rate=eta)
  late, inf = predict_fn(1e7, 0.0, 0.0, k_td), predict_fn(None, 0.0, 0.0, k_td)
  np.testing.assert_allclose(late[0], inf[0], atol=1e-7)
  np.testing.assert_allclose(late[1], inf[1], rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(predict_fn(0.0, y + 1.0), y + 1.0, rtol=1e-14)


def test_predictions_use_the_shared_spectral_core(x64):
  k = REFERENCE["pred/ntk_dd"]
  y, k_td = _ref("y_train"), _ref("ntk_td")
  eig = spectral.eigh(k)
  ts = jnp.array([0.3, 5.0])
  via_spectral = jax.vmap(lambda t: spectral.predict(
      eig, k_td, y, spectral.gradient_flow_filter(eig.values, t / y.size, 0.5)))(ts)
  test_t = predict.gradient_descent_mse(k, y, learning_rate=0.5)(ts, None, 0.0, k_td)
  np.testing.assert_allclose(test_t, via_spectral, rtol=1e-12)


def test_max_learning_rate_and_errors(x64):
  k = REFERENCE["pred/ntk_dd"]
  lam = np.linalg.eigvalsh(k)[-1]
  assert float(predict.max_learning_rate(k)) == pytest.approx(2 * 8 / lam, rel=1e-10)
  assert float(predict.max_learning_rate(k, y_train_size=16, momentum=0.9)) == pytest.approx(
      2 * 1.9 * 16 / lam, rel=1e-10)
  predict_fn = predict.gradient_descent_mse(k, _ref("y_train"))
  with pytest.raises(ValueError, match="k_test_train"):
    predict_fn(1.0, 0.0, 0.0)
  with pytest.raises(ValueError, match="nothing to predict"):
    predict_fn(1.0, None, None)
  with pytest.raises(ValueError, match="k_train_train must have shape"):
    predict.gradient_descent_mse(k[:5, :5], _ref("y_train"))
  with pytest.raises(ValueError, match="nngp"):
    predict.gp_inference(Pair(None, k), _ref("y_train"))("ntk", Pair(None, _ref("ntk_td")), k)
  with pytest.raises(ValueError, match="get must be"):
    predict.gp_inference(k, _ref("y_train"))("cov1")
  assert ntk.predict is predict
