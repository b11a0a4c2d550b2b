"""The data part of an experiment's config, shared by every study that loads a dataset.

  dataset = DataConfig(name="digits", image_size=16)
  ds = load(dataset, seed=0)                # a `Dataset`; missing data -> ConfigError

In a study's config it is the field `dataset`, so `--dataset=tfds:cifar10` (the short form of
`--dataset.name`) and `--data_dir=...` select it on the command line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxlab.data import TFDS_PREFIX, Dataset, check_name
from jaxlab.data import load as load_dataset
from jaxlab.experiment.config import ConfigError, require


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which dataset, and how it is read.

  Attributes:
    name: dataset name: digits, gaussian_mixture, teacher_student, tweets or tfds:<name>.
    data_dir: directory of prepared tensorflow-datasets data (tfds:<name> only).
    image_size: resize digits to this side (0 keeps 8x8).
    input_noise: digits only: fixed Gaussian pixel noise on every image (a harder task).
    max_examples: read at most this many examples per tfds split (0 = all).
  """

  name: str = "digits"
  data_dir: str = ""
  image_size: int = 0
  input_noise: float = 0.0
  max_examples: int = 0

  def __post_init__(self):
    try:
      check_name(self.name)
    except ValueError as e:
      raise ConfigError("name", str(e)) from None
    is_tfds = self.name.startswith(TFDS_PREFIX)
    require(not self.data_dir or is_tfds, "data_dir", "only used with tfds:<name> datasets")
    require(bool(self.data_dir) or not is_tfds, "data_dir",
            f"{self.name} needs a directory where the dataset is prepared (see README, "
            "'Real datasets')")
    require(self.image_size == 0 or (self.name == "digits" and self.image_size >= 2),
            "image_size", "only digits can be resized, to a side >= 2 (0 keeps 8)")
    require(self.input_noise == 0 or (self.name == "digits" and self.input_noise > 0),
            "input_noise", f"only digits take input noise, a value > 0; got {self.input_noise}")
    require(self.max_examples >= 0, "max_examples", f"must be >= 0, got {self.max_examples}")

  @property
  def is_tfds(self) -> bool:
    return self.name.startswith(TFDS_PREFIX)

  def options(self) -> dict[str, Any]:
    """The loader options this config sets."""
    options: dict[str, Any] = {}
    if self.image_size:
      options["image_size"] = self.image_size
    if self.input_noise:
      options["noise_std"] = self.input_noise
    if self.max_examples:
      options["max_examples"] = self.max_examples
    return options


def load(config: DataConfig, *, seed: int, field: str = "dataset", **options: Any) -> Dataset:
  """Loads `config`'s dataset with splits seeded by `seed`; a missing or unreadable dataset
  raises `ConfigError` on `<field>.data_dir` or `<field>.name` (the flag to fix)."""
  try:
    return load_dataset(config.name, seed=seed, data_dir=config.data_dir or None,
                        **config.options(), **options)
  except FileNotFoundError as e:
    raise ConfigError(f"{field}.data_dir", str(e)) from e
  except (ValueError, TypeError) as e:
    raise ConfigError(f"{field}.name", str(e)) from e


def require_classification(ds: Dataset, config: DataConfig, field: str = "dataset") -> None:
  """Raises `ConfigError` unless `ds` is an image or feature classification dataset."""
  require(ds.num_classes is not None and ds.train.x.dtype != object, f"{field}.name",
          f"{config.name!r} is not an image or feature classification dataset; valid here: "
          "digits, gaussian_mixture, tfds:<name>")
