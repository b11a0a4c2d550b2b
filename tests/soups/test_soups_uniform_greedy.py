"""The uniform soup, the greedy soup and the best individual model (arXiv 2203.05482)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.soups import greedy, uniform


def test_uniform_soup_is_the_mean_and_of_identical_models_that_model(soup_problem,
                                                                      assert_trees_close):
  _, ings, _ = soup_problem(k=4)
  soup = uniform.uniform_soup(ings)
  assert_trees_close(soup.params, jax.tree_util.tree_map(lambda *xs: sum(xs) / 4, *ings),
                     rtol=1e-5, atol=1e-6)
  same = uniform.uniform_soup([ings[0]] * 7).params
  assert_trees_close(same, ings[0], rtol=1e-6, atol=1e-7)
  assert soup.cost.step_memory.total_bytes > 0 and soup.cost.ingredient_loads == 4


def _scalar_ingredients(values):
  return [{"w": jnp.array([v], jnp.float32)} for v in values]


def test_greedy_one_sorted_pass_accepts_only_strict_improvements():
  target = 1.5
  score = lambda p: -abs(float(p["w"][0]) - target)  # pylint: disable=unnecessary-lambda-assignment
  ings = _scalar_ingredients([1.0, 2.0, 1.0, 5.0])
  soup = greedy.greedy_soup(ings, score)
  # Sorted by score (ties keep order): 0, 1, 2, 3. 0 -> soup 1.0; +1 -> 1.5 (better, kept);
  # +2 -> 4/3 (worse); +3 -> 8/3 (worse).
  assert soup.selected == (0, 1)
  np.testing.assert_allclose(soup.params["w"], [1.5])
  assert soup.score == 0.0
  assert soup.cost.val_passes == 3 + 4  # 3 candidates + the 4 ingredients' own scores
  # A tie is rejected: the candidate (1 + 1) / 2 = 1 scores exactly the current best.
  tie = greedy.greedy_soup(_scalar_ingredients([1.0, 1.0]), lambda p: -abs(float(p["w"][0]) - 1))
  assert tie.selected == (0,)
  # Known scores are used as given (the first pick is their argmax).
  given = greedy.greedy_soup(ings, score, scores=[0.0, 0.0, 0.0, 1.0])
  assert given.selected[0] == 3 and given.cost.val_passes == 3
  assert greedy.best_individual([0.1, 0.7, 0.7, 0.2]) == 1
