"""The ingredient pipeline: seeded recipes, the recipe loss, fine-tunes and the linear probe
through the supervised pipeline, the head transplant and the checkpoint store."""

import jax
import numpy as np
import pytest

from jaxlab import data, models
from jaxlab.data.dataset import Split
from jaxlab.experiment.config import ConfigError
from jaxlab.soups import ingredients
from jaxlab.training import steps
from jaxlab.training.supervised import fit_classifier


def test_hyperparameters_are_seeded_and_in_range():
  space = ingredients.SearchSpace()
  keys = jax.random.split(jax.random.key(0), 40)
  draws = [ingredients.sample_hyperparameters(k, space) for k in keys]
  assert draws[3] == ingredients.sample_hyperparameters(keys[3], space)
  assert all(1e-4 <= h.learning_rate <= 1e-2 and 1e-5 <= h.weight_decay <= 0.5 for h in draws)
  assert all(2 <= h.epochs <= 10 and 0 <= h.label_smoothing <= 0.2 for h in draws)
  assert {h.epochs for h in draws} == set(range(2, 11))  # both ends reached
  assert {h.shift for h in draws} == {0, 2} and {h.mixup == 0 for h in draws} == {True, False}
  assert all((h.shift == 0) == (h.noise_std == 0) for h in draws)  # augmentation as one
  assert len({h.seed for h in draws}) == 40


@pytest.mark.parametrize("kwargs, field", [
    (dict(learning_rate=(1e-2, 1e-4)), "learning_rate"),
    (dict(learning_rate=(1e-2,)), "learning_rate"),
    (dict(weight_decay=(0.0, 0.5)), "weight_decay"),
    (dict(epochs=(0, 3)), "epochs"),
    (dict(label_smoothing=(0.0, 1.0)), "label_smoothing"),
    (dict(mixup=(-1.0, 0.5)), "mixup"),
    (dict(augment_prob=1.5), "augment_prob"),
    (dict(max_shift=-1), "max_shift"),
])
def test_search_space_errors_name_the_field(kwargs, field):
  with pytest.raises(ConfigError) as e:
    ingredients.SearchSpace(**kwargs)
  assert e.value.field == field


def _digits_mlp(width=16):
  ds = data.load("digits", image_size=16)
  model = models.build("mlp", outputs=10, width=width, depth=1)
  return ds, model, models.init(model, jax.random.key(0), ds.train.x[:1])


def test_recipe_loss_without_augmentation_is_the_plain_loss():
  ds, model, params = _digits_mlp()
  batch = {"x": ds.train.x[:32], "y": ds.train.y[:32]}
  hp = ingredients.Hyperparameters(learning_rate=1e-3, weight_decay=0.0, epochs=1,
                                   label_smoothing=0.1)
  got = ingredients.recipe_loss(model.apply, 2)(params, {**batch, **ingredients.recipe_batch(hp)},
                                                jax.random.key(1))
  want = steps.classification_loss(model.apply, 0.1)(params, batch, None)
  np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


def test_finetune_is_the_supervised_pipeline_with_the_recipe():
  """A recipe without augmentation trains like `fit_classifier` with the plain smoothed loss,
  the same optimiser and the recipe's seed; the same recipe gives the same ingredient."""
  ds, model, params = _digits_mlp()
  train = ds.train
  hp = ingredients.Hyperparameters(learning_rate=3e-3, weight_decay=1e-3, epochs=2,
                                   label_smoothing=0.1, seed=7)
  finetune = ingredients.make_finetune(model.apply, pad=2)
  got, history = finetune(params, hp, train, 64)
  tx = ingredients.recipe_optimizer(hp.learning_rate, hp.weight_decay, (len(train) // 64) * 2)
  want = fit_classifier(params, model.apply, tx, train, key=jax.random.key(hp.seed),
                        num_epochs=2, batch_size=64,
                        loss_fn=steps.classification_loss(model.apply, 0.1))
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want.params)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  assert len(history) == 2 and history[-1]["train_loss"] < history[0]["train_loss"]
  again, _ = finetune(params, hp, train, 64)
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(again)):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match="padding"):
    finetune(params, ingredients.Hyperparameters(1e-3, 0.0, 1, shift=3), train, 64)


def test_store_round_trip_and_head_transplant(tmp_path, assert_trees_close):
  build = lambda n: models.build("mlp", outputs=n, width=8, depth=2)  # pylint: disable=unnecessary-lambda-assignment
  x = np.zeros((1, 8, 8, 1), np.float32)
  assert ingredients.output_modules(build, x, 10) == ("Dense_2",)
  vit = lambda n: models.build("vit", outputs=n, width=8, depth=1, patch_size=4)  # pylint: disable=unnecessary-lambda-assignment
  assert ingredients.output_modules(vit, x, 10) == ("head",)
  k_src, k_tgt = jax.random.split(jax.random.key(0))
  src = models.init(build(5), k_src, x)
  tgt = models.init(build(10), k_tgt, x)
  moved = ingredients.transplant_backbone(src, tgt, ("Dense_2",))
  assert_trees_close(moved["params"]["Dense_0"], src["params"]["Dense_0"], rtol=0, atol=0)
  assert_trees_close(moved["params"]["Dense_2"], tgt["params"]["Dense_2"], rtol=0, atol=0)

  store = ingredients.IngredientStore(str(tmp_path / "ing"), like=tgt, size=3)
  assert len(store) == 3 and not store.exists(0)
  store.save(0, tgt, {"learning_rate": 0.01, "epochs": 3, "val_acc": 0.5})
  assert store.exists(0) and not store.exists(1)
  assert store.metadata(0) == {"learning_rate": 0.01, "epochs": 3, "val_acc": 0.5}
  assert_trees_close(store[0], tgt, rtol=0, atol=0)
  assert store.loads == 1
  with pytest.raises(IndexError):
    store[3]  # pylint: disable=pointless-statement
  with pytest.raises(FileNotFoundError):
    store[1]  # pylint: disable=pointless-statement


def test_linear_probe_trains_only_the_head(assert_trees_close):
  ds = data.load("digits")
  build = lambda n: models.build("mlp", outputs=n, width=16, depth=1)  # pylint: disable=unnecessary-lambda-assignment
  params = models.init(build(10), jax.random.key(0), ds.train.x[:1])
  heads = ingredients.output_modules(build, ds.train.x[:1], 10)
  probed, history = ingredients.linear_probe(
      params, build(10).apply, ds.train, heads=heads, key=jax.random.key(1), epochs=2,
      batch_size=64, learning_rate=1e-2)
  assert_trees_close(probed["params"]["Dense_0"], params["params"]["Dense_0"], rtol=0, atol=0)
  assert not np.allclose(probed["params"]["Dense_1"]["kernel"],
                         params["params"]["Dense_1"]["kernel"])
  assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_shared_start_keeps_the_pretrained_backbone_and_probes_a_new_head():
  ds = data.load("digits")
  build = lambda n: models.build("mlp", outputs=n, width=16, depth=1)  # pylint: disable=unnecessary-lambda-assignment
  pretrain = ingredients.Hyperparameters(learning_rate=1e-2, weight_decay=0.0, epochs=2, seed=3)
  start, info = ingredients.shared_start(
      build, ds.train, ds.train, num_classes=10, source_task="half", key=jax.random.key(0),
      pretrain=pretrain, probe_epochs=2, probe_lr=1e-2, batch_size=64, pad=0)
  # The backbone is the source model's, trained on digits 0-4 alone by the same recipe.
  keep, y_src, n_src = ingredients.source_labels(ds.train.y, 10, "half")
  assert n_src == 5 and set(np.unique(y_src)) == set(range(5))
  assert start["params"]["Dense_1"]["kernel"].shape == (16, 10)
  assert info["source_train_accuracy"] > 0.4  # chance: 0.2
  assert info["probe_train_accuracy"] > 0.2  # chance: 0.1
  k_src = jax.random.split(jax.random.key(0), 3)[0]
  src = models.init(build(5), k_src, ds.train.x[:1])
  src_split = Split(ds.train.x[keep], y_src)
  src, _ = ingredients.make_finetune(build(5).apply, pad=0)(src, pretrain, src_split, 64)
  np.testing.assert_array_equal(start["params"]["Dense_0"]["kernel"],
                                src["params"]["Dense_0"]["kernel"])
  with pytest.raises(ValueError, match="source_task"):
    ingredients.shared_start(build, ds.train, ds.train, num_classes=10, source_task="imagenet",
                             key=jax.random.key(0), pretrain=pretrain, probe_epochs=1,
                             probe_lr=1e-2, batch_size=64, pad=0)


def test_take_labeled_is_a_seeded_stratified_fraction():
  ds = data.load("digits")
  part = ingredients.take_labeled(ds.train, 0.25, seed=0)
  assert abs(len(part) - 0.25 * len(ds.train)) <= 10
  np.testing.assert_array_equal(part.x, ingredients.take_labeled(ds.train, 0.25, seed=0).x)
  counts = np.bincount(part.y, minlength=10) / len(part)
  np.testing.assert_allclose(counts, np.bincount(ds.train.y, minlength=10) / len(ds.train),
                             atol=0.02)
  assert ingredients.take_labeled(ds.train, 1.0, seed=0) is ds.train
