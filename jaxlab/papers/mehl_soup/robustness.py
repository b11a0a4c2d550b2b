"""The robustness study of the MEHL-Soup README: remove the k best ingredients (ranked by val
accuracy) and rebuild the greedy soup and MEHL-Soup+ from the rest.

  drops = drop_top(inputs, (0, 2, 11, 21), key, log)     # {"2": {"greedy": {...}, ...}, ...}
  table = with_k0(drops, methods, (0, 2, 11, 21))          # k = 0 is the main result

Greedy starts from the best remaining ingredient, so removing the top ones hurts it directly;
MEHL-Soup+ weighs every remaining ingredient (the paper reports that it degrades less).
Also `Subset` (a view of some ingredients of a sequence) and `MemoryStore` (an
`IngredientStore` in memory, for the ablation, which keeps no ingredient checkpoints).
"""

from __future__ import annotations

import collections.abc
from typing import Any, Sequence

import jax
import numpy as np

from jaxlab.papers.mehl_soup.methods import BY_NAME, SoupInputs

REBUILT = ("greedy", "mehl_plus")


class Subset(collections.abc.Sequence):
  """The ingredients `ids` of `ingredients` (a lazy view: `subset[i]` is
  `ingredients[ids[i]]`)."""

  def __init__(self, ingredients: Sequence[Any], ids: Sequence[int]):
    self.ingredients, self.ids = ingredients, [int(i) for i in ids]

  def __len__(self) -> int:
    return len(self.ids)

  def __getitem__(self, i):
    if not isinstance(i, (int, np.integer)):
      raise TypeError(f"Subset indices are ints, got {type(i).__name__}")
    return self.ingredients[self.ids[int(i)]]


class MemoryStore(collections.abc.Sequence):
  """K ingredients held in memory with their metadata: the `IngredientStore` interface
  (`exists`, `save`, `metadata`, `path`, indexing) without checkpoints."""

  def __init__(self, size: int):
    self.size = int(size)
    self.params: dict[int, Any] = {}
    self.meta: dict[int, dict[str, Any]] = {}

  def path(self, k: int) -> str:
    return f"<memory>/ingredient_{k:03d}"

  def exists(self, k: int) -> bool:
    return k in self.params

  def save(self, k: int, params: Any, metadata: dict[str, Any]) -> None:
    if not 0 <= k < self.size:
      raise IndexError(f"ingredient {k} out of range [0, {self.size})")
    self.params[k], self.meta[k] = jax.device_get(params), dict(metadata)

  def metadata(self, k: int) -> dict[str, Any]:
    return self.meta[k]

  def __len__(self) -> int:
    return self.size

  def __getitem__(self, k):
    return self.params[int(k)]


def kept_after_dropping(scores: Sequence[float], k: int) -> list[int]:
  """Ids left after removing the `k` best val scores (ties: the lower id counts as better,
  as in the greedy soup's stable sort), in increasing order."""
  order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
  return sorted(int(i) for i in order[k:])


def drop_top(inputs: SoupInputs, ks: Sequence[int], key: jax.Array, log
             ) -> dict[str, dict[str, dict[str, float]]]:
  """For every k > 0 of `ks`: greedy and MEHL-Soup+ rebuilt (on val) from the ingredients
  left after removing the k best, evaluated once on val and test. MEHL-Soup+ of k uses the
  key `fold_in(key, k)`. Returns `{str(k): {method: {"val_acc", "test_acc"}}}`."""
  out = {}
  for k in ks:
    if k == 0:
      continue
    ids = kept_after_dropping(inputs.scores, k)
    sub = inputs._replace(store=Subset(inputs.store, ids),
                          scores=[inputs.scores[i] for i in ids])
    out[str(k)] = {}
    for name in REBUILT:
      method = BY_NAME[name]
      soup = method.build(method, sub, jax.random.fold_in(key, k), lambda *_: None)
      out[str(k)][name] = {split + "_acc": inputs.evaluate(soup.params, split)["acc"]
                           for split in ("val", "test")}
    log({"phase": "robustness", "dropped": k, **{f"{m}_test_acc": v["test_acc"]
                                                   for m, v in out[str(k)].items()}})
  return out


def with_k0(drops: dict[str, Any], methods: dict[str, dict[str, Any]], ks: Sequence[int]
            ) -> dict[str, dict[str, dict[str, float]]]:
  """`drops` with k = 0 (when in `ks`) taken from the main results `methods`."""
  out = {}
  for k in sorted(ks):
    if k == 0:
      out["0"] = {m: {"val_acc": methods[m]["val_acc"], "test_acc": methods[m]["test_acc"]}
                  for m in REBUILT}
    else:
      out[str(k)] = drops[str(k)]
  return out
