"""PGD of the shared adversarial core (`jaxlab.adversarial.attacks.pgd`) on a network's training
points: the empirical adversarial training error, to set next to the exact one.

  found, x_adv = pgd_errors(model, params, x, y, key, delta=1e-3, steps=20, restarts=10)
  found.mean()                  # empirical adversarial training error (a lower bound)

Labels y in {-1, +1} are the classes 0 / 1 of the two logits (-h/2, h/2); the ball is l-inf of
radius delta, clipped to the data box [0, 1]^d, with step delta / 4 and a uniform random start
per restart (PGD keeps, per point, the best iterate over all steps and restarts).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.adversarial import attacks


def pgd_errors(model, params, x: np.ndarray, y: np.ndarray, key: jax.Array, *, delta: float,
               steps: int, restarts: int) -> tuple[np.ndarray, np.ndarray]:
  """Whether PGD finds a misclassified point in each ball `(n,)` and the points `(n, d)`."""
  dtype = jax.tree_util.tree_leaves(params)[0].dtype
  xj = jnp.asarray(x, dtype)
  labels = jnp.asarray(class_labels(y))
  x_adv = attacks.pgd(model.apply, params, xj, labels, key, delta, delta / 4, steps=steps,
                      restarts=restarts, box=(0.0, 1.0))
  correct = attacks.correct(model.apply, params, x_adv, labels)
  return ~np.asarray(correct), np.asarray(x_adv, np.float64)


def class_labels(y: np.ndarray) -> np.ndarray:
  """Classes 0 / 1 of labels -1 / +1 `(n,)`, in the integer dtype of `argmax` (int64 under
  float64, int32 otherwise), so comparisons need no promotion."""
  return (np.asarray(y) > 0).astype(jax.dtypes.canonicalize_dtype(np.int64))


def network_wrong(h: np.ndarray, y: np.ndarray) -> np.ndarray:
  """The network's own rule: class 1 iff h > 0 (argmax of (-h/2, h/2), ties to class 0);
  whether sign disagrees with y `(n,)`."""
  return np.where(np.asarray(y) > 0, h <= 0, h > 0)
