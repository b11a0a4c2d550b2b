"""Config as code: every flagfile resolves to its paper package's preset (one source of truth),
and what a user types on the command line overrides it."""

import glob
import importlib
import os

import pytest

from experiments import common

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAGS_DIR = os.path.join(REPO, "experiments", "flags")
FLAGFILES = sorted(glob.glob(os.path.join(FLAGS_DIR, "*.flags")))


def study_of(flagfile: str):
  """The Study behind `experiments/flags/<name>[_variant].flags`."""
  stem = os.path.basename(flagfile)[:-len(".flags")]
  for name in sorted((os.path.basename(p)[:-3] for p in glob.glob(
      os.path.join(REPO, "experiments", "*.py"))), key=len, reverse=True):
    if stem == name or stem.startswith(name + "_"):
      for module in (f"jaxlab.papers.{name}", f"jaxlab.{name}"):
        try:
          return name, importlib.import_module(module).STUDY
        except ModuleNotFoundError:
          continue
  raise AssertionError(f"no study for {flagfile}")


@pytest.mark.parametrize("flagfile", FLAGFILES, ids=os.path.basename)
def test_flagfile_resolves_to_its_preset(flagfile):
  name, study = study_of(flagfile)
  config = common.config_from_args(study, [f"--flagfile={flagfile}"])
  stem = os.path.basename(flagfile)[:-len(".flags")]
  if stem == name:
    assert config == study.preset("default")
  elif stem == name + "_smoke":
    assert config == study.preset("smoke")
  else:  # a named variant selects a preset of the same name
    assert config == study.preset(stem[len(name) + 1:])


def test_every_study_has_both_flagfiles():
  names = {study_of(f)[0] for f in FLAGFILES}
  for name in names:
    assert os.path.exists(os.path.join(FLAGS_DIR, f"{name}.flags")), name
    assert os.path.exists(os.path.join(FLAGS_DIR, f"{name}_smoke.flags")), name


def test_command_line_flags_override_the_preset():
  from jaxlab import train_classifier  # pylint: disable=g-import-not-at-top
  smoke = os.path.join(FLAGS_DIR, "train_classifier_smoke.flags")
  config = common.config_from_args(train_classifier.STUDY, [
      f"--flagfile={smoke}", "--learning_rate=3e-3", "--model=cnn", "--dataset.image_size=16",
      "--num_epochs=2"])
  expected = train_classifier.smoke()
  assert config.optim.learning_rate == 3e-3 and config.model.name == "cnn"
  assert config.dataset.image_size == 16 and config.num_epochs == 2
  assert config.model.width == expected.model.width and config.seed == expected.seed
  with pytest.raises(common.ConfigError, match="optim.learning_rate: must be > 0"):
    common.config_from_args(train_classifier.STUDY, ["--config=smoke", "--learning_rate=-1"])
  with pytest.raises(common.ConfigError, match="seed: seeds are integers"):
    common.config_from_args(train_classifier.STUDY, ["--config=smoke", "--seed=-3"])
