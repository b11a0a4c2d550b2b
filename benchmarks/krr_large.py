"""Kernel ridge regression beyond one eigendecomposition: the matrix-free solver
(`jaxlab.kernels.ridge_cg`: Nystrom-preconditioned CG over tiled kernel-vector products)
against scikit-learn's direct `KernelRidge` (an n x n Gram and a dense solve), same data,
same run, time and peak memory against n.

  python -m benchmarks.krr_large                         # n = 2,000 .. 50,000 (about 30 min
                                                         # on 2 cores; sklearn up to 10,000)
  python -m benchmarks.krr_large --ns=1000,2000 --sklearn_max_n=2000    # a quick look

Every (method, n) runs in a fresh subprocess, so its peak resident memory (`ru_maxrss`,
including the Python / JAX / NumPy runtime: the `runtime` row is an empty child after the
imports) belongs to it alone. Times are wall-clock of one end-to-end fit + prediction at
`num_test` points, compilation included (one call, as a user runs it). "rel diff" is
||f_cg - f_sklearn|| / ||f_sklearn|| over the test predictions where both run; "bound" is
the CG solution's certified relative error against the exact solve (`Solution.error_bound`),
for every n. RBF kernel with lengthscale sqrt(d), inputs N(0, I_d), y = sin(x_0) + x_1^2 / 2
+ 0.3 noise, one ridge lambda (n lambda on the diagonal = scikit-learn's alpha).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

from benchmarks.timing import print_table

flags.DEFINE_list("ns", ["2000", "5000", "10000", "20000", "50000"], "training set sizes")
flags.DEFINE_integer("sklearn_max_n", 10000, "largest n for scikit-learn's direct solve")
flags.DEFINE_enum("precision", "float64", ["float32", "float64"], "the CG solver's dtype")
flags.DEFINE_float("lam", 1e-3, "ridge lambda (n lambda on the Gram's diagonal)")
flags.DEFINE_integer("num_centres", 1000, "Nystrom centres M of the preconditioner")
flags.DEFINE_integer("dim", 5, "input dimension")
flags.DEFINE_integer("num_test", 1000, "test points")
flags.DEFINE_integer("devices", 1, "host CPU devices for the CG solver's mesh (1: no mesh)")
flags.DEFINE_string("child", None, "internal: run one method ('cg', 'sklearn', 'runtime')")
flags.DEFINE_integer("n", 0, "internal: the child's n")
flags.DEFINE_string("out", None, "internal: the child's output folder")
FLAGS = flags.FLAGS


def _data(n: int, d: int, m: int):
  rng = np.random.default_rng(n)
  x = rng.normal(size=(n, d))
  y = np.sin(x[:, 0]) + x[:, 1] ** 2 / 2 + 0.3 * rng.normal(size=n)
  return x, y, rng.normal(size=(m, d))


def _cg(n: int) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  from jaxlab.kernels import kernel_fns, ridge_cg, tiled  # pylint: disable=g-import-not-at-top
  x, y, x_test = _data(n, FLAGS.dim, FLAGS.num_test)
  with jax.enable_x64(FLAGS.precision == "float64"):
    dt = np.dtype(FLAGS.precision)
    kernel = kernel_fns.rbf(float(np.sqrt(FLAGS.dim)))
    mesh = tiled.row_mesh() if FLAGS.devices > 1 else None
    t0 = time.perf_counter()
    sol = ridge_cg.solve(kernel, x.astype(dt), y.astype(dt), FLAGS.lam, key=jax.random.key(0),
                         num_centres=min(n, FLAGS.num_centres), mesh=mesh)
    pred = np.asarray(ridge_cg.predict(kernel, x_test.astype(dt), x.astype(dt), sol.alpha,
                                       mesh=mesh))
    seconds = time.perf_counter() - t0
  return {"seconds": seconds, "pred": pred, "iterations": sol.iterations,
          "bound": sol.error_bound}


def _sklearn(n: int) -> dict:
  from sklearn.kernel_ridge import KernelRidge  # pylint: disable=g-import-not-at-top
  x, y, x_test = _data(n, FLAGS.dim, FLAGS.num_test)
  t0 = time.perf_counter()
  model = KernelRidge(alpha=n * FLAGS.lam, kernel="rbf", gamma=1.0 / (2 * FLAGS.dim))
  pred = model.fit(x, y).predict(x_test)
  return {"seconds": time.perf_counter() - t0, "pred": pred}


def _child() -> None:
  """One (method, n) in this process; writes `result.json` (+ `pred.npy`) into FLAGS.out."""
  if FLAGS.devices > 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={FLAGS.devices}")
  for module in ("jax", "sklearn.kernel_ridge", "jaxlab.kernels"):   # the same runtime for all
    importlib.import_module(module)
  out = {"runtime": lambda n: {}, "cg": _cg, "sklearn": _sklearn}[FLAGS.child](FLAGS.n)
  if "pred" in out:
    np.save(os.path.join(FLAGS.out, "pred.npy"), out.pop("pred"))
  out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
  with open(os.path.join(FLAGS.out, "result.json"), "w") as f:
    json.dump(out, f)


def _run(method: str, n: int, folder: str) -> dict:
  """Runs one child; its result, with its predictions under 'pred' (if any)."""
  out = os.path.join(folder, f"{method}_{n}")
  os.makedirs(out)
  args = [sys.executable, "-m", "benchmarks.krr_large", f"--child={method}", f"--n={n}",
          f"--out={out}"] + [f"--{k}={getattr(FLAGS, k)}" for k in (
              "precision", "lam", "num_centres", "dim", "num_test", "devices")]
  subprocess.run(args, check=True)
  with open(os.path.join(out, "result.json")) as f:
    result = json.load(f)
  if os.path.exists(os.path.join(out, "pred.npy")):
    result["pred"] = np.load(os.path.join(out, "pred.npy"))
  print(f"{method} n={n}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()
                                        if isinstance(v, (int, float))), flush=True)
  return result


def _row(n: int, cg: dict, sk: dict | None) -> list:
  if sk is None:
    return [n, cg["seconds"], cg["peak_gib"], cg["iterations"], cg["bound"], "-", "-", "-",
            "-", "-"]
  rel = float(np.linalg.norm(cg["pred"] - sk["pred"]) / np.linalg.norm(sk["pred"]))
  return [n, cg["seconds"], cg["peak_gib"], cg["iterations"], cg["bound"], sk["seconds"],
          sk["peak_gib"], sk["seconds"] / cg["seconds"], sk["peak_gib"] / cg["peak_gib"], rel]


def main(argv):
  del argv
  if FLAGS.child:
    _child()
    return
  ns = sorted(int(n) for n in FLAGS.ns)
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    runtime = _run("runtime", 0, folder)
    for n in ns:
      cg = _run("cg", n, folder)
      sk = _run("sklearn", n, folder) if n <= FLAGS.sklearn_max_n else None
      rows.append(_row(n, cg, sk))
  print(f"\nKRR, one ridge lambda = {FLAGS.lam:g}, RBF, d = {FLAGS.dim}, {FLAGS.num_test} test "
        f"points; CG: {FLAGS.precision}, M = {FLAGS.num_centres} Nystrom centres, "
        f"{FLAGS.devices} device(s); sklearn: float64 direct. {os.cpu_count()} CPUs. Peak "
        f"memory includes the runtime ({runtime['peak_gib']:.2f} GiB for an empty child).")
  print_table(["n", "CG s", "CG peak GiB", "CG iters", "CG bound", "sklearn s",
               "sklearn peak GiB", "time ratio sk/CG", "memory ratio sk/CG", "rel diff"], rows)


if __name__ == "__main__":
  app.run(main)
