"""The KRR solvers refuse what is not a kernel matrix, naming the argument."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import data
from jaxlab.kernels import ridge

Y = jnp.ones(4)


@pytest.mark.parametrize("k, message", [
    (-10.0 * jnp.eye(4), "k_train: .*positive"),
    (jnp.full((4, 4), jnp.nan), "k_train: the Gram matrix holds NaN or infinite values"),
    (jnp.eye(4).at[0, 0].set(jnp.inf), "k_train: the Gram matrix holds NaN or infinite"),
    (jnp.ones((4, 3)), r"k_train: expected a square \(n, n\) Gram matrix, got shape \(4, 3\)"),
    (jnp.array([[1.0, 2.0, 0, 0], [2.0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]),
     "k_train: .*positive"),  # symmetric but indefinite (eigenvalue -1)
])
@pytest.mark.parametrize("solver", ["kernel_ridge", "ridgeless", "path"])
def test_bad_gram_matrices_are_refused(k, message, solver):
  with pytest.raises(ValueError, match=message):
    if solver == "kernel_ridge":
      ridge.kernel_ridge(k, Y, 0.1)
    elif solver == "ridgeless":
      ridge.ridgeless(k, Y)
    else:
      ridge.path(k)


def test_targets_and_ridges_are_checked():
  with pytest.raises(ValueError, match=r"y: expected targets of shape \(4,\)"):
    ridge.kernel_ridge(jnp.eye(4), jnp.ones(3), 0.1)
  with pytest.raises(ValueError, match="lam: expected a ridge lambda > 0"):
    ridge.kernel_ridge(jnp.eye(4), Y, float("nan"))


def test_a_psd_matrix_with_round_off_negative_eigenvalues_is_accepted():
  x = np.random.default_rng(0).normal(size=(40, 3))
  k = jnp.asarray(x @ x.T, jnp.float32)  # rank 3: 37 eigenvalues are round-off
  alpha = ridge.kernel_ridge(k, jnp.ones(40), 1e-3)
  assert np.all(np.isfinite(alpha))
  ridge.path(k)


@pytest.mark.parametrize("name, options, field", [
    ("teacher_student", dict(d=0), "d"), ("teacher_student", dict(n=0), "n"),
    ("teacher_student", dict(units=0), "units"), ("gaussian_mixture", dict(d=0), "d")])
def test_generators_refuse_empty_dimensions(name, options, field):
  with pytest.raises(ValueError, match=f"^{field}: expected an integer >= 1"):
    data.load(name, **options)
