"""Adversarial-training step time: FGSM, ELLE, ELLE-A, GradAlign and PGD-10 AT, each one jitted
`training.make_train_step` on the same batch, on two models measured in the same run: the
one-conv CNN of the digits study (digits at 32x32) and PreActResNet-18 (the ELLE reference's
CIFAR-10 model, 32x32x3 inputs).

  python -m benchmarks.adversarial_step [--batch_size=128] [--resnet_batch_size=32]
      [--repeats=100] [--resnet_repeats=5] [--resnet_width=64] [--quick]

Targets (paper 9, arXiv 2401.11618): ELLE <= 0.5x GradAlign; ELLE / FGSM near the analytic
2.5 (forward+backward passes on B inputs: FGSM 2, ELLE 2 + 3 = 5, GradAlign ~6 with double
backprop, PGD-10 11). Next to the times, the FLOPs of each compiled step from XLA's cost
analysis: what the step really computes after XLA has merged shared work (e.g. FGSM's attack
gradient from a zero start is GradAlign's clean input gradient, so GradAlign costs less than
its analytic count). The ResNet's BatchNorm runs on fixed (running) statistics in the timed
steps: the cost of a step is that of the convolutions; train-mode statistics add a few
elementwise passes.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab import data, models
from jaxlab.adversarial import training

flags.DEFINE_integer("batch_size", 128, "CNN batch size")
flags.DEFINE_integer("resnet_batch_size", 32, "PreActResNet-18 batch size")
flags.DEFINE_integer("repeats", 100, "timed CNN steps per method (median reported)")
flags.DEFINE_integer("resnet_repeats", 5, "timed ResNet steps per method (median reported)")
flags.DEFINE_integer("resnet_width", 64, "PreActResNet-18 base width (64: the paper's)")
flags.DEFINE_integer("image_size", 32, "digits resized to this side")
flags.DEFINE_integer("width", 32, "CNN width")
flags.DEFINE_integer("depth", 1, "CNN conv layers")
flags.DEFINE_float("eps", 0.3, "L-inf radius on the CNN (digits)")
flags.DEFINE_float("resnet_eps", 8 / 255, "L-inf radius on the ResNet")
flags.DEFINE_bool("quick", False, "3 timed steps per method and width 8 (a smoke check)")
FLAGS = flags.FLAGS

# (core method preset, analytic cost in forward+backward passes on B inputs); the presets'
# attacks: FGSM one step, PGD ten steps (`training.PRESETS`).
CASES = (("fgsm", 2.0), ("elle", 5.0), ("elle_a", 5.0), ("gradalign", 6.0), ("pgd", 11.0))


def measure(apply_fn, params, batch, eps: float, repeats: int):
  """`(ms, gflop, labels)` per method of `CASES`: median step time and XLA FLOPs of one
  compiled train step (the same executable is counted and timed)."""
  tx = optax.sgd(0.01, momentum=0.9)
  key = jax.random.key(1)
  ms, gflop, labels = {}, {}, {}
  for name, _ in CASES:
    m = training.method(name, eps, lam=1.0)
    labels[name] = m.label
    state = training.init_state(params, tx, m)
    step = training.make_train_step(apply_fn, tx, m)
    compiled = step.lower(state, batch, key).compile()
    gflop[name] = _flops(compiled) / 1e9
    ms[name] = 1e3 * median_time(lambda: compiled(state, batch, key), warmup=1, repeats=repeats)
  return ms, gflop, labels


def report(title: str, ms, gflop, labels) -> None:
  """The per-method table and the ratios of one model."""
  print(title)
  print_table(["method", "analytic passes", "analytic x FGSM", "XLA GFLOP", "GFLOP x FGSM",
               "ms/step", "ms x FGSM"],
              [[labels[name], cost, cost / 2.0, gflop[name], gflop[name] / gflop["fgsm"],
                ms[name], ms[name] / ms["fgsm"]] for name, cost in CASES])
  print()
  print_table(["ratio", "time", "XLA FLOPs", "target"],
              [["ELLE / FGSM", ms["elle"] / ms["fgsm"], gflop["elle"] / gflop["fgsm"],
                "~2.5 (analytic)"],
               ["ELLE / GradAlign", ms["elle"] / ms["gradalign"],
                gflop["elle"] / gflop["gradalign"], "<= 0.5"],
               ["PGD-10 / ELLE", ms["pgd"] / ms["elle"], gflop["pgd"] / gflop["elle"],
                "~2.2 (analytic)"]])
  print()


def cnn_case(repeats: int):
  ds = data.load("digits", image_size=FLAGS.image_size)
  model = models.build("cnn", outputs=10, width=FLAGS.width, depth=FLAGS.depth)
  batch = jax.device_put({"x": ds.train.x[:FLAGS.batch_size],
                          "y": ds.train.y[:FLAGS.batch_size]})
  params = models.init(model, jax.random.key(0), batch["x"])
  title = (f"CNN width {FLAGS.width} depth {FLAGS.depth} ({models.num_params(params)} params), "
           f"batch {FLAGS.batch_size} of {FLAGS.image_size}x{FLAGS.image_size}x1, eps "
           f"{FLAGS.eps}, median of {repeats} steps")
  return title, measure(model.apply, params, batch, FLAGS.eps, repeats)


def resnet_case(repeats: int, width: int):
  model = models.build("preact_resnet", outputs=10, width=width, depth=18)
  rng = np.random.default_rng(0)
  n = FLAGS.resnet_batch_size
  batch = jax.device_put({"x": rng.uniform(size=(n, 32, 32, 3)).astype(np.float32),
                          "y": rng.integers(0, 10, n).astype(np.int32)})
  variables = models.init(model, jax.random.key(0), batch["x"][:1])
  batch_stats = variables["batch_stats"]

  def apply_fn(params, x):
    return model.apply({"params": params, "batch_stats": batch_stats}, x)

  title = (f"PreActResNet-18 width {width} ({models.num_params(variables['params'])} params), "
           f"batch {n} of 32x32x3, eps {FLAGS.resnet_eps:.4g}, median of {repeats} steps")
  return title, measure(apply_fn, variables["params"], batch, FLAGS.resnet_eps, repeats)


def main(argv):
  del argv
  repeats = 3 if FLAGS.quick else FLAGS.repeats
  resnet_repeats = 3 if FLAGS.quick else FLAGS.resnet_repeats
  width = 8 if FLAGS.quick else FLAGS.resnet_width
  print(f"adversarial train step, device {jax.devices()[0].device_kind}\n")
  cases = [cnn_case(repeats), resnet_case(resnet_repeats, width)]
  for title, (ms, gflop, labels) in cases:
    report(title, ms, gflop, labels)
  (_, (cnn_ms, cnn_gf, _)), (_, (res_ms, res_gf, _)) = cases
  print_table(["ELLE / GradAlign", "time", "XLA FLOPs"],
              [["CNN", cnn_ms["elle"] / cnn_ms["gradalign"], cnn_gf["elle"] / cnn_gf["gradalign"]],
               ["PreActResNet-18", res_ms["elle"] / res_ms["gradalign"],
                res_gf["elle"] / res_gf["gradalign"]]])


def _flops(compiled) -> float:
  """FLOPs of a compiled step from XLA's cost analysis (a dict, or a list of one per device)."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return float(cost.get("flops", float("nan")))


if __name__ == "__main__":
  app.run(main)
