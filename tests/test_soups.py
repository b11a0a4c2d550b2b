"""Model soups: invariants of every soup, MEHL's coefficient gradient and hyperplane, streaming,
memory accounting, the ingredient pipeline, and the experiment end to end."""

import collections.abc
import gc
import json
import os
import shutil
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import REPO
from jaxlab import data, models
from jaxlab.config import ConfigError
from jaxlab.data.dataset import Split
from jaxlab.models.mlp import MLP
from jaxlab.soups import combine, experiment, greedy, ingredients, learned, mehl, memory, uniform
from jaxlab.soups.base import soup_loss
from jaxlab.training import steps
from test_cli import run_module

SMOKE = os.path.join(REPO, "experiments", "flags", "mehl_soup_smoke.flags")
METHODS = {"best_individual", "uniform", "greedy", "learned", "learned_plus", "mehl", "mehl_plus"}


def _leaves(tree):
  return jax.tree_util.tree_leaves(tree)


def _allclose(a, b, **kw):
  for x, y in zip(_leaves(a), _leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def _problem(k=5, dtype=jnp.float32, seed=0, n=48, d=6, classes=3, scale=0.3):
  """A tiny MLP, K perturbed copies of one init (a shared start) and a val split."""
  model = MLP(hidden=(8,), outputs=classes)
  key = jax.random.key(seed)
  kx, ky, kp, kn = jax.random.split(key, 4)
  x = jax.random.normal(kx, (n, d), dtype)
  y = jax.random.randint(ky, (n,), 0, classes)
  start = jax.tree_util.tree_map(lambda a: a.astype(dtype), model.init(kp, x[:1]))
  ings = [jax.tree_util.tree_map(
      lambda a, i=i: a + scale * jax.random.normal(jax.random.fold_in(kn, i), a.shape, dtype),
      start) for i in range(k)]
  return model, ings, Split(np.asarray(x), np.asarray(y, np.int32))


# --- pytree combinations ---------------------------------------------------------------------


def test_combine_group_vdot_and_norms_match_numpy():
  _, ings, _ = _problem(k=3)
  stacked = combine.stack(ings)
  for per_layer in (False, True):
    groups = combine.leaf_groups(ings[0], per_layer)
    g = combine.num_groups(groups)
    w = jax.random.normal(jax.random.key(1), (3, g))
    out = jax.jit(combine.combine, static_argnums=2)(stacked, w, groups)
    for leaf_out, leaves_k, grp in zip(_leaves(out), zip(*[_leaves(t) for t in ings]), groups):
      expected = sum(float(w[k, grp]) * np.asarray(leaves_k[k]) for k in range(3))
      np.testing.assert_allclose(leaf_out, expected, rtol=1e-5, atol=1e-6)
    other = ings[0]
    vd = combine.group_vdot(stacked, other, groups)
    norms = combine.group_norms(stacked, groups)
    for k in range(3):
      for grp in range(g):
        pairs = [(a, b) for a, b, gg in zip(_leaves(ings[k]), _leaves(other), groups) if gg == grp]
        np.testing.assert_allclose(vd[k, grp], sum(np.vdot(a, b) for a, b in pairs), rtol=1e-5)
        np.testing.assert_allclose(norms[k, grp],
                                   np.sqrt(sum(np.sum(np.square(a)) for a, _ in pairs)), rtol=1e-5)


# --- uniform, greedy, best individual --------------------------------------------------------


def test_uniform_soup_is_the_mean_and_of_identical_models_that_model():
  _, ings, _ = _problem(k=4)
  soup = uniform.uniform_soup(ings)
  _allclose(soup.params, jax.tree_util.tree_map(lambda *xs: sum(xs) / 4, *ings), rtol=1e-5,
            atol=1e-6)
  same = uniform.uniform_soup([ings[0]] * 7).params
  _allclose(same, ings[0], rtol=1e-6, atol=1e-7)
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
  # A tie is rejected: the candidate (1 + 1) / 2 = 1 scores exactly the current best.
  tie = greedy.greedy_soup(_scalar_ingredients([1.0, 1.0]), lambda p: -abs(float(p["w"][0]) - 1))
  assert tie.selected == (0,)
  # Known scores are used as given (the first pick is their argmax).
  given = greedy.greedy_soup(ings, score, scores=[0.0, 0.0, 0.0, 1.0])
  assert given.selected[0] == 3
  assert greedy.best_individual([0.1, 0.7, 0.7, 0.2]) == 1


# --- learned soups ---------------------------------------------------------------------------


def test_learned_soup_starts_uniform_stays_on_the_simplex_and_finds_the_good_ingredient():
  model, ings, val = _problem(k=4, scale=0.5)
  # Ingredient 2 is trained on val; the others are random perturbations.
  tx = optax.adam(0.05)
  loss_fn = steps.classification_loss(model.apply)
  state = steps.TrainState.create(ings[2], tx)
  step = steps.make_train_step(loss_fn, tx)
  for _ in range(150):
    state, _ = step(state, {"x": val.x, "y": val.y}, jax.random.key(0))
  ings[2] = state.params
  groups = combine.leaf_groups(ings[0], per_layer=True)
  opt = learned.learned_soup_optimizer(model.apply, groups, optax.adamw(0.05, weight_decay=0.0))
  stacked = combine.stack(ings)
  init = opt.init(stacked)
  _allclose(combine.combine(stacked, learned.mixing_weights(init.logits), groups),
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


# --- MEHL ------------------------------------------------------------------------------------


def test_mehl_coefficient_gradient_equals_autodiff_through_the_rebuild(dtype):
  dt = jnp.float32 if dtype == "float32" else jnp.float64
  model, ings, val = _problem(k=3, dtype=dt)
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


def test_mehl_with_one_block_and_global_mean_is_the_papers_hyperplane_objective():
  model, ings, val = _problem(k=4)
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
def test_mehl_effective_weights_sum_to_one_and_reproduce_the_soup(centre, normalize):
  model, ings, val = _problem(k=5, scale=0.5)
  soup = mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(3),
                        per_layer=True, epochs=3, outer_epochs=2, learning_rate=0.05,
                        batch_size=16, centre=centre, normalize=normalize)
  groups = combine.leaf_groups(ings[0], per_layer=True)
  np.testing.assert_allclose(soup.weights.sum(0), 1.0, atol=1e-5)
  rebuilt = combine.combine(combine.stack(ings), jnp.asarray(soup.weights, jnp.float32), groups)
  _allclose(rebuilt, soup.params, rtol=1e-4, atol=1e-5)
  assert len(soup.history) == 2 * 3  # ceil(5 / 2) blocks (the last one padded) x 2 epochs
  assert soup.cost.val_passes == 2 * 3 * 3
  assert soup.history[-1]["coef_loss_last"] < soup.history[0]["coef_loss_first"]


def test_mehl_zero_directions_give_no_nan_and_keep_their_coefficient_at_zero():
  model, ings, val = _problem(k=4)
  # The last bias is identical in every ingredient: its direction is zero for all of them.
  shared = ings[0]["params"]["Dense_1"]["bias"]
  for p in ings:
    p["params"]["Dense_1"]["bias"] = shared
  for centre in mehl.CENTRES:
    soup = mehl.mehl_soup(ings, model.apply, val, block_size=2, key=jax.random.key(0),
                          epochs=2, batch_size=16, centre=centre)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in _leaves(soup.params))
    assert np.isfinite(soup.weights).all()
    np.testing.assert_allclose(soup.params["params"]["Dense_1"]["bias"], shared, rtol=1e-6)
    leaf = [jax.tree_util.keystr(p) for p, _ in
            jax.tree_util.tree_flatten_with_path(ings[0])[0]].index(
                "['params']['Dense_1']['bias']")
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
    for leaf in _leaves(tree):
      self.alive += 1
      weakref.finalize(leaf, self._release)
    self.max_alive = max(self.max_alive, self.alive)
    self.loads.append(int(k))
    return tree


def test_mehl_streams_blocks_and_never_holds_more_than_b_ingredients():
  model, ings, val = _problem(k=7)
  n_leaves = len(_leaves(ings[0]))
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


def test_step_memory_grows_with_k_for_learned_plus_and_is_flat_for_mehl_plus():
  model = models.build("mlp", outputs=10, width=64, depth=2)
  like = memory.abstract(models.init(model, jax.random.key(0), np.zeros((1, 8, 8, 1),
                                                                        np.float32)))
  d = combine.tree_bytes(like)
  groups = combine.leaf_groups(like, per_layer=True)
  batch = {"x": jax.ShapeDtypeStruct((8, 8, 8, 1), jnp.float32),
           "y": jax.ShapeDtypeStruct((8,), jnp.int32)}
  tx = optax.adamw(0.01, weight_decay=0.0)
  lopt = learned.learned_soup_optimizer(model.apply, groups, tx)
  mopt = mehl.mehl_block_optimizer(model.apply, groups, tx)
  learned_bytes = {k: learned.compile_update(lopt, like, k, batch)[1].total_bytes
                   for k in (4, 8, 16)}
  mehl_bytes = mehl.compile_steps(mopt, like, 2, groups, batch, memory_only=True).memory
  # All K ingredients are step arguments: + K D bytes, and no (K, D) temporary.
  for k in (4, 8, 16):
    assert k * d <= learned_bytes[k] <= (k + 3) * d, (k, learned_bytes[k] / d)
  assert learned_bytes[16] - learned_bytes[8] == pytest.approx(8 * d, rel=0.01)
  # MEHL: the block (b = 2), the anchor and O(1) temporaries, whatever K is.
  assert 3 * d <= mehl_bytes.total_bytes <= 6 * d, mehl_bytes.total_bytes / d
  assert mehl_bytes.total_bytes < learned_bytes[8]


def test_peak_rss_sees_an_allocation():
  with memory.PeakRSS() as rss:
    block = np.ones(25_000_000, np.float32)  # 100 MB, touched
    del block
  assert rss.peak_bytes - rss.start_bytes >= 80e6


# --- ingredients -----------------------------------------------------------------------------


def test_hyperparameters_are_seeded_and_in_range():
  space = ingredients.SearchSpace()
  key = jax.random.key(0)
  draws = [ingredients.sample_hyperparameters(jax.random.fold_in(key, i), space)
           for i in range(40)]
  assert draws[3] == ingredients.sample_hyperparameters(jax.random.fold_in(key, 3), space)
  assert all(1e-4 <= h.learning_rate <= 1e-2 and 1e-5 <= h.weight_decay <= 0.5 for h in draws)
  assert all(2 <= h.epochs <= 10 and 0 <= h.label_smoothing <= 0.2 for h in draws)
  assert {h.shift for h in draws} == {0, 2} and {h.mixup == 0 for h in draws} == {True, False}
  assert len({h.seed for h in draws}) == 40
  with pytest.raises(ValueError, match="learning_rate"):
    ingredients.SearchSpace(learning_rate=(1e-2, 1e-4))


def test_recipe_loss_without_augmentation_is_the_plain_loss():
  ds = data.load("digits", image_size=16)
  model = models.build("mlp", outputs=10, width=16, depth=1)
  params = models.init(model, jax.random.key(0), ds.train.x[:1])
  batch = {"x": ds.train.x[:32], "y": ds.train.y[:32]}
  recipe = {"label_smoothing": jnp.float32(0.1), "shift": jnp.int32(0),
            "noise_std": jnp.float32(0.0), "mixup": jnp.float32(0.0)}
  got = ingredients.recipe_loss(model.apply, 2)(params, {**batch, **recipe}, jax.random.key(1))
  want = steps.classification_loss(model.apply, 0.1)(params, batch, None)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


def test_store_round_trip_and_head_transplant(tmp_path):
  build = lambda n: models.build("mlp", outputs=n, width=8, depth=2)  # pylint: disable=unnecessary-lambda-assignment
  x = np.zeros((1, 8, 8, 1), np.float32)
  assert ingredients.output_modules(build, x, 10) == ("Dense_2",)
  vit = lambda n: models.build("vit", outputs=n, width=8, depth=1, patch_size=4)  # pylint: disable=unnecessary-lambda-assignment
  assert ingredients.output_modules(vit, x, 10) == ("head",)
  src = models.init(build(5), jax.random.key(0), x)
  tgt = models.init(build(10), jax.random.key(1), x)
  moved = ingredients.transplant_backbone(src, tgt, ("Dense_2",))
  _allclose(moved["params"]["Dense_0"], src["params"]["Dense_0"])
  _allclose(moved["params"]["Dense_2"], tgt["params"]["Dense_2"])

  store = ingredients.IngredientStore(str(tmp_path / "ing"), like=tgt, size=3)
  assert len(store) == 3 and not store.exists(0)
  store.save(0, tgt, {"learning_rate": 0.01, "epochs": 3, "val_acc": 0.5})
  assert store.exists(0) and not store.exists(1)
  assert store.metadata(0) == {"learning_rate": 0.01, "epochs": 3, "val_acc": 0.5}
  _allclose(store[0], tgt)
  assert store.loads == 1
  with pytest.raises(IndexError):
    store[3]  # pylint: disable=pointless-statement
  with pytest.raises(FileNotFoundError):
    store[1]  # pylint: disable=pointless-statement


def test_linear_probe_trains_only_the_head():
  ds = data.load("digits")
  build = lambda n: models.build("mlp", outputs=n, width=16, depth=1)  # pylint: disable=unnecessary-lambda-assignment
  params = models.init(build(10), jax.random.key(0), ds.train.x[:1])
  heads = ingredients.output_modules(build, ds.train.x[:1], 10)
  probed, history = ingredients.linear_probe(
      params, build(10).apply, ds.train, heads=heads, key=jax.random.key(1), epochs=2,
      batch_size=64, learning_rate=1e-2)
  _allclose(probed["params"]["Dense_0"], params["params"]["Dense_0"], rtol=0, atol=0)
  assert not np.allclose(probed["params"]["Dense_1"]["kernel"],
                         params["params"]["Dense_1"]["kernel"])
  assert history[-1]["train_loss"] < history[0]["train_loss"]


# --- the experiment --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, field", [
    (dict(methods=("mehl", "soup")), "methods"),
    (dict(methods=("mehl", "mehl")), "methods"),
    (dict(block_size=0), "block_size"),
    (dict(num_ingredients=1), "num_ingredients"),
    (dict(ingredient_lr=(1e-2,)), "ingredient_lr"),
    (dict(ingredient_wd=(0.5, 1e-5)), "ingredient_wd"),
    (dict(centre="median"), "centre"),
    (dict(source_task="imagenet"), "source_task"),
    (dict(label_fraction=0.0), "label_fraction"),
])
def test_config_errors_name_the_field(kwargs, field):
  with pytest.raises(ConfigError) as e:
    experiment.Config(**kwargs)
  assert e.value.field == field


@pytest.mark.parametrize("name", ["mehl_soup", "mehl_soup_smoke", "mehl_soup_cifar10"])
def test_flagfiles_give_valid_configs(name):
  from absl import flags  # pylint: disable=g-import-not-at-top
  from experiments import common  # pylint: disable=g-import-not-at-top
  values = flags.FlagValues()
  common.define_config_flags(experiment.Config, flag_values=values)
  path = os.path.join(REPO, "experiments", "flags", f"{name}.flags")
  extra = ["--data_dir=/data/tfds"] if name.endswith("cifar10") else []
  values(["prog", f"--flagfile={path}"] + extra)
  config = common.config_from_flags(experiment.Config, values)
  assert set(config.methods) == METHODS
  if name == "mehl_soup":  # the README's main job: the documented default study
    assert (config.num_ingredients, config.block_size, config.centre) == (32, 4, "global_mean")
    assert config == experiment.Config()  # the library defaults are the default study
  if name.endswith("cifar10"):
    assert config.dataset == "tfds:cifar10" and config.model == "vit"
    assert (config.num_ingredients, config.block_size) == (72, 18)


def test_smoke_run_writes_every_method_and_resumes_without_retraining(tmp_path):
  a = tmp_path / "a"
  proc = run_module("experiments.mehl_soup", f"--flagfile={SMOKE}", f"--workdir={a}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((a / "results.json").read_text())
  assert results["num_ingredients"] == 6 and results["block_size"] == 2
  assert set(results["methods"]) == METHODS
  for m in results["methods"].values():
    assert {"test_acc", "val_acc", "peak_bytes", "peak_rss_bytes", "coef_wall_s"} <= set(m)
    assert 0 <= m["test_acc"] <= 1 and 0 <= m["val_acc"] <= 1
    assert m["peak_bytes"] > 0 and m["peak_rss_bytes"] > 0 and m["coef_wall_s"] >= 0
  methods = results["methods"]
  assert methods["mehl_plus"]["peak_bytes"] < methods["learned_plus"]["peak_bytes"]
  curve = results["memory_vs_k"]
  gaps = [curve["learned_plus"][k] - curve["mehl_plus"][k] for k in ("6", "12")]
  assert 0 < gaps[0] < gaps[1]
  assert curve["mehl_plus"]["6"] == curve["mehl_plus"]["12"]
  assert abs(methods["mehl_plus"]["weights_column_sum_max_error"]) < 1e-6
  for name in ("plots/accuracy.png", "plots/memory_vs_k.png", "ingredients/start",
               "ingredients/ingredient_005", "soups/mehl_plus", "soups/learned_plus",
               "soups/mehl_plus_coefficients", "soups/learned_plus_coefficients"):
    assert (a / name).exists(), name
  lines = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
  assert [m["phase"] for m in lines[:7]] == ["start"] + ["ingredient"] * 6
  assert [m["method"] for m in lines if m["phase"] == "soup"] == list(experiment.METHODS)

  # An interrupted run: ingredient 5, the soups and the results are missing.
  b = tmp_path / "b"
  shutil.copytree(a, b)
  for name in ("results.json", "soups", "ingredients/ingredient_005"):
    path = b / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()  # pylint: disable=expression-not-assigned
  kept = {p.name: p.stat().st_mtime_ns for p in (b / "ingredients").iterdir()}
  refused = run_module("experiments.mehl_soup", f"--flagfile={SMOKE}", f"--workdir={b}")
  assert refused.returncode != 0 and "is not empty" in refused.stderr
  resumed = run_module("experiments.mehl_soup", f"--flagfile={SMOKE}", f"--workdir={b}",
                       "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "ingredient 6/6: reused" not in resumed.stderr  # ingredient 5 was trained again
  assert resumed.stderr.count("reused from its checkpoint") == 5
  assert {p.name: p.stat().st_mtime_ns for p in (b / "ingredients").iterdir()
          if p.name in kept} == kept  # finished ingredients untouched
  again = json.loads((b / "results.json").read_text())
  for name in METHODS:  # same seed, same results
    assert again["methods"][name]["test_acc"] == methods[name]["test_acc"], name
  lines_b = [json.loads(line) for line in (b / "metrics.jsonl").read_text().splitlines()]
  assert [m["phase"] for m in lines_b] == [m["phase"] for m in lines]


def test_bad_flags_fail_fast_naming_the_flag(tmp_path):
  proc = run_module("experiments.mehl_soup", f"--flagfile={SMOKE}", "--methods=mehl,soup",
                    f"--workdir={tmp_path / 'w'}", timeout=120)
  assert proc.returncode == 2
  assert "--methods: got 'soup', expected one of: best_individual" in proc.stderr
  assert not (tmp_path / "w" / "results.json").exists()


def test_data_dependent_bad_values_stop_before_the_workdir_is_written(tmp_path):
  workdir = tmp_path / "w"
  with pytest.raises(ConfigError) as e:
    experiment.run(experiment.Config(coef_batch_size=100_000), str(workdir))
  assert e.value.field == "coef_batch_size" and "val examples" in str(e.value)
  assert not workdir.exists()
