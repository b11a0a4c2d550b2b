"""Gram matrices G1, G2 of the mean-field ResNet: the closed forms (`resnet.gram`, adjoint
recursion) against the Jacobian form through jaxlab's empirical NTK (`resnet.gram_jacobian`,
the baseline), float64, at the sizes of the beta sweep and larger. The closed form is what the
studies evaluate at every logged step.

  python -m benchmarks.meanfield_gram [--n=16] [--repeats=10]
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from absl import app, flags

from benchmarks.timing import median_time, print_table
from jaxlab.data import synthetic
from jaxlab.papers.meanfield_resnet import resnet

flags.DEFINE_integer("n", 16, "training points")
flags.DEFINE_integer("repeats", 10, "timed repetitions (median reported)")
FLAGS = flags.FLAGS

CASES = {"L8 M64 K512 (beta sweep)": (8, 64, 512), "L32 M256 K1024": (32, 256, 1024),
         "L64 M1024 K1024 (limit reference)": (64, 1024, 1024)}


def main(argv):
  del argv
  jax.config.update("jax_enable_x64", True)
  x = synthetic.sphere(jax.random.key(1), FLAGS.n, 16, dtype=jnp.float64)
  rows = []
  for label, (depth, width, head_width) in CASES.items():
    params = resnet.init(jax.random.key(0), dim=16, depth=depth, width=width,
                         head_width=head_width, dtype=jnp.float64)
    params = params._replace(head=params.head._replace(a=jnp.abs(params.head.a)))  # G1 != 0
    closed = jax.jit(functools.partial(resnet.gram, x=x, alpha=1.0))
    jacobian = jax.jit(functools.partial(resnet.gram_jacobian, x=x, alpha=1.0))
    t_jac = median_time(lambda: jacobian(params), repeats=FLAGS.repeats)
    t_closed = median_time(lambda: closed(params), repeats=FLAGS.repeats)
    error = max(float(jnp.abs(c - j).max()) for c, j in zip(closed(params), jacobian(params)))
    rows.append([label, depth * width * 32 + head_width * 17, t_jac * 1e3, t_closed * 1e3,
                 t_jac / t_closed, error])
  print(f"G1, G2 for n={FLAGS.n}, float64, device {jax.devices()[0].device_kind}")
  print_table(["model", "params", "Jacobian form ms (baseline)", "closed form ms", "speed-up",
               "max |diff|"], rows)


if __name__ == "__main__":
  app.run(main)
