"""Learned-Soup(+): starts at the uniform soup, stays on the simplex, lowers the val loss."""

import jax
import numpy as np
import optax

from jaxlab.soups import combine, learned, uniform
from jaxlab.soups.base import soup_loss
from jaxlab.training import steps


def test_learned_soup_starts_uniform_stays_on_the_simplex_and_finds_the_good_ingredient(
    soup_problem, assert_trees_close):
  model, ings, val = soup_problem(k=4, scale=0.5)
  # Ingredient 2 is trained on val; the others are random perturbations.
  tx = optax.adam(0.05)
  state = steps.TrainState.create(ings[2], tx)
  step = steps.make_train_step(steps.classification_loss(model.apply), tx)
  step_key = jax.random.key(0)
  for _ in range(150):
    state, _ = step(state, {"x": val.x, "y": val.y}, step_key)
  ings[2] = state.params
  groups = combine.leaf_groups(ings[0], per_layer=True)
  opt = learned.learned_soup_optimizer(model.apply, groups, optax.adamw(0.05, weight_decay=0.0))
  stacked = combine.stack(ings)
  init = opt.init(stacked)
  assert_trees_close(combine.combine(stacked, learned.mixing_weights(init.logits), groups),
                     uniform.uniform_soup(ings).params, rtol=1e-5, atol=1e-6)
  batch = {"x": val.x, "y": val.y}
  before = float(soup_loss(model.apply, uniform.uniform_soup(ings).params, batch)[0])
  soup = learned.learned_soup(ings, model.apply, val, per_layer=True, key=jax.random.key(1),
                              epochs=60, batch_size=len(val))
  after = float(soup_loss(model.apply, soup.params, batch)[0])
  assert after < before
  assert soup.weights.shape == (4, len(groups))
  np.testing.assert_allclose(soup.weights.sum(0), 1.0, atol=1e-5)
  assert (soup.weights >= 0).all()
  assert (np.argmax(soup.weights, axis=0) == 2).all()  # every layer leans on ingredient 2
  assert soup.cost.ingredient_loads == 4 and soup.cost.val_passes == 60
