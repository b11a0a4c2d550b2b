"""Learned-Soup+ versus MEHL-Soup+: peak memory and coefficient-learning time as K grows, and
at the paper's K = 72 on a ViT as the block size b shrinks.

  python -m benchmarks.soup_memory              # MLP, K in 8, 16, 32, 72
  python -m benchmarks.soup_memory --quick      # MLP, K in 8, 16, fewer repeats, no RSS
  python -m benchmarks.soup_memory --case=vit   # ViT 6x192, K = 72, b in 18, 4, 2

K ingredients (a shared start plus seeded perturbations, saved as orbax checkpoints, so MEHL
really streams them from disk) of the default experiment's model (MLP 256-256 on 16x16
digits). For every K, in the same run:
- peak bytes: XLA memory analysis of each method's largest compiled step (arguments + outputs
  + temporaries - donated aliases) plus resident bytes outside it, as in the experiment;
- step ms: median time of one compiled coefficient step on one val batch;
- s per val pass: the whole construction (loading included, compile excluded) divided by the
  passes over val it makes (Learned-Soup+: `learned_epochs`; MEHL-Soup+: ceil(K/b) E T);
- peak RSS of a fresh process that loads the ingredients and builds one soup (`--rss`).
Learned-Soup+ is the efficient JAX baseline: only the coefficients are differentiated, the
stacked ingredients are `stop_gradient` inputs (no ingredient gradients; see the paper spec,
section 3, items 4 and 7). Accuracy is not measured here (the ingredients are synthetic); see
`experiments/mehl_soup.py`.

`--case=vit` (the paper's model family: a ViT of `--vit_depth` blocks of `--vit_width` on 4x4
patches of the 16x16 digits, 16 tokens) builds each soup once, in a fresh process per
(method, b), at K = `--vit_k` for every b of `--vit_block_sizes`, and reports per b: peak
bytes (compiled step + resident, as above), the process's peak RSS, seconds per coefficient
epoch (one pass over val in steady state; MEHL's includes loading its block) and the whole
construction (compile excluded, loading included), each as Learned-Soup+ / MEHL-Soup+ ratios.
Learned-Soup+ does not depend on b and is built once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import optax
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab import data, models
from jaxlab.soups import combine, ingredients, learned, mehl, memory
from jaxlab.soups.base import batch_like

flags.DEFINE_list("ks", ["8", "16", "32", "72"], "numbers of ingredients K")
flags.DEFINE_integer("block_size", 4, "MEHL block size b")
flags.DEFINE_enum("centre", "global_mean", list(mehl.CENTRES), "MEHL centre")
flags.DEFINE_integer("width", 256, "MLP width")
flags.DEFINE_integer("depth", 2, "MLP hidden layers")
flags.DEFINE_integer("batch_size", 8, "coefficient (val) batch size")
flags.DEFINE_integer("learned_epochs", 5, "Learned-Soup+ passes over val")
flags.DEFINE_integer("coef_epochs", 5, "MEHL-Soup+ passes over val per block (E)")
flags.DEFINE_integer("repeats", 20, "timed repetitions of one step (median reported)")
flags.DEFINE_bool("rss", True, "measure peak RSS of each method in a fresh process")
flags.DEFINE_bool("quick", False, "K in 8,16, 5 repeats, no RSS processes")
flags.DEFINE_enum("case", "mlp", ["mlp", "vit"], "mlp: K sweep; vit: K = vit_k, b sweep")
flags.DEFINE_integer("vit_k", 72, "vit case: number of ingredients K")
flags.DEFINE_list("vit_block_sizes", ["18", "4", "2"], "vit case: MEHL block sizes b")
flags.DEFINE_integer("vit_width", 192, "vit case: token width")
flags.DEFINE_integer("vit_depth", 6, "vit case: encoder blocks")
flags.DEFINE_integer("vit_heads", 3, "vit case: attention heads")
flags.DEFINE_integer("vit_patch", 4, "vit case: patch side (16x16 digits)")
flags.DEFINE_integer("val_size", 0, "first val images the soups learn on (0: all 360)")
flags.DEFINE_string("worker", None, "internal: 'method,K,b,directory' for one fresh process")
FLAGS = flags.FLAGS


def _setup():
  ds = data.load("digits", image_size=16)
  if FLAGS.val_size:
    ds = dataclasses.replace(ds, val=data.Split(ds.val.x[:FLAGS.val_size],
                                                ds.val.y[:FLAGS.val_size]))
  if FLAGS.case == "vit":
    model = models.build("vit", outputs=10, width=FLAGS.vit_width, depth=FLAGS.vit_depth,
                         patch_size=FLAGS.vit_patch, num_heads=FLAGS.vit_heads)
  else:
    model = models.build("mlp", outputs=10, width=FLAGS.width, depth=FLAGS.depth)
  start = models.init(model, jax.random.key(0), ds.train.x[:1])
  return ds, model, start


def _make_store(directory: str, start, k: int) -> ingredients.IngredientStore:
  store = ingredients.IngredientStore(directory, like=memory.abstract(start), size=k)
  key = jax.random.key(1)
  for i in range(k):
    if not store.exists(i):
      params = jax.tree_util.tree_map(
          lambda x, i=i: x + 0.02 * jax.random.normal(jax.random.fold_in(key, i), x.shape),
          start)
      store.save(i, params, {"ingredient": i})
  return store


def _build(method: str, store, model, ds, block_size: int, log_fn=None):
  if method == "learned_plus":
    return learned.learned_soup(store, model.apply, ds.val, per_layer=True,
                                key=jax.random.key(2), epochs=FLAGS.learned_epochs,
                                batch_size=FLAGS.batch_size, log_fn=log_fn)
  return mehl.mehl_soup(store, model.apply, ds.val, block_size=block_size,
                        key=jax.random.key(2), epochs=FLAGS.coef_epochs,
                        batch_size=FLAGS.batch_size, centre=FLAGS.centre, log_fn=log_fn)


def measure(method: str, store, model, ds, block_size: int) -> dict[str, float]:
  """Builds one soup and returns its cost: `peak_bytes` (compiled step + resident),
  `wall_s` (compile excluded, loading included), `val_passes`, `s_per_pass` (wall_s /
  val_passes), `epoch_s` (one coefficient epoch = one pass over val in steady state: the
  median time between Learned-Soup+'s epoch ends, or between MEHL-Soup+'s block ends divided
  by E, which includes loading the block's b ingredients; None with a single epoch or block),
  `compile_s`, and the peak RSS of this process during the build (`peak_rss_bytes`, with
  `start_rss_bytes` before it)."""
  ends = []
  with memory.PeakRSS() as rss:
    cost = _build(method, store, model, ds, block_size,
                  log_fn=lambda *_: ends.append(time.perf_counter())).cost
  per_end = 1 if method == "learned_plus" else FLAGS.coef_epochs
  epoch_s = float(np.median(np.diff(ends))) / per_end if len(ends) > 1 else None
  return {"peak_bytes": float(cost.peak_bytes), "wall_s": cost.wall_s,
          "val_passes": cost.val_passes, "s_per_pass": cost.wall_s / cost.val_passes,
          "epoch_s": epoch_s, "compile_s": cost.compile_s,
          "peak_rss_bytes": float(rss.peak_bytes), "start_rss_bytes": float(rss.start_bytes)}


def _worker(spec: str) -> None:
  method, k, b, directory = spec.split(",", 3)
  ds, model, start = _setup()
  store = ingredients.IngredientStore(directory, like=memory.abstract(start), size=int(k))
  del start
  print(json.dumps(measure(method, store, model, ds, int(b))))


def _fresh(method: str, k: int, b: int, directory: str) -> dict[str, float]:
  """`measure` in a fresh process (so its RSS is this build's alone)."""
  proc = subprocess.run([sys.executable, "-m", "benchmarks.soup_memory",
                         f"--worker={method},{k},{b},{directory}"] + _forwarded(),
                        capture_output=True, text=True, check=True,
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _rss(method: str, k: int, directory: str) -> float:
  return _fresh(method, k, FLAGS.block_size, directory)["peak_rss_bytes"] / 2**20


def _forwarded() -> list[str]:
  return [f"--{n}={FLAGS[n].value}" for n in (
      "centre", "width", "depth", "batch_size", "learned_epochs", "coef_epochs", "case", "val_size",
      "vit_width", "vit_depth", "vit_heads", "vit_patch")]


def _step_ms(step, state, ingredients_arg, batch, repeats) -> float:
  holder = [state]

  def one():
    holder[0], metrics = step(holder[0], ingredients_arg, batch)
    return metrics

  return median_time(one, warmup=2, repeats=repeats) * 1e3


def vit_rows(block_sizes: list[int], build) -> list[list[float]]:
  """One row per b: Learned-Soup+ (built once; b unused) against MEHL-Soup+ with blocks of b,
  each a `measure` record from `build(method, b)`; MiB, seconds and L+/M+ ratios, then the
  passes over val of each. A coefficient epoch without a steady-state time (one epoch or one
  block) falls back to wall_s / val_passes."""
  lp = build("learned_plus", max(block_sizes))
  rows = []
  for b in block_sizes:
    mp = build("mehl_plus", b)
    for r in (lp, mp):
      r["epoch_s"] = r["epoch_s"] or r["s_per_pass"]
    rows.append([b] + [v for key, scale in (("peak_bytes", 2**20), ("peak_rss_bytes", 2**20),
                                             ("epoch_s", 1), ("wall_s", 1))
                       for v in (lp[key] / scale, mp[key] / scale, lp[key] / mp[key])]
                + [lp["val_passes"], mp["val_passes"]])
  return rows


def main_vit() -> None:
  """The ViT case: K = vit_k ingredients, each soup built in a fresh process per b."""
  ds, model, start = _setup()
  k, block_sizes = FLAGS.vit_k, [int(b) for b in FLAGS.vit_block_sizes]
  with tempfile.TemporaryDirectory(prefix="soup_memory_vit_") as tmp:
    directory = os.path.join(tmp, "ingredients")
    _make_store(directory, start, k)

    def build(method, b):
      record = _fresh(method, k, b, directory)
      print(method, "" if method == "learned_plus" else f"b={b}", json.dumps(record),
            flush=True)
      return record

    rows = vit_rows(block_sizes, build)
  headers = ["b", "L+ MiB", "M+ MiB", "mem ratio", "L+ RSS MiB", "M+ RSS MiB", "RSS ratio",
             "L+ s/epoch", "M+ s/epoch", "epoch ratio", "L+ total s", "M+ total s",
             "total ratio", "L+ passes", "M+ passes"]
  print(f"Learned-Soup+ (baseline) vs MEHL-Soup+ (centre={FLAGS.centre}, E={FLAGS.coef_epochs}, "
        f"T=1; Learned-Soup+ {FLAGS.learned_epochs} epochs), ViT {FLAGS.vit_depth}x"
        f"{FLAGS.vit_width} ({FLAGS.vit_heads} heads, {FLAGS.vit_patch}x{FLAGS.vit_patch} "
        f"patches of 16x16 digits; {models.num_params(start)} params, "
        f"D = {combine.tree_bytes(memory.abstract(start)) / 2**20:.2f} MiB), K = {k}, "
        f"{len(ds.val)} val images, val batch {FLAGS.batch_size}, device "
        f"{jax.devices()[0].device_kind}; each soup built once in a fresh process")
  print_table(headers, rows)


def main(argv):
  del argv
  if FLAGS.worker:
    _worker(FLAGS.worker)
    return
  if FLAGS.case == "vit":
    main_vit()
    return
  ks = [8, 16] if FLAGS.quick else sorted(int(k) for k in FLAGS.ks)
  repeats = 5 if FLAGS.quick else FLAGS.repeats
  rss = FLAGS.rss and not FLAGS.quick
  ds, model, start = _setup()
  like = memory.abstract(start)
  d_bytes = combine.tree_bytes(like)
  groups = combine.leaf_groups(like, per_layer=True)
  batch_shape = batch_like(ds.val, FLAGS.batch_size)
  batch = {"x": ds.val.x[:FLAGS.batch_size], "y": ds.val.y[:FLAGS.batch_size]}
  tx = optax.adamw(0.01, weight_decay=0.0)
  lopt = learned.learned_soup_optimizer(model.apply, groups, tx)
  mopt = mehl.mehl_block_optimizer(model.apply, groups, tx)
  rows = []
  with tempfile.TemporaryDirectory(prefix="soup_memory_") as tmp:
    directory = os.path.join(tmp, "ingredients")
    _make_store(directory, start, max(ks))
    for k in ks:
      store = ingredients.IngredientStore(directory, like=like, size=k)
      soups = {m: _build(m, store, model, ds, FLAGS.block_size)
               for m in ("learned_plus", "mehl_plus")}
      stacked = combine.stack(store)
      step, _, _ = learned.compile_update(lopt, like, k, batch_shape)
      l_ms = _step_ms(step, lopt.init(stacked), stacked, batch, repeats)
      del stacked
      b = min(FLAGS.block_size, k)
      msteps = mehl.compile_steps(mopt, like, b, groups, batch_shape, memory_only=True)
      block = mehl.Block(start, combine.stack([store[i] for i in range(b)]))
      m_ms = _step_ms(msteps.update, mopt.init(block), block, batch, repeats)
      del block
      lc, mc = soups["learned_plus"].cost, soups["mehl_plus"].cost
      l_pass, m_pass = lc.wall_s / lc.val_passes, mc.wall_s / mc.val_passes
      row = [k, lc.peak_bytes / 2**20, mc.peak_bytes / 2**20, lc.peak_bytes / mc.peak_bytes,
             l_ms, m_ms, l_ms / m_ms, l_pass, m_pass, l_pass / m_pass, lc.wall_s, mc.wall_s]
      if rss:
        row += [_rss("learned_plus", k, directory), _rss("mehl_plus", k, directory)]
      rows.append(row)
  headers = ["K", "L+ MiB", "M+ MiB", "mem ratio", "L+ step ms", "M+ step ms", "step ratio",
             "L+ s/pass", "M+ s/pass", "pass ratio", "L+ total s", "M+ total s"]
  if rss:
    headers += ["L+ RSS MiB", "M+ RSS MiB"]
  print(f"Learned-Soup+ (baseline) vs MEHL-Soup+ (b={FLAGS.block_size}, centre={FLAGS.centre}), "
        f"MLP {FLAGS.depth}x{FLAGS.width} ({models.num_params(start)} params, "
        f"D = {d_bytes / 2**20:.2f} MiB), val batch {FLAGS.batch_size}, "
        f"device {jax.devices()[0].device_kind}; analytic resident ratio K/(b+3) at "
        f"K={ks[-1]}: {ks[-1] / (min(FLAGS.block_size, ks[-1]) + 3):.1f}")
  print_table(headers, rows)
  passes = math.ceil(ks[-1] / min(FLAGS.block_size, ks[-1])) * FLAGS.coef_epochs
  print(f"passes over val at K={ks[-1]}: Learned-Soup+ {FLAGS.learned_epochs}, "
        f"MEHL-Soup+ {passes}")


if __name__ == "__main__":
  app.run(main)
