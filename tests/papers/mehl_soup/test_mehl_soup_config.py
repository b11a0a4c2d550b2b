"""The MEHL-Soup study's config: presets as code, field errors by dotted name, the typed method
catalogue, and data-dependent refusals before anything is written."""

import dataclasses
import os

import jax
import numpy as np
import pytest

from experiments import common
from jaxlab.data.config import DataConfig
from jaxlab.experiment.config import ConfigError
from jaxlab.papers import mehl_soup
from jaxlab.papers.mehl_soup import config as config_lib
from jaxlab.papers.mehl_soup import methods
from jaxlab.soups.ingredients import SearchSpace


@pytest.mark.parametrize("change, field", [
    (dict(methods=("mehl", "soup")), "methods"),
    (dict(methods=("mehl", "mehl")), "methods"),
    (dict(methods=()), "methods"),
    (dict(block_size=0), "block_size"),
    (dict(num_ingredients=1), "num_ingredients"),
    (dict(centre="median"), "centre"),
    (dict(source_task="imagenet"), "source_task"),
    (dict(label_fraction=0.0), "label_fraction"),
    (dict(coef_lr=0.0), "coef_lr"),
    (dict(memory_ks=(0, 8)), "memory_ks"),
    (dict(dataset=DataConfig(name="tweets")), "dataset.name"),
    (dict(drop_top=(0, 31)), "drop_top"),
    (dict(drop_top=(2, 2)), "drop_top"),
    (dict(methods=("greedy", "uniform")), "drop_top"),
    (dict(seeds=()), "seeds"),
    (dict(seeds=(1, 1)), "seeds"),
])
def test_config_errors_name_the_field(change, field):
  with pytest.raises(ConfigError) as e:
    dataclasses.replace(mehl_soup.default(), **change)
  assert e.value.field == field


@pytest.mark.parametrize("flag, field", [
    ("--search_space.learning_rate=1e-2", "search_space.learning_rate"),
    ("--learning_rate=1e-2,1e-4", "search_space.learning_rate"),
    ("--weight_decay=0,0.5", "search_space.weight_decay"),
    ("--mixup=0.5,0.1", "search_space.mixup"),
    ("--model=cnn --width=0", "model.width"),
    ("--dataset=tfds:cifar10", "dataset.data_dir"),
])
def test_nested_flags_are_refused_by_their_dotted_name(flag, field):
  with pytest.raises(ConfigError) as e:
    common.config_from_args(mehl_soup.STUDY, ["--config=smoke", *flag.split()])
  assert e.value.field == field


def test_presets_are_the_documented_studies(repo_root):
  default = mehl_soup.default()
  assert default == mehl_soup.Config()  # the library defaults are the README's main job
  assert (default.num_ingredients, default.block_size, default.centre) == (32, 4, "global_mean")
  assert default.dataset == DataConfig(name="digits", image_size=16, input_noise=0.4)
  assert default.search_space == SearchSpace(learning_rate=(3e-4, 3e-3), epochs=(4, 12),
                                             max_shift=1)
  assert (default.label_fraction, default.seeds) == (1.0, (0, 1, 2, 3, 4))
  assert default.methods == mehl_soup.METHOD_NAMES
  assert default.drop_top == config_lib.drop_top_for(32) == (0, 2, 11, 21)
  assert config_lib.drop_top_for(72) == (0, 2, 24, 48)
  smoke = mehl_soup.smoke()
  assert (smoke.num_ingredients, smoke.block_size, smoke.model.width) == (6, 2, 64)
  assert smoke.search_space.epochs == (1, 3) and smoke.source_task == "none"
  assert smoke.seeds == (0, 1) and smoke.drop_top == (0, 2)
  ablation = mehl_soup.ablation()
  assert ablation.ablation.active and not default.ablation.active
  assert ablation.drop_top == () and "mehl_plus" in ablation.methods
  with pytest.raises(ConfigError) as e:
    mehl_soup.Ablation(lr_max=(1e-3,))  # a grid needs both axes
  assert e.value.field == "lr_max"
  # The README's paper-scale command: the cifar10 flagfile plus --data_dir.
  cifar = common.config_from_args(mehl_soup.STUDY, [
      f"--flagfile={os.path.join(repo_root, 'experiments/flags/mehl_soup_cifar10.flags')}",
      "--data_dir", "/data/tfds"])
  assert cifar == dataclasses.replace(
      mehl_soup.cifar10(), dataset=DataConfig(name="tfds:cifar10", data_dir="/data/tfds"))
  assert (cifar.model.name, cifar.num_ingredients, cifar.block_size) == ("vit", 72, 18)
  assert cifar.search_space.learning_rate == (1e-5, 1e-3) and cifar.search_space.max_shift == 4
  # Old flat flag names that users typed keep working as short aliases.
  config = common.config_from_args(mehl_soup.STUDY, [
      "--config=smoke", "--label_smoothing=0,0.1", "--max_shift=1", "--image_size=8",
      "--width=32", "--num_ingredients=4", "--methods=mehl_plus,greedy"])
  assert config.search_space.label_smoothing == (0.0, 0.1) and config.search_space.max_shift == 1
  assert (config.dataset.image_size, config.model.width, config.num_ingredients) == (8, 32, 4)
  assert config.methods == ("mehl_plus", "greedy")


def test_methods_are_typed_records():
  names = [m.name for m in methods.METHODS]
  assert names == ["best_individual", "uniform", "greedy", "mehl", "mehl_plus", "learned",
                   "learned_plus", "mehl_plus_raw"]
  assert {m.name for m in methods.METHODS if m.per_layer} == {"mehl_plus", "learned_plus",
                                                              "mehl_plus_raw"}
  assert methods.BY_NAME["mehl_plus_raw"].normalize is False  # the paper's raw directions
  assert len({m.label for m in methods.METHODS}) == len(names)
  assert methods.BY_NAME["mehl_plus"].build is methods.BY_NAME["mehl"].build
  # Selected methods run in the catalogue's order, whatever order the flag lists them in.
  assert [m.name for m in methods.selected(("learned", "uniform"))] == ["uniform", "learned"]
  # One key per method, fixed by the catalogue, not by which methods a run selects.
  key = jax.random.key(0)
  keys = methods.method_keys(key)
  data = {n: tuple(np.asarray(jax.random.key_data(k)).ravel()) for n, k in keys.items()}
  assert len(set(data.values())) == len(names)
  assert data["mehl"] == tuple(np.asarray(jax.random.key_data(jax.random.fold_in(key, 3))).ravel())


def test_weight_stats_summarise_the_effective_weights():
  w = np.array([[0.5, 1.5], [0.5, -0.5]])
  stats = methods.weight_stats(w)
  assert stats == {"weights_negative_fraction": 0.25, "weights_min": -0.5, "weights_max": 1.5,
                   "weights_abs_max": 1.5, "weights_column_sum_max_error": 0.0}
  per_group = methods.per_group_weights(w, np.array([[1.0, 4.0], [3.0, 2.0]]))
  assert per_group == {"group_weights_abs_max": [0.5, 1.5],
                       "group_direction_norm_median": [2.0, 3.0]}


@pytest.mark.parametrize("change, field, words", [
    (dict(coef_batch_size=100_000), "coef_batch_size", "val examples"),
    (dict(batch_size=300), "batch_size", "labelled training examples"),
    (dict(batch_size=600, label_fraction=1.0, source_task="half"), "batch_size",
     "source task 'half'"),
    (dict(dataset=DataConfig(name="gaussian_mixture"),
          model=mehl_soup.smoke().model.__class__(name="cnn")), "model.name", "needs images"),
])
def test_data_dependent_bad_values_stop_before_the_workdir_is_written(tmp_path, change, field,
                                                                       words):
  workdir = tmp_path / "w"
  with pytest.raises(ConfigError) as e:
    mehl_soup.run(dataclasses.replace(mehl_soup.smoke(), **change), str(workdir))
  assert e.value.field == field and words in str(e.value)
  assert not workdir.exists()
