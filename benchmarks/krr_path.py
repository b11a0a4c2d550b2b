"""Kernel ridge learning-curve grid: one eigendecomposition per design for all ridges
(`jaxlab.kernels.ridge`) against a loop of scikit-learn `KernelRidge` fits, same data, same run.

  python -m benchmarks.krr_path            # n in 256..4096, 30 ridges, 5 designs
  python -m benchmarks.krr_path --quick    # n in 128..1024, 2 designs (a few seconds)

Per n: wall time of the whole grid (designs x ridges: kernel, fit, test predictions) for both,
the speed-up, the largest relative difference of the predictions (target <= 1e-8), and the
time of one float64 `eigh` of the n x n Gram, the floor of the eigendecomposition path.
RBF kernel exp(-|x - x'|^2 / (2 l^2)), inputs N(0, I_5), l = sqrt(5), ridge grid
lambda in logspace(-6, 0) with n lambda on the diagonal (scikit-learn's alpha = n lambda).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from benchmarks.timing import median_time, print_table

flags.DEFINE_bool("quick", False, "small grid: n in 128..1024, 2 designs")
flags.DEFINE_list("ns", None, "sample sizes (default 256,512,1024,2048,4096; quick 128..1024)")
flags.DEFINE_integer("designs", None, "designs per n (default 5; quick 2)")
flags.DEFINE_integer("num_lams", 30, "ridges per design")
flags.DEFINE_integer("dim", 5, "input dimension")
flags.DEFINE_integer("num_test", 500, "test points")
flags.DEFINE_integer("repeats", 3, "timed repetitions of the jaxlab path (median)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  jax.config.update("jax_enable_x64", True)
  from sklearn.kernel_ridge import KernelRidge  # pylint: disable=g-import-not-at-top
  from jaxlab.kernels import kernel_fns, ridge  # pylint: disable=g-import-not-at-top

  ns = [int(n) for n in FLAGS.ns] if FLAGS.ns else (
      [128, 256, 512, 1024] if FLAGS.quick else [256, 512, 1024, 2048, 4096])
  designs = FLAGS.designs or (2 if FLAGS.quick else 5)
  d, m = FLAGS.dim, FLAGS.num_test
  lengthscale = float(np.sqrt(d))
  lams = np.logspace(-6, 0, FLAGS.num_lams)
  kernel = kernel_fns.rbf(lengthscale)

  @jax.jit
  def path_grid(x, y, x_test, lams_):
    """All designs x ridges: (designs, L, m) predictions, one eigh per design."""
    def one(xi, yi):
      p = ridge.path(kernel(xi))
      return ridge.predictions(p, kernel(x_test, xi), yi, lams_)
    return jax.lax.map(lambda a: one(*a), (x, y))

  eigh_jit = jax.jit(jnp.linalg.eigh)
  rows = []
  for n in ns:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(designs, n, d))
    y = np.sin(x[..., 0]) + x[..., 1] ** 2 / 2 + 0.3 * rng.normal(size=(designs, n))
    x_test = rng.normal(size=(m, d))
    args = tuple(jnp.asarray(a) for a in (x, y, x_test, lams))
    compiled = path_grid.lower(*args).compile()       # compilation is not timed
    t0 = time.perf_counter()
    preds = np.asarray(jax.block_until_ready(compiled(*args)))
    t_path = time.perf_counter() - t0
    if FLAGS.repeats > 1:
      t_path = median_time(lambda: compiled(*args), warmup=0, repeats=FLAGS.repeats)

    t0 = time.perf_counter()
    sk = np.empty_like(preds)
    for i in range(designs):
      for j, lam in enumerate(lams):
        model = KernelRidge(alpha=n * lam, kernel="rbf", gamma=1.0 / (2 * lengthscale**2))
        sk[i, j] = model.fit(x[i], y[i]).predict(x_test)
    t_sk = time.perf_counter() - t0

    rel = np.max(np.linalg.norm(preds - sk, axis=-1) / np.linalg.norm(sk, axis=-1))
    gram = kernel(jnp.asarray(x[0]))
    eigh_c = eigh_jit.lower(gram).compile()
    t_eigh = median_time(lambda: eigh_c(gram), warmup=0, repeats=FLAGS.repeats)
    rows.append([n, designs, len(lams), t_sk, t_path, t_sk / t_path, float(rel),
                 "yes" if rel <= 1e-8 else "NO", t_eigh, designs * t_eigh / t_path])
    logging.info("n = %d: sklearn %.2fs, path %.2fs (%.1fx), max rel diff %.1e, eigh %.2fs", n,
                 t_sk, t_path, t_sk / t_path, rel, t_eigh)
  t_sk_all, t_path_all = sum(r[3] for r in rows), sum(r[4] for r in rows)
  rows.append(["all", designs, len(lams), t_sk_all, t_path_all, t_sk_all / t_path_all,
               max(r[6] for r in rows), "yes" if all(r[7] == "yes" for r in rows) else "NO",
               "", ""])
  print(f"KRR learning-curve grid ({designs} designs x {len(lams)} ridges per n, d = {d}, "
        f"{m} test points), float64, device {jax.devices()[0].device_kind}")
  print_table(["n", "designs", "ridges", "sklearn loop s (baseline)", "jaxlab path s",
               "speed-up", "max rel diff", "<= 1e-8", "one eigh s", "eigh share of path"],
              rows)


if __name__ == "__main__":
  app.run(main)
