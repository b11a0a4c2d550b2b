"""`predict.gradient_descent_mse_ensemble` and `predict.gradient_descent` against values
recorded from neural-tangents 0.6.5 (tests/ntk/reference/make_nt_reference.py), and
`taylor_expand` against exact polynomial expansions."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ntk
from jaxlab.ntk import stax

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference")
REF = dict(np.load(os.path.join(DATA, "nt_reference.npz")))


def _relu_kernel_fn():
  return stax.serial(stax.Dense(64, W_std=1.5, b_std=0.1), stax.Relu(),
                     stax.Dense(1, W_std=1.5, b_std=0.1))[2]


@pytest.mark.parametrize("reg", [0.0, 0.01])
def test_ensemble_mean_and_covariance_match_neural_tangents(x64, reg):
  kernel_fn = _relu_kernel_fn()
  x_train, x_test, y_train = REF["ens/x_train"], REF["ens/x_test"], REF["ens/y_train"]
  predict_fn = ntk.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train,
                                                         learning_rate=0.7, diag_reg=reg)
  for t_name, t in (("inf", None), ("ts", REF["ens/ts"])):
    for get in ("nngp", "ntk"):
      tag = f"ens/reg={reg}/{t_name}/{get}"
      test = predict_fn(t, x_test, get, compute_cov=True)
      train = predict_fn(t, None, get, compute_cov=True)
      for got, key in ((test.mean, "test/mean"), (test.covariance, "test/covariance"),
                       (train.mean, "train/mean"), (train.covariance, "train/covariance"),
                       (predict_fn(t, x_test, get), "test/mean_only")):
        ref = REF[f"{tag}/{key}"]
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max(),
                                   err_msg=f"{tag}/{key}")


def test_gradient_descent_ode_matches_neural_tangents(x64):
  kernel_fn = _relu_kernel_fn()
  x_train, x_test, y_train = REF["ens/x_train"], REF["ens/x_test"], REF["ens/y_train"]
  k_dd = kernel_fn(x_train, None, "ntk")
  k_td = kernel_fn(x_test, x_train, "ntk")
  mse = lambda fx, y: 0.5 * jnp.mean((fx - y) ** 2)
  xent = lambda fx, y: -jnp.mean(jax.nn.log_softmax(fx) * y)
  for name, loss, y in (("mse", mse, y_train), ("xent", xent, REF["ode/labels"])):
    for momentum in (None, 0.9):
      predict_fn = ntk.predict.gradient_descent(loss, k_dd, y, learning_rate=0.5,
                                                momentum=momentum)
      train_t, test_t = predict_fn(REF["ens/ts"], REF["ode/fx_train_0"], REF["ode/fx_test_0"],
                                   k_td)
      tag = f"ode/{name}/momentum={momentum}"
      # Both integrate with adaptive Dormand-Prince (rtol 1.4e-8): agreement to ~1e-6.
      np.testing.assert_allclose(train_t, REF[f"{tag}/train"], rtol=1e-5, atol=1e-7)
      np.testing.assert_allclose(test_t, REF[f"{tag}/test"], rtol=1e-5, atol=1e-7)


def test_taylor_expand_is_exact_to_its_degree(x64):
  # f is a cubic in the parameters: degree 3 reproduces it everywhere, degree 1 is linearize.
  f = lambda p, x: p["a"] ** 3 * x + p["b"] ** 2 * x ** 2 + p["a"] * p["b"]
  p0 = {"a": jnp.float64(0.7), "b": jnp.float64(-1.2)}
  p = {"a": jnp.float64(1.1), "b": jnp.float64(0.4)}
  x = jnp.linspace(-1.0, 1.0, 5)
  np.testing.assert_allclose(ntk.taylor_expand(f, p0, 3)(p, x), f(p, x), rtol=1e-13)
  np.testing.assert_allclose(ntk.taylor_expand(f, p0, 1)(p, x), ntk.linearize(f, p0)(p, x),
                             rtol=1e-13)
  np.testing.assert_allclose(ntk.taylor_expand(f, p0, 0)(p, x), f(p0, x), rtol=1e-13)
  # degree 2 by hand: the second-order term of a^3 is 3 a0 da^2 x, of b^2 x^2 is db^2 x^2.
  da, db = 0.4, 1.6
  second = f(p0, x) + (3 * 0.7 ** 2 * da * x + 2 * -1.2 * db * x ** 2 + 0.7 * db + -1.2 * da) + (
      3 * 0.7 * da ** 2 * x + db ** 2 * x ** 2 + da * db)
  np.testing.assert_allclose(ntk.taylor_expand(f, p0, 2)(p, x), second, rtol=1e-12)
  with pytest.raises(ValueError, match="degree"):
    ntk.taylor_expand(f, p0, -1)
