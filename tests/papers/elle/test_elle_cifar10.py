"""The paper-scale CIFAR-10 path of the ELLE study: the flagfile resolves to the `cifar10`
preset (the reference recipe as code), and the same code path (tensorflow-datasets, the
PreActResNet with BatchNorm statistics, augmentation, ELLE's lambda by radius, APGD at the
end) runs end to end on `tfds.testing.mock_data` at toy size."""

import dataclasses
import pathlib

import jax
import numpy as np
import pytest

from experiments import common
from jaxlab.data.config import DataConfig
from jaxlab.data.dataset import Dataset, Split
from jaxlab.experiment.config import ConfigError
from jaxlab.models.config import ModelConfig
from jaxlab.papers import elle
from jaxlab.papers.elle import config as config_lib
from jaxlab.papers.elle import methods, runs

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_the_flagfile_is_the_reference_recipe():
  config = common.config_from_args(
      elle.STUDY, [f"--flagfile={REPO / 'experiments' / 'flags' / 'elle_cifar10.flags'}"])
  assert config == elle.cifar10()
  assert (config.model.name, config.model.depth, config.model.width) == ("preact_resnet", 18, 64)
  assert config.eps == (8 / 255, 16 / 255) and not config.clip_train and config.augment
  assert (config.optim.learning_rate, config.num_epochs, config.batch_size) == (0.2, 30, 128)
  assert (config.evaluation.steps, config.evaluation.restarts) == (50, 10)
  # ELLE's lambda follows the radius as the reference scripts set it; ELLE-A's is fixed
  assert [methods.build(config, "elle", e, 10).lam for e in config.eps] == [1000.0, 5000.0]
  assert [methods.build(config, "elle_a", e, 10).lam for e in config.eps] == [4000.0, 4000.0]
  with pytest.raises(ConfigError) as e:
    dataclasses.replace(config, eps=(8 / 255,))
  assert e.value.field == "regularizer.elle_lambdas"


def _images(rng, n):
  return Split(rng.uniform(size=(n, 8, 8, 3)).astype(np.float32),
               (np.arange(n) % 10).astype(np.int32))


def test_a_batchnorm_elle_step_keeps_the_statistics_in_the_training_state():
  # The cifar10 path's train step at toy size: PreActResNet with BatchNorm, augmentation,
  # ELLE with the lambda of its radius.
  rng = np.random.default_rng(0)
  ds = Dataset("toy", _images(rng, 32), _images(rng, 16), _images(rng, 16), num_classes=10)
  config = dataclasses.replace(
      elle.cifar10(), eps=(8 / 255,), batch_size=16, num_epochs=1,
      model=ModelConfig(name="preact_resnet", width=2, depth=10),
      regularizer=config_lib.RegularizerConfig(elle_lambdas=(1000.0,)))
  ctx = runs.Context(config, ds)
  method = methods.build(config, "elle", 8 / 255, ctx.steps_per_epoch)
  assert method.lam == 1000.0 and ctx.has_state
  state = ctx.init_state(jax.random.key(0), method)
  before = ctx.variables(state)
  assert set(before) == {"params", "batch_stats"}
  batch = {"x": ds.train.x[:16], "y": ds.train.y[:16]}
  for i in range(2):  # the cyclic learning rate is 0 at the first step
    state, metrics = ctx.train_step(method)(state, batch, jax.random.key(i))
  after = ctx.variables(state)
  assert int(state.step) == 2 and float(metrics["lin_err"]) >= 0.0
  # the running statistics moved by PyTorch's momentum (0.1) towards the batch's
  moved = after["batch_stats"]["stage0_block0"]["bn1"]["mean"]
  assert float(np.max(np.abs(moved))) > 0.0
  assert not np.allclose(before["params"]["linear"]["kernel"], after["params"]["linear"]["kernel"])


@pytest.mark.slow
def test_the_cifar10_path_runs_on_mock_data(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  (tmp_path / "data" / "cifar10").mkdir(parents=True)
  config = dataclasses.replace(
      elle.cifar10(), methods=("elle",), eps=(8 / 255,), seeds=(0,),
      dataset=DataConfig(name="tfds:cifar10", data_dir=str(tmp_path / "data")),
      model=ModelConfig(name="preact_resnet", width=2, depth=10), num_epochs=1, batch_size=16,
      regularizer=config_lib.RegularizerConfig(elle_lambdas=(1000.0,)),
      curves=config_lib.CurvesConfig(examples=8, pgd_steps=1, probe_examples=4),
      evaluation=config_lib.EvaluationConfig(steps=1, restarts=1, short_steps=1, apgd_iters=2,
                                             apgd_targets=3))
  with tfds.testing.mock_data(num_examples=120, policy=tfds.testing.MockPolicy.USE_CODE):
    results = elle.run(config, str(tmp_path / "w"))
  (run,) = results["runs"]
  assert run["method"] == "elle" and run["eps"] == 8 / 255
  assert 0.0 <= run["apgd_acc"] <= run["attacks"]["apgd_ce"] <= run["clean_acc"]
  assert run["collapsed"] == (run["clean_acc"] <= 0.15)
  cell = results["summary"]["elle"][f"{8 / 255:g}"]
  assert cell["apgd_acc_mean"] == run["apgd_acc"] and cell["n"] == 1
  assert results["data"]["name"] == "tfds:cifar10"
