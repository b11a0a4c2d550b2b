"""Linear combinations of pytrees by layer group against a direct numpy computation."""

import jax
import numpy as np

from jaxlab.soups import combine


def test_combine_group_vdot_and_norms_match_numpy(soup_problem):
  _, ings, _ = soup_problem(k=3)
  stacked = combine.stack(ings)
  leaves = jax.tree_util.tree_leaves
  for per_layer in (False, True):
    groups = combine.leaf_groups(ings[0], per_layer)
    g = combine.num_groups(groups)
    assert g == (len(leaves(ings[0])) if per_layer else 1)
    w = jax.random.normal(jax.random.key(1), (3, g))
    out = jax.jit(combine.combine, static_argnums=2)(stacked, w, groups)
    for leaf_out, leaves_k, grp in zip(leaves(out), zip(*[leaves(t) for t in ings]), groups):
      expected = sum(float(w[k, grp]) * np.asarray(leaves_k[k]) for k in range(3))
      np.testing.assert_allclose(leaf_out, expected, rtol=1e-5, atol=1e-6)
    other = ings[0]
    vd = combine.group_vdot(stacked, other, groups)
    norms = combine.group_norms(stacked, groups)
    for k in range(3):
      for grp in range(g):
        pairs = [(a, b) for a, b, gg in zip(leaves(ings[k]), leaves(other), groups) if gg == grp]
        np.testing.assert_allclose(vd[k, grp], sum(np.vdot(a, b) for a, b in pairs), rtol=1e-5)
        np.testing.assert_allclose(norms[k, grp],
                                   np.sqrt(sum(np.sum(np.square(a)) for a, _ in pairs)), rtol=1e-5)


def test_stack_unstack_and_running_mean(soup_problem, assert_trees_close):
  _, ings, _ = soup_problem(k=3)
  stacked = combine.stack(ings)
  for k in range(3):
    assert_trees_close(combine.unstack(stacked, k), ings[k], rtol=0, atol=0)
  mean2 = combine.running_mean(ings[0], ings[1], 1)
  assert_trees_close(mean2, jax.tree_util.tree_map(lambda a, b: (a + b) / 2, ings[0], ings[1]),
                     rtol=1e-6, atol=1e-7)
  assert combine.tree_bytes(ings[0]) == sum(x.size * 4 for x in jax.tree_util.tree_leaves(ings[0]))
