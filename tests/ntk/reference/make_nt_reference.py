"""Records neural-tangents 0.6.5 reference values into tests/data/nt_reference.npz.

RUN ONLY IN A SEPARATE ENVIRONMENT, never in jaxlab's: neural-tangents is not a jaxlab
dependency. It runs on jax 0.5.3 once its `experimental` subpackage (the only part importing
TensorFlow) is replaced by an empty module:

  python3 -m venv /work/venv-nt
  /work/venv-nt/bin/pip install jax==0.5.3 jaxlib==0.5.3 neural-tangents==0.6.5
  NT=/work/venv-nt/lib/python3.11/site-packages/neural_tangents
  mv $NT/experimental /tmp/nt_experimental && mkdir $NT/experimental
  echo '# stub: the TensorFlow-importing subpackage was removed' > $NT/experimental/__init__.py
  /work/venv-nt/bin/python tests/data/make_nt_reference.py

It stores, in float64, for every architecture of `nt_architectures.py`: the inputs, and the
Kernel fields nngp, ntk, cov1, cov2 of `kernel_fn(x1, x2)` and nngp, ntk, cov1 of
`kernel_fn(x1, None)`; plus `nt.predict` outputs (gradient_descent_mse, gp_inference) on fixed
kernels. tests/test_ntk_stax.py and tests/test_ntk_predict.py
compare jaxlab against these values.
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
  return module.ARCHITECTURES


def _inputs(rng):
  return {"flat": (rng.normal(size=(4, 6)), rng.normal(size=(3, 6))),
          "tokens": (rng.normal(size=(4, 3, 5)), rng.normal(size=(3, 3, 5)))}


def _kernel_fields(kernel, prefix, fields):
  out = {}
  kernels = kernel if isinstance(kernel, (list, tuple)) else [kernel]
  for i, k in enumerate(kernels):
    tag = prefix if len(kernels) == 1 else f"{prefix}[{i}]"
    for f in fields:
      value = getattr(k, f)
      if value is not None:
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


def main():
  rng = np.random.default_rng(20261125)
  inputs = _inputs(rng)
  data = {f"inputs/{kind}/{i}": x for kind, pair in inputs.items() for i, x in enumerate(pair)}
  for name, (kind, build) in _architectures().items():
    _, _, kernel_fn = build(stax)
    x1, x2 = (jnp.asarray(x) for x in inputs[kind])
    data.update(_kernel_fields(kernel_fn(x1, x2, None), f"{name}/x1x2",
                               ("nngp", "ntk", "cov1", "cov2")))
    data.update(_kernel_fields(kernel_fn(x1, None, None), f"{name}/x1x1",
                               ("nngp", "ntk", "cov1")))
  _, _, relu_kernel_fn = stax.serial(stax.Dense(64, W_std=1.5, b_std=0.1), stax.Relu(),
                                     stax.Dense(1, W_std=1.5, b_std=0.1))
  data.update(_predictions(rng, relu_kernel_fn))
  data = {k: np.asarray(v, np.float64) for k, v in data.items()}
  path = os.path.join(HERE, "nt_reference.npz")
  np.savez_compressed(path, **data)
  print(f"neural-tangents {nt.__version__}, jax {jax.__version__}: {len(data)} arrays, "
        f"{os.path.getsize(path) / 1024:.0f} KB -> {path}", file=sys.stderr)


if __name__ == "__main__":
  main()
