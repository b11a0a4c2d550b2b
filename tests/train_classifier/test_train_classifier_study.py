"""The train_classifier study on the skeleton: accuracy, reproducibility, resume, refusals."""

import dataclasses
import json

import pytest

from jaxlab import train_classifier
from jaxlab.data.config import DataConfig
from jaxlab.experiment import ConfigError, Workdir
from jaxlab.models.config import ModelConfig
from jaxlab.training.optim import OptimConfig


class _Stop(Exception):
  pass


SMOKE = train_classifier.smoke()


def test_classifier_reaches_90_percent_and_is_reproducible(tmp_path):
  first = train_classifier.run(SMOKE, str(tmp_path / "a"))
  assert first["test_acc"] >= 0.9 and first["val_acc"] >= 0.9
  assert first["num_params"] == 64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
  second = train_classifier.run(SMOKE, str(tmp_path / "b"))
  assert second["test_acc"] == first["test_acc"] and second["train_loss"] == first["train_loss"]
  metrics = Workdir(str(tmp_path / "a"), resume=True).read_metrics()
  assert [m["step"] for m in metrics] == list(range(1, 11))
  assert (tmp_path / "a" / "plots" / "curves.png").exists()
  assert json.loads((tmp_path / "a" / "config.json").read_text())["config"]["seed"] == 0
  assert (tmp_path / "a" / "plots" / "curves.pdf").exists()


def test_classifier_resume_matches_uninterrupted(tmp_path, monkeypatch):
  config = dataclasses.replace(SMOKE, num_epochs=4, model=ModelConfig(width=64, depth=1), seed=1)
  reference = train_classifier.run(config, str(tmp_path / "ref"))
  original_log = Workdir.log

  def crashing_log(self, step, metrics):
    original_log(self, step, metrics)
    if step == 2:
      raise _Stop()

  monkeypatch.setattr(Workdir, "log", crashing_log)
  with pytest.raises(_Stop):
    train_classifier.run(config, str(tmp_path / "run"))
  monkeypatch.setattr(Workdir, "log", original_log)
  resumed = train_classifier.run(config, str(tmp_path / "run"), resume=True)
  assert resumed["test_acc"] == reference["test_acc"]
  assert resumed["train_loss"] == reference["train_loss"]
  steps_logged = [m["step"] for m in Workdir(str(tmp_path / "run"), resume=True).read_metrics()]
  assert steps_logged == [1, 2, 3, 4]


@pytest.mark.parametrize("build, field", [
    (lambda: DataConfig(name="cifar11"), "name"), (lambda: ModelConfig(name="resnet"), "name"),
    (lambda: OptimConfig(learning_rate=-1.0), "learning_rate"),
    (lambda: DataConfig(data_dir="/x"), "data_dir"),
    (lambda: train_classifier.Config(dataset=DataConfig(name="tweets")), "dataset.name"),
    (lambda: ModelConfig(name="vit", width=10, num_heads=4), "num_heads"),
    (lambda: train_classifier.Config(batch_size=0), "batch_size"),
    (lambda: OptimConfig(schedule="step"), "schedule"),
    (lambda: DataConfig(name="gaussian_mixture", input_noise=0.1), "input_noise"),
    (lambda: DataConfig(input_noise=-0.1), "input_noise")])
def test_config_errors_name_the_field(build, field):
  with pytest.raises(ConfigError) as err:
    build()
  assert err.value.field == field


def test_data_dependent_errors_name_the_flag(tmp_path):
  with pytest.raises(ConfigError) as err:
    train_classifier.run(dataclasses.replace(
        SMOKE, dataset=DataConfig(name="gaussian_mixture"), model=ModelConfig(name="cnn")),
        str(tmp_path / "a"))
  assert err.value.field == "model.name"
  with pytest.raises(ConfigError) as err:
    train_classifier.run(dataclasses.replace(SMOKE, dataset=DataConfig(
        name="tfds:mnist", data_dir=str(tmp_path / "missing"))), str(tmp_path / "b"))
  assert err.value.field == "dataset.data_dir" and "does not exist" in str(err.value)
  assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_resnets_with_batchnorm_statistics_are_refused_naming_the_field():
  from jaxlab.experiment import config as config_lib  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match="model.name.*BatchNorm statistics"):
    config_lib.override(train_classifier.smoke(), {"model.name": "preact_resnet",
                                                   "model.depth": 18})
