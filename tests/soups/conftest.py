"""Fixtures of the soups tests: a tiny classification problem with K ingredients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.data.dataset import Split
from jaxlab.models.mlp import MLP


def _problem(k=5, dtype=jnp.float32, seed=0, n=48, d=6, classes=3, scale=0.3):
  """A tiny MLP, K perturbed copies of one init (a shared start) and a val split."""
  model = MLP(hidden=(8,), outputs=classes)
  key = jax.random.key(seed)
  kx, ky, kp, kn = jax.random.split(key, 4)
  x = jax.random.normal(kx, (n, d), dtype)
  y = jax.random.randint(ky, (n,), 0, classes)
  start = jax.tree_util.tree_map(lambda a: a.astype(dtype),  # float32 init, then cast
                                 model.init(kp, x[:1].astype(jnp.float32)))
  noise_keys = jax.random.split(kn, k)
  ings = [jax.tree_util.tree_map(
      lambda a, nk=nk: a + scale * jax.random.normal(nk, a.shape, dtype), start)
      for nk in noise_keys]
  return model, ings, Split(np.asarray(x), np.asarray(y, np.int32))


@pytest.fixture
def soup_problem():
  """`soup_problem(k=5, dtype=float32, seed=0, n=48, d=6, classes=3, scale=0.3) -> (model,
  ingredients, val)`: an MLP with one hidden layer of 8, K perturbed copies of one init and a
  val split of n Gaussian inputs with random labels."""
  return _problem


@pytest.fixture
def assert_trees_close():
  """`assert_trees_close(a, b, **allclose_kwargs)`: leaf by leaf."""

  def check(a, b, **kw):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)

  return check
