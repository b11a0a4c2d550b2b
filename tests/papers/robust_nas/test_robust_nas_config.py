"""Robust-NAS configs: the presets, refusals naming the field, and a missing benchmark file
refused before anything is written."""

import dataclasses
import os

import pytest

from experiments import common
from jaxlab.experiment.config import ConfigError, override
from jaxlab.papers import robust_nas

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_presets():
  default, smoke, cifar = robust_nas.default(), robust_nas.smoke(), robust_nas.cifar10()
  assert 30 <= default.num_cells <= 60 and (default.channels, default.cells_per_stage) == (4, 1)
  assert default.optim.schedule == "onecycle" and default.optim.learning_rate == 0.1
  assert (cifar.channels, cifar.cells_per_stage, cifar.num_epochs) == (16, 5, 50)
  assert (cifar.eps, cifar.attack_step_size, cifar.attack_steps) == (8.0, 2.0, 7)
  assert cifar.eval_eps == (3.0, 8.0) and cifar.num_cells == 6466 and cifar.augment
  assert smoke.num_cells < default.num_cells
  flags = os.path.join(REPO, "experiments", "flags")
  for name, preset in (("robust_nas", default), ("robust_nas_smoke", smoke),
                       ("robust_nas_cifar10", cifar)):
    path = os.path.join(flags, f"{name}.flags")
    assert common.config_from_args(robust_nas.STUDY, [f"--flagfile={path}"]) == preset


@pytest.mark.parametrize("changes,field", [
    ({"num_cells": "0"}, "num_cells"),
    ({"num_cells": "6467"}, "num_cells"),
    ({"eval_eps": "8,8"}, "eval_eps"),
    ({"eps": "0"}, "eps"),
    ({"ntk_dtype": "float16"}, "ntk_dtype"),
    ({"ntk_betas": "0.5,1.5"}, "ntk_betas"),
    ({"p3b_cells": "41"}, "p3b_cells"),
    ({"search.budget": "41"}, "search.budget"),
    ({"search.sample_size": "9"}, "search.sample_size"),
    ({"benchmark_dataset": "svhn"}, "benchmark_dataset"),
    ({"optim.schedule": "fancy"}, "optim.schedule"),
])
def test_bad_values_name_the_field(changes, field):
  with pytest.raises(ConfigError) as e:
    override(robust_nas.default(), changes)
  assert e.value.field == field


def test_missing_benchmark_file_is_refused_before_any_write(tmp_path):
  config = dataclasses.replace(robust_nas.default(),
                               benchmark_file=str(tmp_path / "absent.json"))
  workdir = tmp_path / "run"
  with pytest.raises(ConfigError, match="benchmark_file: .*absent.json.*TT2408/nasrobbench201"):
    robust_nas.run(config, str(workdir))
  assert not workdir.exists()
