"""Empirical NTK time per implementation against a naive full-Jacobian baseline, AUTO's
choice against the measured fastest, and the analytic (infinite-width) kernel time.

  python -m benchmarks.ntk            # MLP 3 x 256 and a small CNN, N = 128, O in {1, 10}
  python -m benchmarks.ntk --nonaive  # without the (slow) naive baseline
  python -m benchmarks.ntk --quick    # small sizes, a few seconds
  python -m benchmarks.ntk_vs_nt      # structured derivatives against neural-tangents 0.6.5

Empirical cases: `trace_axes=(-1,)` (the (N, N) kernel averaged over the O logits) of
  naive (baseline): J = jax.jacrev(f)(params, X) for the whole batch, flattened, J J^T / O;
  jacobian_contraction / ntk_vector_products / structured_derivatives / auto:
    `jaxlab.ntk.empirical_ntk_fn` with `vmap_axes=0` (per-example Jacobians).
The summary table gives, per case, the measured fastest implementation, AUTO's choice (made
by timing the candidates once while AUTO's kernel function is traced) and AUTO's time over
the fastest's (median of interleaved pairs of calls; target <= 1.2), and structured derivatives over the best other method.
All rows of a case use the same tiling (`jaxlab.ntk.batch`, tile rows printed): the largest
tile whose two Jacobians (and the baseline's batched backward pass) fit in `--max_gb`. Times are medians of jitted calls after compiling
(`--naive_repeats` calls of the baseline, which costs N^2 O backward passes).
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from benchmarks.timing import median_time, print_table
from jaxlab import models, ntk
from jaxlab.ntk import stax

flags.DEFINE_integer("n", 128, "batch size N (the kernel is N x N)")
flags.DEFINE_list("outputs", ["1", "10"], "output sizes O of the MLP and the CNN")
flags.DEFINE_integer("width", 256, "MLP width")
flags.DEFINE_bool("naive", True, "time the naive full-Jacobian baseline too")
flags.DEFINE_integer("depth", 3, "MLP hidden layers")
flags.DEFINE_integer("analytic_n", 1000, "batch size of the analytic kernel")
flags.DEFINE_float("max_gb", 3.0, "memory budget for the two Jacobian tiles of a case")
flags.DEFINE_integer("repeats", 5, "timed repetitions (median reported)")
flags.DEFINE_integer("naive_repeats", 1, "timed repetitions of the (slow) naive baseline")
flags.DEFINE_bool("quick", False, "small sizes for a fast run")
FLAGS = flags.FLAGS


IMPLEMENTATIONS = ("JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS", "STRUCTURED_DERIVATIVES")


def naive_ntk_fn(f):
  """The baseline: one reverse-mode Jacobian of the whole batch, flattened, J J^T / O."""

  def ntk_fn(x1, x2, params):
    def flat_jacobian(x):
      jac = jax.jacrev(lambda p: f(p, x))(params)
      leaves = jax.tree_util.tree_leaves(jac)
      n, o = leaves[0].shape[:2]
      return jnp.concatenate([l.reshape(n * o, -1) for l in leaves], axis=1), n, o

    j1, n1, o = flat_jacobian(x1)
    j2, n2, _ = (j1, n1, o) if x2 is None else flat_jacobian(x2)
    return jnp.einsum("aobo->ab", (j1 @ j2.T).reshape(n1, o, n2, o)) / o

  return ntk_fn


def _activations_per_example(f, params, x) -> int:
  """Floats of all intermediate values of one forward pass of one example."""
  jaxpr = jax.make_jaxpr(lambda xi: f(params, xi))(x[:1])
  return sum(int(np.prod(v.aval.shape)) for eqn in jaxpr.eqns for v in eqn.outvars)


def _tile(n: int, outputs: int, num_params: int, activations: int, max_gb: float) -> int:
  """Largest power-of-two tile (<= n) whose Jacobians, and the naive baseline's batched
  backward pass (tile * O cotangents through tile examples), fit in `max_gb`."""
  def gigabytes(tile):
    naive = tile * outputs * tile * activations if FLAGS.naive else 0
    return 4 * max(2 * tile * outputs * num_params, naive) / 2 ** 30

  tile = n
  while tile > 8 and gigabytes(tile) > max_gb:
    tile //= 2
  return tile


def empirical_rows(label, f, params, x, outputs):
  num_params = models.num_params(params)
  tile = _tile(x.shape[0], outputs, num_params, _activations_per_example(f, params, x),
               FLAGS.max_gb)
  fns = {"naive (baseline)": naive_ntk_fn(f)} if FLAGS.naive else {}
  for impl in IMPLEMENTATIONS + ("AUTO",):
    fns[impl.lower()] = ntk.empirical_ntk_fn(f, vmap_axes=0, implementation=impl)
  times, kernels = {}, {}
  for name, fn in fns.items():
    jitted = jax.jit(fn)
    kernel = ntk.batch(jitted, tile) if tile < x.shape[0] else jitted
    start = time.perf_counter()
    if tile < x.shape[0]:
      jax.block_until_ready(jitted(x[:tile], x[:tile], params))   # compile the tile once
    else:
      jax.block_until_ready(jitted(x, None, params))
    first = time.perf_counter() - start
    repeats = FLAGS.naive_repeats if name.startswith("naive") else FLAGS.repeats
    repeats = 1 if first > 20 else repeats    # keep the slowest methods to one timed call
    kernels[name] = lambda kernel=kernel: kernel(x, None, params)
    times[name] = median_time(kernels[name], warmup=0, repeats=repeats)
    logging.info("%s, %s: %.1f ms (tile %d)", label, name, times[name] * 1e3, tile)
  picked = {v.name.lower() for v in fns["auto"].implementation_choices.values()}
  base = times.get("naive (baseline)")
  rows = [[label, num_params, tile, name + (f" -> {'/'.join(sorted(picked))}"
                                            if name == "auto" else ""),
           t * 1e3, None if base is None else base / t] for name, t in times.items()]
  return rows, summary_row(label, times, kernels, picked)


def interleaved_ratio(fn_a, fn_b, pairs: int) -> float:
  """Median over `pairs` back-to-back calls of time(fn_a) / time(fn_b): robust to the load
  drifting between two separately timed blocks."""
  ratios = [median_time(fn_a, warmup=0, repeats=1) / median_time(fn_b, warmup=0, repeats=1)
            for _ in range(pairs)]
  return statistics.median(ratios)


def summary_row(label, times, kernels, picked):
  """[case, fastest, its ms, AUTO's choice, AUTO ms, AUTO / fastest (interleaved pairs),
  structured / best other]."""
  methods = {k: times[k] for k in (i.lower() for i in IMPLEMENTATIONS)}
  fastest = min(methods, key=methods.get)
  others = min(t for k, t in methods.items() if k != "structured_derivatives")
  ratio = interleaved_ratio(kernels["auto"], kernels[fastest], max(3, FLAGS.repeats))
  return [label, fastest, methods[fastest] * 1e3, "/".join(sorted(picked)), times["auto"] * 1e3,
          ratio, methods["structured_derivatives"] / others]


def analytic_rows(n):
  rows = []
  d = 64
  x = jax.random.normal(jax.random.key(0), (n, d))
  tokens = jax.random.normal(jax.random.key(1), (n, 4, 16))
  nets = {
      f"relu mlp {FLAGS.depth} layers, x (N, {d})": (stax.serial(*(
          [stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu()] * FLAGS.depth),
          stax.Dense(1)), x),
      "attention block + LayerNorm + GAP, x (N, 4, 16)": (stax.serial(
          stax.Dense(64), stax.FanOut(2),
          stax.parallel(stax.GlobalSelfAttention(64, 64, 64, 4), stax.Identity()),
          stax.FanInSum(), stax.LayerNorm(), stax.Relu(), stax.GlobalAvgPool(),
          stax.Dense(1)), tokens),
  }
  for label, ((_, _, kernel_fn), inputs) in nets.items():
    jitted = jax.jit(kernel_fn, static_argnames="get")
    t = median_time(lambda: jitted(inputs, None, ("nngp", "ntk")), warmup=1,
                    repeats=FLAGS.repeats)
    logging.info("analytic %s: %.1f ms", label, t * 1e3)
    rows.append([label, n, str(jnp.result_type(float).name), t * 1e3, n * n / t / 1e6])
  return rows


def main(argv):
  del argv
  if FLAGS.quick:
    FLAGS.n, FLAGS.width, FLAGS.analytic_n, FLAGS.repeats = 64, 128, 200, 2
  key = jax.random.key(0)
  x = jax.random.normal(key, (FLAGS.n, 64))
  rows, summary = [], []
  images = jax.random.uniform(key, (FLAGS.n, 16, 16, 1))
  for outputs in map(int, FLAGS.outputs):
    mlp = models.MLP(hidden=(FLAGS.width,) * FLAGS.depth, outputs=outputs)
    params = models.init(mlp, key, x[:1])
    case = empirical_rows(f"mlp {FLAGS.depth}x{FLAGS.width}, O={outputs}", mlp.apply, params,
                          x, outputs)
    rows, summary = rows + case[0], summary + [case[1]]
  for outputs in map(int, FLAGS.outputs):
    cnn = models.build("cnn", outputs=outputs, width=32, depth=2)
    params = models.init(cnn, key, images[:1])
    case = empirical_rows(f"cnn 16-32 (16x16x1), O={outputs}", cnn.apply, params, images,
                          outputs)
    rows, summary = rows + case[0], summary + [case[1]]
  print(f"empirical NTK (N x N, trace over outputs), N={FLAGS.n}, float32, device "
        f"{jax.devices()[0].device_kind}")
  print_table(["case", "params", "tile", "implementation", "ms", "speed-up vs naive"], rows)
  print()
  print_table(["case", "fastest", "ms", "AUTO picked", "AUTO ms", "AUTO / fastest",
               "structured / best other"], summary)
  print()
  print(f"analytic kernel_fn(x, None, ('nngp', 'ntk')), jitted, N={FLAGS.analytic_n}")
  print_table(["network", "N", "dtype", "ms", "M entries/s"], analytic_rows(FLAGS.analytic_n))


if __name__ == "__main__":
  app.run(main)
