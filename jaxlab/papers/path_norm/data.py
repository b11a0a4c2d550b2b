"""The study's data: teachers of path norm 1 on x~ = (x, 1) / sqrt(2), x uniform on S^{d-1},
nested designs per (d, seed), fresh test sets, and the keys behind them.

  keys = study_keys(config.seed)
  t = teachers(keys.teacher, d=5, units=3, worst_case_units=1000)    # Teachers of ReluTeacher
  design = sample_design(5, seed=0, n_max=4096)                       # x~ (4096, 6), noise
  y = targets(t.main, design, noise_std=0.1)[:n]                      # the first n points

Keys: the study seed splits once into one key per purpose (`StudyKeys`); a design seed s
uses the design key of `key(s)` folded with d, split into (points, noise, init). The design of
(d, s) is therefore shared by every part and every teacher: the network and KRR learn from the
same samples, and n' < n uses the first n' of them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.data import synthetic
from jaxlab.models import two_layer

BLOCK = 256


class StudyKeys(NamedTuple):
  """The study seed's keys, one per purpose (`design` is used through `design_keys`)."""

  teacher: jax.Array
  test: jax.Array
  rademacher: jax.Array
  design: jax.Array
  bootstrap_rademacher: jax.Array
  bootstrap_curve: jax.Array
  bootstrap_krr: jax.Array


class DesignKeys(NamedTuple):
  """The keys of one design (d, seed): its points, its noise and the networks' init."""

  points: jax.Array
  noise: jax.Array
  init: jax.Array


class Teachers(NamedTuple):
  """Teachers at one d, each of path norm 1: `main` (`units` neurons; E3.2 / E3.3), `single`
  (one neuron; E3.4) and `worst` (`worst_case_units` random neurons; E3.3's probe)."""

  main: synthetic.ReluTeacher
  single: synthetic.ReluTeacher
  worst: synthetic.ReluTeacher


class Design(NamedTuple):
  """Nested training inputs `x (n_max, d + 1)` (rows x~) and standard normal noise
  `(n_max,)`."""

  x: jax.Array
  noise: jax.Array


def study_keys(seed: int) -> StudyKeys:
  return StudyKeys(*jax.random.split(jax.random.key(seed), len(StudyKeys._fields)))


def design_keys(seed: int, d: int) -> DesignKeys:
  return DesignKeys(*jax.random.split(jax.random.fold_in(study_keys(seed).design, d), 3))


def inputs(key: jax.Array, n: int, d: int) -> jax.Array:
  """x~ = (x, 1) / sqrt(2) for x uniform on S^{d-1}: `(n, d + 1)` unit rows."""
  return two_layer.with_bias_coordinate(synthetic.sphere(key, n, d, dtype=float))


def teachers(key: jax.Array, d: int, units: int, worst_case_units: int) -> Teachers:
  """The teachers at dimension d (on d + 1 inputs), from the study's teacher key."""
  k_main, k_single, k_worst = jax.random.split(jax.random.fold_in(key, d), 3)
  make = lambda k, u: synthetic.relu_teacher(k, d + 1, units=u, dtype=float)
  return Teachers(make(k_main, units), make(k_single, 1), make(k_worst, worst_case_units))


def sample_design(d: int, seed: int, n_max: int) -> Design:
  """The nested design of (d, seed) with `n_max` points: drawn in blocks of `BLOCK` points
  (block j from `fold_in(key, j)`), so the first n points are the same whatever `n_max`."""
  keys = design_keys(seed, d)
  design = _blocks(keys.points, keys.noise, d, -(-n_max // BLOCK))
  return Design(design.x[:n_max], design.noise[:n_max])


@functools.partial(jax.jit, static_argnums=(2, 3))
def _blocks(k_points: jax.Array, k_noise: jax.Array, d: int, num_blocks: int) -> Design:
  blocks = jnp.arange(num_blocks)
  x = jax.vmap(lambda j: inputs(jax.random.fold_in(k_points, j), BLOCK, d))(blocks)
  noise = jax.vmap(lambda j: jax.random.normal(jax.random.fold_in(k_noise, j), (BLOCK,),
                                               jnp.result_type(float)))(blocks)
  return Design(x.reshape(-1, d + 1), noise.reshape(-1))


def targets(teacher: synthetic.ReluTeacher, design: Design, noise_std: float) -> jax.Array:
  """y = f*(x~) + noise_std * noise: `(n_max,)`."""
  return synthetic.relu_teacher_apply(teacher, design.x) + noise_std * design.noise


@functools.partial(jax.jit, static_argnums=(1, 2))
def test_set(key: jax.Array, d: int, size: int) -> jax.Array:
  """Fresh test inputs x~ `(size, d + 1)` at dimension d."""
  return inputs(jax.random.fold_in(key, d), size, d)


__all__ = ["Design", "DesignKeys", "StudyKeys", "Teachers", "design_keys", "inputs",
           "sample_design", "study_keys", "targets", "teachers", "test_set"]
