"""Adversarial-training step time: FGSM, ELLE, ELLE-A, GradAlign and PGD-10 AT, each one jitted
`training.make_train_step` on the same CNN and batch (digits at 32x32), measured in the same run.

  python -m benchmarks.adversarial_step [--batch_size=128] [--repeats=100] [--quick]

Targets (paper 9): ELLE <= 0.5x GradAlign; ELLE / FGSM near the analytic 2.5 (forward+backward
passes on B inputs: FGSM 2, ELLE 2 + 3 = 5, GradAlign ~6 with double backprop, PGD-10 11).
Next to the times, the FLOPs of each compiled step from XLA's cost analysis: what the step
really computes after XLA has merged shared work (e.g. FGSM's attack gradient from a zero
start is GradAlign's clean input gradient, so GradAlign costs less than its analytic count).
"""

from __future__ import annotations

import jax
import optax
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab import data, models
from jaxlab.adversarial import training

flags.DEFINE_integer("batch_size", 128, "batch size")
flags.DEFINE_integer("repeats", 100, "timed steps per method (median reported)")
flags.DEFINE_integer("image_size", 32, "digits resized to this side")
flags.DEFINE_integer("width", 32, "CNN width")
flags.DEFINE_integer("depth", 1, "CNN conv layers")
flags.DEFINE_float("eps", 0.3, "L-inf radius")
flags.DEFINE_bool("quick", False, "10 timed steps per method (a smoke check of the script)")
FLAGS = flags.FLAGS

# (core method preset, analytic cost in forward+backward passes on B inputs); the presets'
# attacks: FGSM one step, PGD ten steps (`training.PRESETS`).
CASES = (("fgsm", 2.0), ("elle", 5.0), ("elle_a", 5.0), ("gradalign", 6.0), ("pgd", 11.0))


def main(argv):
  del argv
  repeats = 10 if FLAGS.quick else FLAGS.repeats
  ds = data.load("digits", image_size=FLAGS.image_size)
  model = models.build("cnn", outputs=10, width=FLAGS.width, depth=FLAGS.depth)
  batch = jax.device_put({"x": ds.train.x[:FLAGS.batch_size],
                          "y": ds.train.y[:FLAGS.batch_size]})
  params = models.init(model, jax.random.key(0), batch["x"])
  tx = optax.sgd(0.01, momentum=0.9)
  key = jax.random.key(1)
  ms, gflop, labels = {}, {}, {}
  for name, _ in CASES:
    m = training.method(name, FLAGS.eps, lam=1.0)
    labels[name] = m.label
    state = training.init_state(params, tx, m)
    step = training.make_train_step(model.apply, tx, m)
    compiled = step.lower(state, batch, key).compile()   # one compile: counted and timed
    gflop[name] = _flops(compiled) / 1e9
    ms[name] = 1e3 * median_time(lambda: compiled(state, batch, key), warmup=3, repeats=repeats)
  rows = [[labels[name], cost, cost / 2.0, gflop[name], gflop[name] / gflop["fgsm"], ms[name],
           ms[name] / ms["fgsm"]] for name, cost in CASES]
  print(f"adversarial train step: CNN width {FLAGS.width} depth {FLAGS.depth} "
        f"({models.num_params(params)} params), batch {FLAGS.batch_size} of "
        f"{FLAGS.image_size}x{FLAGS.image_size}, median of {repeats} steps, device "
        f"{jax.devices()[0].device_kind}")
  print_table(["method", "analytic passes", "analytic x FGSM", "XLA GFLOP", "GFLOP x FGSM",
               "ms/step", "ms x FGSM (baseline)"], rows)
  print()
  print_table(["ratio", "time", "XLA FLOPs", "target"],
              [["ELLE / FGSM", ms["elle"] / ms["fgsm"], gflop["elle"] / gflop["fgsm"],
                "~2.5 (analytic)"],
               ["ELLE / GradAlign", ms["elle"] / ms["gradalign"],
                gflop["elle"] / gflop["gradalign"], "<= 0.5"],
               ["PGD-10 / ELLE", ms["pgd"] / ms["elle"], gflop["pgd"] / gflop["elle"],
                "~2.2 (analytic)"]])


def _flops(compiled) -> float:
  """FLOPs of a compiled step from XLA's cost analysis (a dict, or a list of one per device)."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return float(cost.get("flops", float("nan")))


if __name__ == "__main__":
  app.run(main)
