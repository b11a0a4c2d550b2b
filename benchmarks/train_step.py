"""Training-step time of jaxlab's jitted `train_step` against the same step run eagerly
(op by op, no jit), and the cost of the finite-value guard (`jaxlab.training.guard`: the
same jitted step with the guard's record in the state against the state without it), for the
MLP, CNN and ViT on a digits-sized batch.

  python -m benchmarks.train_step [--batch_size=128] [--repeats=20]

Target: the guard costs < 3% of the step time (guard ratio < 1.03).
"""

from __future__ import annotations

import statistics

import jax
import optax
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab import data, models
from jaxlab.training import steps

flags.DEFINE_integer("batch_size", 128, "batch size")
flags.DEFINE_integer("repeats", 20, "timed repetitions (median reported)")
FLAGS = flags.FLAGS

CASES = {"mlp 2x256": dict(name="mlp", width=256, depth=2, image_size=8),
         "cnn 32-64": dict(name="cnn", width=64, depth=2, image_size=16),
         "vit w64 d2 p4": dict(name="vit", width=64, depth=2, patch_size=4, image_size=16)}


def main(argv):
  del argv
  rows = []
  for label, case in CASES.items():
    case = dict(case)
    ds = data.load("digits", image_size=case.pop("image_size"))
    model = models.build(case.pop("name"), outputs=10, **case)
    batch = {"x": ds.train.x[:FLAGS.batch_size], "y": ds.train.y[:FLAGS.batch_size]}
    params = models.init(model, jax.random.key(0), batch["x"])
    tx = optax.adam(1e-3)
    state = steps.TrainState.create(params, tx)
    loss_fn = steps.classification_loss(model.apply)
    key = jax.random.key(1)
    jitted = steps.make_train_step(loss_fn, tx)
    eager = steps.make_train_step(loss_fn, tx, jit=False)
    t_jit = median_time(lambda: jitted(state, batch, key), repeats=FLAGS.repeats)
    unguarded = state._replace(nonfinite=None)
    t_guarded, t_unguarded = _interleaved(lambda: jitted(state, batch, key),
                                          lambda: jitted(unguarded, batch, key))
    with jax.disable_jit():
      t_eager = median_time(lambda: eager(state, batch, key), warmup=1,
                            repeats=max(3, FLAGS.repeats // 5))
    rows.append([label, models.num_params(params), t_eager * 1e3, t_jit * 1e3, t_eager / t_jit,
                 t_unguarded * 1e3, t_guarded * 1e3, t_guarded / t_unguarded])
  print(f"train step, batch {FLAGS.batch_size}, device {jax.devices()[0].device_kind}")
  print_table(["model", "params", "eager ms (baseline)", "jit ms", "speed-up",
               "no guard ms", "guard ms", "guard ratio"], rows)


def _interleaved(fn_a, fn_b, rounds: int = 5):
  """Medians of `fn_a` and `fn_b` timed in alternating rounds (machine drift cancels)."""
  a, b = [], []
  for _ in range(rounds):
    a.append(median_time(fn_a, repeats=FLAGS.repeats))
    b.append(median_time(fn_b, repeats=FLAGS.repeats))
  return statistics.median(a), statistics.median(b)


if __name__ == "__main__":
  app.run(main)
