"""The probes of a hostile new user that used to fail (issue 20), each refused before any work
with the flag's name: non-finite floats, negative seeds, the same rule for every experiment."""

import pytest

from experiments import common
from jaxlab.experiment.config import ConfigError


@pytest.mark.parametrize("experiment, flag, field", [
    ("train_classifier", "--learning_rate=inf", "optim.learning_rate"),
    ("train_classifier", "--learning_rate=nan", "optim.learning_rate"),
    ("train_classifier", "--seed=-3", "seed"),
    ("mehl_soup", "--seeds=0,-3", "seeds"),
    ("charmer", "--seed=-3", "seed"),
    ("elle", "--data_seed=-1", "data_seed"),
    ("elle", "--seeds=0,-1", "seeds"),
    ("elle", "--eps=inf", "eps"),
    ("meanfield_resnet", "--alpha=inf", "alpha"),
    ("krr_inverse", "--seed=-1", "seed"),
    ("krr_covariate_shift", "--seed=4294967296", "seed"),
    ("shallow_transformer", "--seed=-2", "seed"),
])
def test_non_finite_values_and_bad_seeds_name_the_flag(experiment, flag, field):
  study = common.study_for(experiment)
  with pytest.raises(ConfigError) as err:
    common.config_from_args(study, ["--config=smoke", flag])
  assert err.value.field == field
