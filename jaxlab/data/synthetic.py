"""Synthetic data for theory sweeps: points on the sphere, teacher-student regression and
Gaussian-mixture classification.

The generators are pure JAX functions of a PRNG key, so they `jit` (with the sizes static) and
`vmap` over keys, e.g. one design per seed:

  keys = jax.random.split(jax.random.key(0), 5)
  x = jax.vmap(lambda k: sphere(k, 128, 16))(keys)   # (5, 128, 16)

`load_teacher_student` and `load_gaussian_mixture` wrap them into `Dataset` splits for the
training code.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.data.dataset import Dataset, split_three_ways


def _positive(**sizes: int) -> None:
  """Raises ValueError naming the first size that is not an integer >= 1."""
  for name, value in sizes.items():
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
      raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")


def sphere(key: jax.Array, n: int, d: int, *, radius: float = 1.0, dtype=None) -> jax.Array:
  """`n` points drawn uniformly on the sphere of radius `radius` in R^d; shape `(n, d)`."""
  _positive(n=n, d=d)
  x = jax.random.normal(key, (n, d), dtype=dtype)
  return radius * x / jnp.linalg.norm(x, axis=-1, keepdims=True)


class ReluTeacher(NamedTuple):
  """f*(x) = sum_j a_j relu(<w_j, x>), with unit-norm rows w_j: `(units, d)` and `a`: `(units,)`."""

  w: jax.Array
  a: jax.Array


def relu_teacher(key: jax.Array, d: int, *, units: int = 3, path_norm: float = 1.0,
                 dtype=None) -> ReluTeacher:
  """A random two-layer ReLU teacher with unit-norm neurons and sum_j |a_j| = `path_norm`."""
  _positive(d=d, units=units)
  kw, ka = jax.random.split(key)
  w = sphere(kw, units, d, dtype=dtype)
  a = jax.random.normal(ka, (units,), dtype=dtype)
  return ReluTeacher(w, path_norm * a / jnp.sum(jnp.abs(a)))


def relu_teacher_apply(teacher: ReluTeacher, x: jax.Array) -> jax.Array:
  """Teacher outputs `(n,)` for inputs `(n, d)`."""
  return jax.nn.relu(x @ teacher.w.T) @ teacher.a


class Regression(NamedTuple):
  x: jax.Array        # (n, d)
  y: jax.Array        # (n,) noisy targets
  y_clean: jax.Array  # (n,) teacher outputs


def teacher_student(key: jax.Array, n: int, teacher: ReluTeacher, *, noise_std: float = 0.1,
                    inputs: str = "sphere") -> Regression:
  """`n` noisy teacher samples y = f*(x) + noise_std * N(0, 1).

  Args:
    teacher: from `relu_teacher`; keep it fixed across n and designs.
    inputs: 'sphere' (uniform on S^{d-1}) or 'gaussian' (N(0, I_d / d)).
  """
  d = teacher.w.shape[-1]
  _positive(n=n, d=d)
  kx, ke = jax.random.split(key)
  if inputs == "sphere":
    x = sphere(kx, n, d, dtype=teacher.w.dtype)
  elif inputs == "gaussian":
    x = jax.random.normal(kx, (n, d), dtype=teacher.w.dtype) / jnp.sqrt(d)
  else:
    raise ValueError(f"inputs must be 'sphere' or 'gaussian', got {inputs!r}")
  y_clean = relu_teacher_apply(teacher, x)
  return Regression(x, y_clean + noise_std * jax.random.normal(ke, (n,), dtype=x.dtype), y_clean)


def gaussian_mixture(key: jax.Array, n: int, d: int, *, num_classes: int = 2,
                     num_clusters: int = 8, separation: float = 3.0, noise_std: float = 1.0,
                     dtype=None) -> tuple[jax.Array, jax.Array]:
  """Gaussian-mixture classification with several clusters per class.

  Cluster c has a centre `separation * u_c` (u_c uniform on the sphere) and label
  `c % num_classes`, so with more clusters than classes the labels interleave (XOR-style).
  The centres depend on `fold_in(key, 0)` only, so two calls with the same key share them.

  Returns:
    x: `(n, d)` inputs; y: `(n,)` int32 labels in [0, num_classes).
  """
  _positive(n=n, d=d, num_classes=num_classes, num_clusters=num_clusters)
  if num_clusters < num_classes:
    raise ValueError(f"num_clusters ({num_clusters}) must be >= num_classes ({num_classes})")
  centres = separation * sphere(jax.random.fold_in(key, 0), num_clusters, d, dtype=dtype)
  kc, kn = jax.random.split(jax.random.fold_in(key, 1))
  cluster = jax.random.randint(kc, (n,), 0, num_clusters)
  x = centres[cluster] + noise_std * jax.random.normal(kn, (n, d), dtype=centres.dtype)
  return x, (cluster % num_classes).astype(jnp.int32)


def load_teacher_student(*, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                         n: int = 1000, d: int = 10, units: int = 3, noise_std: float = 0.1,
                         inputs: str = "sphere") -> Dataset:
  """Teacher-student regression as `Dataset` splits; the teacher is drawn from `seed` too."""
  key = jax.random.key(seed)
  teacher = relu_teacher(jax.random.fold_in(key, 0), d, units=units)
  data = teacher_student(jax.random.fold_in(key, 1), n, teacher, noise_std=noise_std,
                         inputs=inputs)
  x, y = np.asarray(data.x, np.float32), np.asarray(data.y, np.float32)
  train, val, test = split_three_ways(x, y, val_fraction=val_fraction,
                                      test_fraction=test_fraction, seed=seed, stratify=False)
  return Dataset("teacher_student", train, val, test, num_classes=None,
                 info=dict(n=n, d=d, units=units, noise_std=noise_std, inputs=inputs))


def load_gaussian_mixture(*, seed: int = 0, val_fraction: float = 0.2,
                          test_fraction: float = 0.2, n: int = 2000, d: int = 20,
                          num_classes: int = 2, num_clusters: int = 8, separation: float = 3.0,
                          noise_std: float = 1.0) -> Dataset:
  """Gaussian-mixture classification as `Dataset` splits."""
  x, y = gaussian_mixture(jax.random.key(seed), n, d, num_classes=num_classes,
                          num_clusters=num_clusters, separation=separation, noise_std=noise_std)
  train, val, test = split_three_ways(np.asarray(x, np.float32), np.asarray(y, np.int32),
                                      val_fraction=val_fraction, test_fraction=test_fraction,
                                      seed=seed)
  return Dataset("gaussian_mixture", train, val, test, num_classes=num_classes,
                 class_names=tuple(str(i) for i in range(num_classes)),
                 info=dict(n=n, d=d, num_clusters=num_clusters, separation=separation,
                           noise_std=noise_std))


__all__ = ["sphere", "ReluTeacher", "relu_teacher", "relu_teacher_apply", "Regression",
           "teacher_student", "gaussian_mixture", "load_teacher_student",
           "load_gaussian_mixture"]
