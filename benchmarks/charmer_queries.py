"""Query throughput of the Charmer victims: `victim.make_score_fn` (length buckets, power-of-two
chunks, one batched call per attack step) against scoring one string per call (the baseline),
on the Lev-1 neighbourhood of real tweets, for the char-CNN and the char-Transformer.

  python -m benchmarks.charmer_queries [--num_strings=2048] [--repeats=3]

The models are freshly initialised (throughput does not depend on training).
"""

from __future__ import annotations

import string

import jax
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab import data
from jaxlab.text import slots, victim

flags.DEFINE_integer("num_strings", 2048, "strings scored per timed call (batched)")
flags.DEFINE_integer("baseline_strings", 64, "strings scored one per call (baseline)")
flags.DEFINE_integer("repeats", 3, "timed repetitions (median reported)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  ds = data.load("tweets")
  text = max(ds.test.x[:50], key=len)[:110]  # a typical ~110-character tweet
  strings = [s for _, _, s in slots.neighbourhood(text, range(slots.num_slots(text)),
                                                  string.ascii_lowercase)][:FLAGS.num_strings]
  rows = []
  for name in ("cnn", "transformer"):
    score_fn = victim.make_score_fn(victim.init(victim.VictimConfig(model=name), 2,
                                                jax.random.key(0)))
    one = strings[:FLAGS.baseline_strings]
    t_one = median_time(lambda: [score_fn([s]) for s in one], repeats=FLAGS.repeats)
    t_batch = median_time(lambda: score_fn(strings), repeats=FLAGS.repeats)
    q_one, q_batch = len(one) / t_one, len(strings) / t_batch
    rows.append([name, len(text), q_one, q_batch, q_batch / q_one])
  print(f"victim queries per second, device {jax.devices()[0].device_kind}")
  print_table(["model", "text chars", "one per call q/s (baseline)", "batched q/s", "speed-up"],
              rows)


if __name__ == "__main__":
  app.run(main)
