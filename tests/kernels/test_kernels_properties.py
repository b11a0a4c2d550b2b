"""Property tests (hypothesis): the ridge path equals direct solves at every ridge."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlab.kernels import ridge


@settings(max_examples=10)  # every example compiles anew (new shapes)
@given(st.integers(2, 12), st.integers(1, 6), st.lists(st.floats(1e-4, 10.0), min_size=1,
                                                       max_size=4), st.integers(0, 2**31 - 1))
def test_ridge_path_equals_direct_solves(n, rank, lams, seed):
  with jax.enable_x64(True):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, rank))
    k = a @ a.T                                   # PSD, possibly singular
    y = rng.normal(size=n)
    k_test = rng.normal(size=(3, rank)) @ a.T
    lams = np.asarray(lams)
    path = ridge.path(jnp.asarray(k))
    coefs = np.asarray(ridge.coefficients(path, jnp.asarray(y), jnp.asarray(lams)))
    preds = np.asarray(ridge.predictions(path, jnp.asarray(k_test), jnp.asarray(y),
                                         jnp.asarray(lams)))
    for i, lam in enumerate(lams):
      direct = np.linalg.solve(k + n * lam * np.eye(n), y)
      np.testing.assert_allclose(coefs[i], direct, rtol=1e-8, atol=1e-10)
      np.testing.assert_allclose(preds[i], k_test @ direct, rtol=1e-8, atol=1e-10)
      np.testing.assert_allclose(ridge.kernel_ridge(jnp.asarray(k), jnp.asarray(y), lam),
                                 direct, rtol=1e-8, atol=1e-10)
