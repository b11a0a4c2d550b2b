"""Learned-Soup+ versus MEHL-Soup+: peak memory and coefficient-learning time as K grows.

  python -m benchmarks.soup_memory            # K in 8, 16, 32, 72
  python -m benchmarks.soup_memory --quick    # K in 8, 16, fewer repeats, no RSS processes

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
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile

import jax
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
flags.DEFINE_string("worker", None, "internal: 'method,K,directory' for one RSS process")
FLAGS = flags.FLAGS


def _setup():
  ds = data.load("digits", image_size=16)
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


def _build(method: str, store, model, ds):
  if method == "learned_plus":
    return learned.learned_soup(store, model.apply, ds.val, per_layer=True,
                                key=jax.random.key(2), epochs=FLAGS.learned_epochs,
                                batch_size=FLAGS.batch_size)
  return mehl.mehl_soup(store, model.apply, ds.val, block_size=FLAGS.block_size,
                        key=jax.random.key(2), epochs=FLAGS.coef_epochs,
                        batch_size=FLAGS.batch_size, centre=FLAGS.centre)


def _worker(spec: str) -> None:
  method, k, directory = spec.split(",", 2)
  ds, model, start = _setup()
  store = ingredients.IngredientStore(directory, like=memory.abstract(start), size=int(k))
  del start
  with memory.PeakRSS() as rss:
    _build(method, store, model, ds)
  print(json.dumps({"peak_rss_bytes": rss.peak_bytes, "start_rss_bytes": rss.start_bytes}))


def _rss(method: str, k: int, directory: str) -> float:
  proc = subprocess.run([sys.executable, "-m", "benchmarks.soup_memory",
                         f"--worker={method},{k},{directory}"] + _forwarded(),
                        capture_output=True, text=True, check=True,
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  return json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_bytes"] / 2**20


def _forwarded() -> list[str]:
  return [f"--{n}={FLAGS[n].value}" for n in ("block_size", "centre", "width", "depth",
                                                "batch_size", "learned_epochs", "coef_epochs")]


def _step_ms(step, state, ingredients_arg, batch, repeats) -> float:
  holder = [state]

  def one():
    holder[0], metrics = step(holder[0], ingredients_arg, batch)
    return metrics

  return median_time(one, warmup=2, repeats=repeats) * 1e3


def main(argv):
  del argv
  if FLAGS.worker:
    _worker(FLAGS.worker)
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
      soups = {m: _build(m, store, model, ds) for m in ("learned_plus", "mehl_plus")}
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
