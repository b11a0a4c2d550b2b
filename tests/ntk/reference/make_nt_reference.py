"""Records neural-tangents 0.6.5 reference values into tests/data/nt_reference.npz.

RUN ONLY IN A SEPARATE ENVIRONMENT, never in jaxlab's: neural-tangents is not a jaxlab
dependency. It runs on jax 0.4.23 (the last JAX whose internals its STRUCTURED_DERIVATIVES
and AUTO use; the stax kernels also run on 0.5.3) once its `experimental` subpackage (the
only part importing TensorFlow) is replaced by an empty module:

  python3 -m venv /work/nt_env_old
  /work/nt_env_old/bin/pip install jax==0.4.23 jaxlib==0.4.23 "numpy<2" "scipy<1.13" frozendict
  /work/nt_env_old/bin/pip install --no-deps neural-tangents==0.6.5
  NT=/work/nt_env_old/lib/python3.11/site-packages/neural_tangents
  mv $NT/experimental /tmp/nt_experimental && mkdir $NT/experimental
  echo '# stub: the TensorFlow-importing subpackage was removed' > $NT/experimental/__init__.py
  /work/nt_env_old/bin/python tests/ntk/reference/make_nt_reference.py

It stores, in float64, for every architecture of `nt_architectures.py`: the inputs, and the
Kernel fields nngp, ntk, cov1, cov2 of `kernel_fn(x1, x2)` and nngp, ntk, cov1 of
`kernel_fn(x1, None)` (with the architecture's kernel_fn keyword arguments), plus the
`is_reversed` / `diagonal_spatial` flags; and `nt.predict` outputs (gradient_descent_mse,
gp_inference, gradient_descent_mse_ensemble, gradient_descent with and without momentum) on
fixed kernels. tests/ntk/test_ntk_stax*.py and tests/ntk/test_ntk_predict.py compare jaxlab
against these values.
"""

import importlib.util
import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import neural_tangents as nt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from neural_tangents import stax  # pylint: disable=g-import-not-at-top,wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))


def _architectures():
  spec = importlib.util.spec_from_file_location("nt_architectures",
                                                os.path.join(HERE, "nt_architectures.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _inputs(rng):
  return {"flat": (rng.normal(size=(4, 6)), rng.normal(size=(3, 6))),
          "tokens": (rng.normal(size=(4, 3, 5)), rng.normal(size=(3, 3, 5)))}


def _image_inputs(rng):
  return {"images": (rng.normal(size=(3, 4, 3, 2)), rng.normal(size=(2, 4, 3, 2)))}


def _kernel_fields(kernel, prefix, fields):
  out = {}
  kernels = kernel if isinstance(kernel, (list, tuple)) else [kernel]
  for i, k in enumerate(kernels):
    tag = prefix if len(kernels) == 1 else f"{prefix}[{i}]"
    for f in fields:
      value = getattr(k, f)
      if f in ("is_reversed", "diagonal_spatial"):
        out[f"{tag}/{f}"] = np.asarray(float(value))
      elif value is not None:
        out[f"{tag}/{f}"] = np.broadcast_to(np.asarray(value, np.float64), k.nngp.shape
                                            if f == "ntk" else np.shape(value))
  return out


def _predictions(rng, kernel_fn):
  """nt.predict reference values on an analytic ReLU-network kernel and a random full one."""
  out = {}
  x_train, x_test = rng.normal(size=(8, 6)), rng.normal(size=(5, 6))
  y_train = rng.normal(size=(8, 2))
  k_dd = kernel_fn(x_train, None, ("nngp", "ntk"))
  k_td = kernel_fn(x_test, x_train, ("nngp", "ntk"))
  k_tt = kernel_fn(x_test, None, ("nngp", "ntk"))
  fx_train_0, fx_test_0 = rng.normal(size=(8, 2)), rng.normal(size=(5, 2))
  out.update({"pred/x_train": x_train, "pred/x_test": x_test, "pred/y_train": y_train,
              "pred/fx_train_0": fx_train_0, "pred/fx_test_0": fx_test_0,
              "pred/ntk_dd": k_dd.ntk, "pred/ntk_td": k_td.ntk, "pred/nngp_dd": k_dd.nngp,
              "pred/nngp_td": k_td.nngp, "pred/nngp_tt": k_tt.nngp, "pred/ntk_tt": k_tt.ntk})
  ts = np.array([0.0, 0.5, 3.0, 40.0])
  for reg, abs_scale in [(0.0, False), (1e-2, False), (1e-2, True)]:
    tag = f"gd_mse/reg={reg},abs={abs_scale}"
    predict_fn = nt.predict.gradient_descent_mse(k_dd.ntk, y_train, learning_rate=0.7,
                                                 diag_reg=reg, diag_reg_absolute_scale=abs_scale)
    train_t, test_t = predict_fn(ts, fx_train_0, fx_test_0, k_td.ntk)
    train_inf, test_inf = predict_fn(None, fx_train_0, fx_test_0, k_td.ntk)
    out.update({f"{tag}/train_t": train_t, f"{tag}/test_t": test_t,
                f"{tag}/train_inf": train_inf, f"{tag}/test_inf": test_inf,
                f"{tag}/test_t_zero_init": predict_fn(ts, 0.0, 0.0, k_td.ntk)[1]})
    gp = nt.predict.gp_inference(k_dd, y_train, diag_reg=reg, diag_reg_absolute_scale=abs_scale)
    post = gp(("nngp", "ntk", "ntkgp"), k_td, k_tt)
    for g in ("nngp", "ntk", "ntkgp"):
      out[f"gp/reg={reg},abs={abs_scale}/{g}/mean"] = getattr(post, g).mean
      out[f"gp/reg={reg},abs={abs_scale}/{g}/covariance"] = getattr(post, g).covariance
  # A full kernel (trace_axes=()): random PSD over (n, o) pairs, NT layout (N, N, O, O).
  n, o, m = 6, 3, 4
  a = rng.normal(size=(n * o + m * o, n * o + m * o))
  full = a @ a.T / (n * o)
  k_dd_full = full[:n * o, :n * o].reshape(n, o, n, o).transpose(0, 2, 1, 3)
  k_td_full = full[n * o:, :n * o].reshape(m, o, n, o).transpose(0, 2, 1, 3)
  y_full = rng.normal(size=(n, o))
  predict_fn = nt.predict.gradient_descent_mse(k_dd_full, y_full, learning_rate=1.3,
                                               diag_reg=1e-3, trace_axes=())
  train_t, test_t = predict_fn(ts, 0.1 * y_full, np.zeros((m, o)), k_td_full)
  out.update({"full/k_dd": k_dd_full, "full/k_td": k_td_full, "full/y": y_full,
              "full/train_t": train_t, "full/test_t": test_t,
              "full/test_inf": predict_fn(None, 0.1 * y_full, np.zeros((m, o)), k_td_full)[1]})
  out["pred/ts"] = ts
  return out


FIELDS_12 = ("nngp", "ntk", "cov1", "cov2", "is_reversed", "diagonal_spatial")
FIELDS_11 = ("nngp", "ntk", "cov1")


def _ensemble_and_ode(rng, kernel_fn):
  """nt.predict.gradient_descent_mse_ensemble and nt.predict.gradient_descent references."""
  out = {}
  x_train, x_test = rng.normal(size=(6, 6)), rng.normal(size=(4, 6))
  y_train = rng.normal(size=(6, 2))
  ts = np.array([0.0, 0.7, 5.0])
  out.update({"ens/x_train": x_train, "ens/x_test": x_test, "ens/y_train": y_train,
              "ens/ts": ts})
  for reg in (0.0, 1e-2):
    predict_fn = nt.predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train,
                                                          learning_rate=0.7, diag_reg=reg)
    for t_name, t in (("inf", None), ("ts", ts)):
      for get in ("nngp", "ntk"):
        tag = f"ens/reg={reg}/{t_name}/{get}"
        test = predict_fn(t, x_test, get, compute_cov=True)
        out[f"{tag}/test/mean"], out[f"{tag}/test/covariance"] = test.mean, test.covariance
        train = predict_fn(t, None, get, compute_cov=True)
        out[f"{tag}/train/mean"], out[f"{tag}/train/covariance"] = train.mean, train.covariance
        out[f"{tag}/test/mean_only"] = predict_fn(t, x_test, get)
  k_dd = kernel_fn(x_train, None, "ntk")
  k_td = kernel_fn(x_test, x_train, "ntk")
  fx_train_0, fx_test_0 = 0.3 * rng.normal(size=(6, 2)), 0.3 * rng.normal(size=(4, 2))
  out.update({"ode/fx_train_0": fx_train_0, "ode/fx_test_0": fx_test_0})
  mse = lambda fx, y: 0.5 * jnp.mean((fx - y) ** 2)
  labels = np.eye(2)[rng.integers(0, 2, size=6)]
  cross_entropy = lambda fx, y: -jnp.mean(jax.nn.log_softmax(fx) * y)
  out["ode/labels"] = labels
  for loss_name, loss, y in (("mse", mse, y_train), ("xent", cross_entropy, labels)):
    for momentum in (None, 0.9):
      predict_fn = nt.predict.gradient_descent(loss, k_dd, y, learning_rate=0.5,
                                               momentum=momentum)
      train_t, test_t = predict_fn(ts, fx_train_0, fx_test_0, k_td)
      out[f"ode/{loss_name}/momentum={momentum}/train"] = train_t
      out[f"ode/{loss_name}/momentum={momentum}/test"] = test_t
  return out


def main():
  rng = np.random.default_rng(20261125)
  inputs = _inputs(rng)
  module = _architectures()
  data = {f"inputs/{kind}/{i}": x for kind, pair in inputs.items() for i, x in enumerate(pair)}
  images = _image_inputs(np.random.default_rng(20261205))
  data.update({f"inputs/{kind}/{i}": x for kind, pair in images.items()
               for i, x in enumerate(pair)})
  inputs.update(images)
  for name, entry in module.ARCHITECTURES.items():
    kind, build = entry[:2]
    kwargs = entry[2] if len(entry) > 2 else {}
    _, _, kernel_fn = build(stax)
    x1, x2 = module.inputs_of(kind, inputs)
    data.update(_kernel_fields(kernel_fn(x1, x2, None, **kwargs), f"{name}/x1x2", FIELDS_12))
    data.update(_kernel_fields(kernel_fn(x1, None, None, **kwargs), f"{name}/x1x1", FIELDS_11))
  _, _, relu_kernel_fn = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.1), stax.Relu(),
                                     stax.Dense(1, W_std=1.5, b_std=0.1))
  data.update(_predictions(rng, relu_kernel_fn))
  data.update(_ensemble_and_ode(np.random.default_rng(20261206), relu_kernel_fn))
  data = {k: np.asarray(v, np.float64) for k, v in data.items()}
  path = os.path.join(HERE, "nt_reference.npz")
  np.savez_compressed(path, **data)
  print(f"neural-tangents {nt.__version__}, jax {jax.__version__}: {len(data)} arrays, "
        f"{os.path.getsize(path) / 1024:.0f} KB -> {path}", file=sys.stderr)


if __name__ == "__main__":
  main()
