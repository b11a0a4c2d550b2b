"""Real datasets (CIFAR-10, MNIST, SST-2, ...) through `tfds.data_source`, without TensorFlow.

The data must already be prepared in ArrayRecord format in a local directory; nothing is
downloaded. On a machine with internet:

  pip install "jaxlab[tfds]"
  tfds build cifar10 --data_dir ~/tensorflow_datasets --file_format array_record

then pass `data_dir=~/tensorflow_datasets` (`--data_dir` on the command line).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxlab.data.dataset import Dataset, Split, holdout

IMAGE_KEYS = ("image", "img")
TEXT_KEYS = ("sentence", "text", "content")


def prepare_hint(name: str, data_dir: str) -> str:
  return (f"prepare it on a machine with internet with `tfds build {name} --data_dir {data_dir} "
          "--file_format array_record` (pip install 'jaxlab[tfds]'), then copy the directory here")


def _import_tfds():
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("tfds:<name> datasets need tensorflow-datasets: "
                      "pip install 'jaxlab[tfds]'") from e
  return tfds


def _open_split(tfds, name: str, split: str, data_dir: str):
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"tfds has no dataset named {name!r} (see `tfds.list_builders()`)") from e
  except Exception as e:  # tfds raises several types for "not prepared here"
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
      raise FileNotFoundError(
          f"tfds dataset {name!r} is not prepared in data_dir={data_dir!r} (looked in "
          f"{builder.data_dir}); {prepare_hint(name, data_dir)}") from e
    if split not in builder.info.splits:
      raise ValueError(f"tfds dataset {name!r} has no split {split!r}; it has "
                       f"{sorted(builder.info.splits)}") from e
    raise RuntimeError(f"could not open {name}[{split}] in {data_dir}: {e}; it must be prepared "
                       f"in ArrayRecord format: {prepare_hint(name, data_dir)}") from e


def _read_all(source, max_examples: int | None) -> list[dict[str, Any]]:
  n = len(source) if max_examples is None else min(len(source), max_examples)
  return [source[i] for i in range(n)]


def _to_arrays(examples, name: str, input_key: str | None, label_key: str):
  if not examples:
    raise ValueError(f"tfds dataset {name!r}: the split is empty")
  keys = examples[0].keys()
  if input_key is None:
    found = [k for k in IMAGE_KEYS + TEXT_KEYS if k in keys]
    if not found:
      raise ValueError(f"tfds dataset {name!r}: cannot tell the input feature among "
                       f"{sorted(keys)}; pass input_key")
    input_key = found[0]
  for k in (input_key, label_key):
    if k not in keys:
      raise ValueError(f"tfds dataset {name!r} has no feature {k!r}; features: {sorted(keys)}")
  first = examples[0][input_key]
  if isinstance(first, (bytes, str)):
    x = np.array([e[input_key].decode("utf-8") if isinstance(e[input_key], bytes)
                  else e[input_key] for e in examples], dtype=object)
  else:
    x = np.stack([np.asarray(e[input_key]) for e in examples])
    if x.dtype == np.uint8:
      x = x.astype(np.float32) / 255.0
  y = np.array([int(e[label_key]) for e in examples], dtype=np.int32)
  return x, y


def load_tfds(name: str, *, data_dir: str | None, seed: int = 0, val_fraction: float = 0.1,
              train_split: str = "train", test_split: str = "test",
              input_key: str | None = None, label_key: str = "label",
              max_examples: int | None = None) -> Dataset:
  """A tensorflow-datasets dataset read with `tfds.data_source` from `data_dir`.

  The val split is a seeded, stratified `val_fraction` of `train_split`; `test_split` is the
  dataset's own test split ('validation' for GLUE tasks, whose test labels are hidden).
  Images come back as float32 in [0, 1] with shape `(N, H, W, C)`; texts as str arrays.

  Args:
    name: tfds name, e.g. 'cifar10', 'mnist', 'glue/sst2'.
    data_dir: directory holding the prepared dataset (required).
    max_examples: read at most this many examples per split (quick runs).
  """
  if not data_dir:
    raise ValueError(f"tfds:{name} needs data_dir (--data_dir): a directory where the dataset "
                     f"is prepared; {prepare_hint(name, '<DIR>')}")
  data_dir = os.path.expanduser(data_dir)
  if not os.path.isdir(data_dir):
    raise FileNotFoundError(f"data_dir={data_dir!r} does not exist; "
                            f"{prepare_hint(name, data_dir)}")
  if not os.listdir(data_dir):
    raise FileNotFoundError(f"data_dir={data_dir!r} is empty; {prepare_hint(name, data_dir)}")
  tfds = _import_tfds()
  x, y = _to_arrays(_read_all(_open_split(tfds, name, train_split, data_dir), max_examples),
                    name, input_key, label_key)
  x_test, y_test = _to_arrays(
      _read_all(_open_split(tfds, name, test_split, data_dir), max_examples), name, input_key,
      label_key)
  for split, labels in ((train_split, y), (test_split, y_test)):
    if labels.min() < 0:
      raise ValueError(f"tfds:{name} split {split!r} has unlabelled examples (label -1); "
                       "choose another split with train_split / test_split, e.g. "
                       "test_split='validation'")
  train, val = holdout(x, y, val_fraction, seed=seed)
  builder = tfds.builder(name, data_dir=data_dir)
  label_feature = builder.info.features[label_key]
  names = tuple(getattr(label_feature, "names", None) or ())
  num_classes = len(names) if names else int(max(y.max(), y_test.max()) + 1)
  return Dataset(f"tfds:{name}", train, val, Split(x_test, y_test), num_classes=num_classes,
                 class_names=names,
                 info=dict(source="tensorflow_datasets.data_source", data_dir=data_dir,
                           train_split=train_split, test_split=test_split))
