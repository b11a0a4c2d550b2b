"""The dataset container every loader returns, and the seeded stratified splitter."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sklearn import model_selection


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of a dataset.

  Attributes:
    x: inputs, batch axis first: images `(N, H, W, C)` float32 in [0, 1], texts `(N,)` str
      (object array), or features `(N, d)`.
    y: integer class labels `(N,)` (int32), or regression targets `(N,)` (float).
  """

  x: np.ndarray
  y: np.ndarray

  def __post_init__(self):
    if len(self.x) != len(self.y):
      raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")

  def __len__(self) -> int:
    return len(self.y)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Fixed train / val / test splits of one dataset.

  Attributes:
    name: the name `jaxlab.data.load` was called with.
    train, val, test: the splits; val is held out from the training data and is the only split
      used for model selection; test is for reporting.
    num_classes: number of classes, or None for regression.
    class_names: one name per class (empty for regression).
    info: provenance (source path, sizes, options) for config.json.
  """

  name: str
  train: Split
  val: Split
  test: Split
  num_classes: int | None
  class_names: tuple[str, ...] = ()
  info: dict[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def input_shape(self) -> tuple[int, ...]:
    """Shape of one input, without the batch axis."""
    return tuple(self.train.x.shape[1:])

  def summary(self) -> dict[str, Any]:
    return dict(name=self.name, num_classes=self.num_classes, input_shape=self.input_shape,
                sizes=dict(train=len(self.train), val=len(self.val), test=len(self.test)),
                **self.info)


def holdout(x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int,
            stratify: bool = True) -> tuple[Split, Split]:
  """Seeded split of `(x, y)` into `(rest, held_out)` with `fraction` held out, stratified by
  label when `stratify` and every class has at least two examples."""
  if not 0.0 < fraction < 1.0:
    raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
  idx = np.arange(len(y))
  if stratify and np.unique(y, return_counts=True)[1].min() < 2:
    stratify = False  # a class with one example cannot be stratified (tiny or mock data)
  rest, held = model_selection.train_test_split(
      idx, test_size=fraction, random_state=seed, shuffle=True,
      stratify=y if stratify else None)
  rest, held = np.sort(rest), np.sort(held)
  return Split(x[rest], y[rest]), Split(x[held], y[held])


def split_three_ways(x: np.ndarray, y: np.ndarray, *, val_fraction: float, test_fraction: float,
                     seed: int, stratify: bool = True) -> tuple[Split, Split, Split]:
  """Seeded, stratified train / val / test split; fractions are of the whole set."""
  if not (0.0 < val_fraction and 0.0 < test_fraction and val_fraction + test_fraction < 1.0):
    raise ValueError("val_fraction and test_fraction must be positive with sum < 1, got "
                     f"{val_fraction} and {test_fraction}")
  rest, test = holdout(x, y, test_fraction, seed=seed, stratify=stratify)
  train, val = holdout(rest.x, rest.y, val_fraction / (1.0 - test_fraction), seed=seed + 1,
                       stratify=stratify)
  return train, val, test
