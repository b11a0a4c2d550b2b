"""MEHL-Soup(+) (arXiv 2407.03641): the coefficient gradient, the paper's hyperplane objective,
the effective weights of both centres, zero directions, the block schedule and streaming."""

import collections.abc
import gc
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab.soups import combine, learned, mehl, uniform
from jaxlab.soups.base import soup_loss


def test_mehl_coefficient_gradient_equals_autodiff_through_the_rebuild(dtype, soup_problem):
  dt = jnp.float32 if dtype == "float32" else jnp.float64
  model, ings, val = soup_problem(k=3, dtype=dt)
  batch = {"x": jnp.asarray(val.x, dt), "y": val.y}
  for per_layer in (False, True):
    groups = combine.leaf_groups(ings[0], per_layer)
    origin = uniform.uniform_soup(ings).params
    p, _, _ = mehl.make_directions(combine.stack(ings), origin, jnp.ones(3, jnp.float32),
                                   groups, True, 1e-12)
    block = mehl.Block(origin, p)
    x = 0.3 * jax.random.normal(jax.random.key(2), (3, combine.num_groups(groups)), dt)
    loss = lambda coefs: soup_loss(model.apply, mehl.rebuild(block, coefs, groups), batch)[0]  # pylint: disable=cell-var-from-loop,unnecessary-lambda-assignment
    expected = jax.jit(jax.grad(loss))(x)
    grads = jax.grad(lambda th: soup_loss(model.apply, th, batch)[0])(
        mehl.rebuild(block, x, groups))
    got = jax.jit(mehl.coefficient_gradient, static_argnums=2)(p, grads, groups)
    err = float(jnp.max(jnp.abs(got - expected)) / jnp.max(jnp.abs(expected)))
    assert err < (1e-5 if dtype == "float32" else 1e-10), err


def test_mehl_with_one_block_and_global_mean_is_the_papers_hyperplane_objective(soup_problem):
  model, ings, val = soup_problem(k=4)
  batch = {"x": val.x, "y": val.y}
  theta_bar = uniform.uniform_soup(ings).params
  groups = combine.leaf_groups(ings[0], per_layer=False)  # MEHL-Soup: one alpha per model
  raw, _, _ = mehl.make_directions(combine.stack(ings), theta_bar, jnp.ones(4, jnp.float32),
                                   groups, False, 1e-12)
  opt = mehl.mehl_block_optimizer(model.apply, groups, optax.sgd(0.1), clip_norm=None)
  block = mehl.Block(theta_bar, raw)
  state, _ = opt.update(opt.init(block), block, batch)

  def paper_objective(alpha):  # theta(alpha) = theta_bar + sum_k alpha_k (theta_k - theta_bar)
    theta = jax.tree_util.tree_map(
        lambda tb, *tk: tb + sum(a * (t - tb) for a, t in zip(alpha, tk)), theta_bar, *ings)
    return soup_loss(model.apply, theta, batch)[0]

  expected = -0.1 * jax.grad(paper_objective)(jnp.zeros(4))
  np.testing.assert_allclose(state.coefs[:, 0], expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("centre, normalize", [("running", True), ("global_mean", True),
                                               ("global_mean", False)])
def test_mehl_effective_weights_sum_to_one_and_reproduce_the_soup(centre, normalize,
                                                                  soup_problem,
                                                                  assert_trees_close):
  model, ings, val = soup_problem(k=5, scale=0.5)
  soup = mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(3),
                        per_layer=True, epochs=3, outer_epochs=2, learning_rate=0.05,
                        batch_size=16, centre=centre, normalize=normalize)
  groups = combine.leaf_groups(ings[0], per_layer=True)
  np.testing.assert_allclose(soup.weights.sum(0), 1.0, atol=1e-5)
  rebuilt = combine.combine(combine.stack(ings), jnp.asarray(soup.weights, jnp.float32), groups)
  assert_trees_close(rebuilt, soup.params, rtol=1e-4, atol=1e-5)
  assert len(soup.history) == 2 * 3  # ceil(5 / 2) blocks (the last one padded) x 2 epochs
  assert [h["block"] for h in soup.history] == list(range(1, 7))
  assert soup.cost.val_passes == 2 * 3 * 3
  assert soup.cost.ingredient_loads == 1 + (5 if centre == "global_mean" else 0) + 2 * 5
  assert soup.history[-1]["coef_loss_last"] < soup.history[0]["coef_loss_first"]
  # The typed record and its name are the same centre.
  again = mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(3),
                         per_layer=True, epochs=3, outer_epochs=2, learning_rate=0.05,
                         batch_size=16, centre=mehl.CENTRES[centre], normalize=normalize)
  np.testing.assert_array_equal(again.weights, soup.weights)


def test_effective_weights_of_one_step_match_the_closed_forms():
  k, ids = 4, np.array([2, 0])
  s = np.array([[0.3, -0.1], [0.2, 0.5]])  # steps along theta_k - o for ids 2, 0; G = 2
  # Global mean: W = 1/K + sum_k s_k (e_k - 1/K).
  w = mehl.GLOBAL_MEAN.step_weights(mehl.GLOBAL_MEAN.first_weights(ids, k, 2), ids, s, k)
  expected = np.full((4, 2), 0.25) - s.sum(0) / 4
  expected[2] += s[0]
  expected[0] += s[1]
  np.testing.assert_allclose(w, expected, rtol=0, atol=1e-15)
  # Running: the first anchor is the block mean, W = (1 - sum s) W_a + sum_k s_k e_k.
  w_a = mehl.RUNNING.first_weights(ids, k, 2)
  np.testing.assert_array_equal(w_a[:, 0], [0.5, 0.0, 0.5, 0.0])
  w = mehl.RUNNING.step_weights(w_a, ids, s, k)
  expected = w_a * (1 - s.sum(0))
  expected[2] += s[0]
  expected[0] += s[1]
  np.testing.assert_allclose(w, expected, rtol=0, atol=1e-15)
  np.testing.assert_allclose(w.sum(0), 1.0, rtol=0, atol=1e-15)
  # Coefficients X times the direction factors are the steps s.
  factors = np.array([[2.0, 1.0], [1.0, 4.0], [9.0, 9.0]])  # third row: padding
  coefs = np.array([[0.15, -0.1], [0.2, 0.125], [7.0, 7.0]], np.float32)
  np.testing.assert_allclose(mehl.effective_weights(mehl.RUNNING, w_a, ids, coefs, factors, k),
                             w, atol=1e-7)


def test_block_schedule_visits_every_ingredient_once_per_outer_epoch():
  blocks = list(mehl.block_schedule(jax.random.key(0), 7, 3, 2))
  assert [index for _, index, _ in blocks] == list(range(6))
  assert [t for t, _, _ in blocks] == [0, 0, 0, 1, 1, 1]
  assert [len(ids) for _, _, ids in blocks] == [3, 3, 1] * 2
  epochs = [np.concatenate([ids for t, _, ids in blocks if t == e]) for e in (0, 1)]
  for order in epochs:
    assert sorted(order.tolist()) == list(range(7))
  assert epochs[0].tolist() != epochs[1].tolist()  # a fresh permutation per outer epoch


def test_mehl_zero_directions_give_no_nan_and_keep_their_coefficient_at_zero(soup_problem):
  model, ings, val = soup_problem(k=4)
  # The last bias is identical in every ingredient: its direction is zero for all of them.
  shared = ings[0]["params"]["Dense_1"]["bias"]
  for p in ings:
    p["params"]["Dense_1"]["bias"] = shared
  leaf = [jax.tree_util.keystr(p) for p, _ in
          jax.tree_util.tree_flatten_with_path(ings[0])[0]].index("['params']['Dense_1']['bias']")
  for centre in mehl.CENTRES:
    soup = mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(0),
                          epochs=2, batch_size=16, centre=centre)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(soup.params))
    assert np.isfinite(soup.weights).all()
    np.testing.assert_allclose(soup.params["params"]["Dense_1"]["bias"], shared, rtol=1e-6)
    if centre == "global_mean":  # no step along a zero direction: the weights stay 1/K
      np.testing.assert_allclose(soup.weights[:, leaf], 0.25)
  groups = combine.leaf_groups(ings[0], per_layer=True)
  p, norms, _ = mehl.make_directions(combine.stack(ings), ings[0], jnp.ones(4), groups, True,
                                     1e-12)
  assert float(norms[0, leaf]) == 0.0
  opt = mehl.mehl_block_optimizer(model.apply, groups, optax.adamw(0.1, weight_decay=0.0))
  block = mehl.Block(ings[0], p)
  state = opt.init(block)
  for _ in range(3):
    state, metrics = opt.update(state, block, {"x": val.x, "y": val.y})
  assert np.isfinite(float(metrics["loss"]))
  np.testing.assert_array_equal(state.coefs[:, leaf], 0.0)


class _TrackingSequence(collections.abc.Sequence):
  """Hands out fresh copies of pytrees and counts how many are alive (not yet collected)."""

  def __init__(self, trees):
    self.trees = trees
    self.alive = 0
    self.max_alive = 0
    self.loads = []

  def __len__(self):
    return len(self.trees)

  def _release(self):
    self.alive -= 1

  def __getitem__(self, k):
    if not 0 <= k < len(self.trees):
      raise IndexError(k)
    gc.collect()
    tree = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), self.trees[k])
    for leaf in jax.tree_util.tree_leaves(tree):
      self.alive += 1
      weakref.finalize(leaf, self._release)
    self.max_alive = max(self.max_alive, self.alive)
    self.loads.append(int(k))
    return tree


def test_mehl_streams_blocks_and_never_holds_more_than_b_ingredients(soup_problem):
  model, ings, val = soup_problem(k=7)
  n_leaves = len(jax.tree_util.tree_leaves(ings[0]))
  seq = _TrackingSequence(ings)
  soup = mehl.mehl_soup(seq, model.apply, val, block_size=3, key=jax.random.key(4), epochs=1,
                        outer_epochs=2, batch_size=16, centre="running")
  assert seq.max_alive <= 3 * n_leaves  # at most b loaded pytrees alive at once (here 1)
  blocks = seq.loads[1:]  # the first load only reads the shapes
  assert len(blocks) == 2 * 7
  for t in range(2):  # each outer epoch reads every ingredient once, block by block
    assert sorted(blocks[7 * t:7 * (t + 1)]) == list(range(7))
  ids = [i for h in soup.history for i in h["ids"]]
  assert ids == blocks
  assert soup.cost.ingredient_loads == 1 + 2 * 7
  # The learned soup keeps all K: it reads each once and stacks them.
  seq = _TrackingSequence(ings)
  learned.learned_soup(seq, model.apply, val, per_layer=True, key=jax.random.key(0), epochs=1,
                       batch_size=16)
  assert sorted(seq.loads[1:]) == list(range(7))


def test_mehl_refuses_bad_arguments(soup_problem):
  model, ings, val = soup_problem(k=3)
  kw = dict(block_size=2, key=jax.random.key(0), batch_size=16)
  with pytest.raises(ValueError, match="centre"):
    mehl.mehl_soup(ings, model.apply, val, **dict(kw, centre="median"))
  with pytest.raises(ValueError, match="batch_size"):
    mehl.mehl_soup(ings, model.apply, val, **dict(kw, batch_size=len(val) + 1))
  with pytest.raises(ValueError, match="at least one ingredient"):
    mehl.mehl_soup([], model.apply, val, **kw)
