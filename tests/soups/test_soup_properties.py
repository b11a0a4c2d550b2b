"""Property tests (hypothesis) of the soup invariants: a uniform soup of identical models is
that model; MEHL-Soup's effective weights sum to one per group after any sequence of blocks,
for both centres (arXiv 2407.03641, Alg. 1); and any weights summing to one per group combine
identical models into that model."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlab.soups import combine, mehl
from jaxlab.soups.uniform import uniform_soup

SEEDS = st.integers(0, 2**31 - 1)


def _model(seed: int, width: int):
  rng = np.random.default_rng(seed)
  return {"dense": {"kernel": jnp.asarray(rng.normal(size=(3, width)), jnp.float32),
                    "bias": jnp.asarray(rng.normal(size=(width,)), jnp.float32)},
          "head": jnp.asarray(rng.normal(size=(width, 2)), jnp.float32)}


@settings(max_examples=10, deadline=None)  # a new K or width compiles anew
@given(SEEDS, st.integers(1, 5), st.integers(1, 4))
def test_uniform_soup_of_identical_models_is_that_model(seed, k, width):
  model = _model(seed, width)
  soup = uniform_soup([model] * k).params
  for a, b in zip(jax.tree_util.tree_leaves(soup), jax.tree_util.tree_leaves(model)):
    # the running mean m n / (n + 1) + x / (n + 1): exact up to float32 rounding per step
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-7 * k, atol=0)


@given(st.sampled_from(sorted(mehl.CENTRES)), st.integers(2, 9), st.integers(1, 4), SEEDS,
       st.integers(1, 4))
def test_mehl_effective_weights_sum_to_one_per_group(centre_name, k, groups, seed, blocks):
  centre = mehl.CENTRES[centre_name]
  rng = np.random.default_rng(seed)
  ids = rng.choice(k, size=min(k, 3), replace=False)
  w = centre.first_weights(ids, k, groups)
  np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=0, atol=1e-12)
  for _ in range(blocks):
    ids = rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False)
    coefs = rng.normal(size=(len(ids), groups))
    factors = rng.uniform(0.1, 10.0, size=(len(ids), groups))
    w = mehl.effective_weights(centre, w, ids, coefs, factors, k)
    assert w.shape == (k, groups)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=0, atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(SEEDS, st.integers(1, 4), st.booleans())
def test_weights_summing_to_one_combine_identical_models_into_that_model(seed, k, per_layer):
  model = _model(seed, 3)
  groups = combine.leaf_groups(model, per_layer)
  g = combine.num_groups(groups)
  w = np.random.default_rng(seed + 1).normal(size=(k, g))
  w[-1] = 1.0 - w[:-1].sum(axis=0)  # columns sum to one
  soup = combine.combine(combine.stack([model] * k), jnp.asarray(w, jnp.float32), groups)
  scale = 1.0 + np.abs(w).sum()
  for a, b in zip(jax.tree_util.tree_leaves(soup), jax.tree_util.tree_leaves(model)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6 * scale * 4)
