"""The coefficient-fitting loops of Learned-Soup and MEHL-Soup stop at the first non-finite or
exploded val loss (the shared guard, `jaxlab.training.guard`) instead of returning a NaN
soup; MEHL reports the direction norms its effective weights divide by."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.data.dataset import Split
from jaxlab.soups import combine, learned, mehl, uniform
from jaxlab.soups.base import coefficient_epoch
from jaxlab.training import guard


def _fake_step(losses):
  """A coefficient step whose loss at call i is `losses[i]` and whose state counts calls."""
  def step(state, ingredients, batch):
    del ingredients, batch
    return state + 1.0, {"loss": jnp.float32(losses[int(state)]), "accuracy": jnp.float32(0.5)}
  return step


@pytest.mark.parametrize("losses, step, quantity", [
    ([1.0, 2.0, np.nan, 1.0], 6, "loss"),          # pass 2 of 4 batches: steps 4..7
    ([1.0, np.inf, 1.0, 1.0], 5, "loss"),
    ([2.0, 3.0, 2.5e6, 1.0], 6, "exploding loss"),  # > 1e6 * max(first loss, 1)
])
def test_coefficient_epoch_raises_at_the_first_bad_step(losses, step, quantity):
  val = Split(np.zeros((8, 1), np.float32), np.zeros(8, np.int32))
  with pytest.raises(guard.NonFiniteError) as e:
    coefficient_epoch(_fake_step(losses), jnp.float32(0.0), None, val, 2, jax.random.key(0), 1)
  assert (e.value.step, e.value.quantity) == (step, quantity)
  assert "val pass 2" in e.value.where
  # Finite losses pass, and the means are returned.
  state, means = coefficient_epoch(_fake_step([1.0, 2.0, 3.0, 6.0]), jnp.float32(0.0), None,
                                   val, 2, jax.random.key(0), 0)
  assert float(state) == 4.0 and means == {"loss": 3.0, "accuracy": 0.5}


def test_diverging_coefficient_learning_rates_stop_both_soups(soup_problem):
  model, ings, val = soup_problem(k=2)
  with pytest.raises(guard.NonFiniteError):
    learned.learned_soup(ings, model.apply, val, per_layer=True, key=jax.random.key(0),
                         learning_rate=1e30, epochs=1, batch_size=16)
  with pytest.raises(guard.NonFiniteError):
    mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(0),
                   learning_rate=1e30, epochs=1, batch_size=16, clip_norm=None)


def test_mehl_direction_norms_are_the_ingredients_distances_to_the_centre(soup_problem):
  model, ings, val = soup_problem(k=4)
  soup = mehl.mehl_soup(ings, model.apply, val, block_size=4, key=jax.random.key(0),
                        epochs=1, batch_size=16, centre="global_mean")
  theta_bar = uniform.uniform_soup(ings).params
  groups = combine.leaf_groups(ings[0], per_layer=True)
  expected = np.array([[np.linalg.norm(np.asarray(a - b)) for a, b in zip(
      jax.tree_util.tree_leaves(t), jax.tree_util.tree_leaves(theta_bar))] for t in ings])
  assert soup.direction_norms.shape == (4, combine.num_groups(groups))
  np.testing.assert_allclose(soup.direction_norms, expected, rtol=1e-5)
