"""The soups of the study as typed records: a `Method` is a name, a builder, whether it is a
"+" variant (one coefficient per ingredient and layer), and how it is plotted.

  for method in selected(config.methods):            # in the catalogue's order
    soup = method.build(method, inputs, keys[method.name], log)
    soup.params, soup.cost.peak_bytes, soup.extras, soup.coefficients

Every builder sees only val data (`SoupInputs`); test is touched once, by the study, after
the soup is built. Builders: the best individual (val-picked) and the uniform and greedy soups
(Wortsman et al., arXiv 2203.05482), Learned-Soup(+) (`jaxlab.soups.learned`) and MEHL-Soup(+)
(`jaxlab.soups.mehl`, Li et al., arXiv 2407.03641), and MEHL-Soup+ with raw directions
(`mehl_plus_raw`: theta_k - theta_bar un-normalised, the paper's formulation; the remedy for the
reference code's large per-layer effective weights, see the README).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np

from jaxlab.data.dataset import Split
from jaxlab.papers.mehl_soup.evaluation import Evaluator
from jaxlab.soups import combine, greedy, learned, mehl, uniform
from jaxlab.soups.base import SoupCost

LogFn = Callable[[int, dict[str, Any]], None]

GREY, RED, BLUE, ORANGE = "#888888", "#d62728", "#1f77b4", "#ff7f0e"


class SoupInputs(NamedTuple):
  """What a builder may use.

  Attributes:
    config: the study's `Config`.
    store: the K ingredients (`IngredientStore`, loaded on access).
    scores: val accuracy of every ingredient.
    val: the val split.
    apply_fn: `apply_fn(params, x) -> logits`.
    evaluate: the `Evaluator` (val only inside a builder).
    like: abstract parameters of one ingredient.
  """

  config: Any
  store: Sequence[Any]
  scores: list[float]
  val: Split
  apply_fn: Callable[..., jax.Array]
  evaluate: Evaluator
  like: Any


class Soup(NamedTuple):
  """What a builder returns: params (the soup), cost (`SoupCost`), extras (scalars for
  results.json), coefficients (learned coefficients to save, or None)."""

  params: Any
  cost: SoupCost
  extras: dict[str, Any]
  coefficients: dict[str, Any] | None


class Method(NamedTuple):
  """One soup of the study.

  Attributes:
    name: its name in `--methods` and results.json.
    label: its label in the figures.
    build: `build(method, inputs, key, log) -> Soup`; `log(number, metrics)` records one
      epoch or block in metrics.jsonl.
    per_layer: the "+" variant: one coefficient per (ingredient, layer) instead of per
      ingredient.
    color: bar / line colour in the figures.
    normalize: MEHL only: unit-norm directions per group (True), raw differences (False, the
      paper's formulation), or None for the config's `normalize`.
  """

  name: str
  label: str
  build: Callable[["Method", SoupInputs, jax.Array, LogFn], Soup]
  per_layer: bool = False
  color: str = GREY
  normalize: bool | None = None


def _best_individual(method: Method, inputs: SoupInputs, key: jax.Array, log: LogFn) -> Soup:
  """The ingredient with the best val accuracy (loaded once)."""
  del method, key, log
  t0 = time.perf_counter()
  best = greedy.best_individual(inputs.scores)
  params = inputs.store[best]
  cost = SoupCost(wall_s=time.perf_counter() - t0, ingredient_loads=1)
  cost = dataclasses.replace(cost, step_memory=inputs.evaluate.memory(inputs.like))
  return Soup(params, cost, {"index": best}, None)


def _uniform(method: Method, inputs: SoupInputs, key: jax.Array, log: LogFn) -> Soup:
  del method, key, log
  soup = uniform.uniform_soup(inputs.store)
  return Soup(soup.params, soup.cost, {}, None)


def _greedy(method: Method, inputs: SoupInputs, key: jax.Array, log: LogFn) -> Soup:
  """The greedy soup; its memory is a val evaluation plus the soup held meanwhile."""
  del method, key, log
  soup = greedy.greedy_soup(inputs.store, lambda p: inputs.evaluate(p, "val")["acc"],
                            inputs.scores)
  cost = dataclasses.replace(soup.cost, step_memory=inputs.evaluate.memory(inputs.like),
                             resident_bytes=combine.tree_bytes(inputs.like))
  return Soup(soup.params, cost, {"selected": list(soup.selected)}, None)


def _learned(method: Method, inputs: SoupInputs, key: jax.Array, log: LogFn) -> Soup:
  c = inputs.config
  soup = learned.learned_soup(inputs.store, inputs.apply_fn, inputs.val,
                              per_layer=method.per_layer, key=key, learning_rate=c.learned_lr,
                              epochs=c.learned_epochs, batch_size=c.coef_batch_size, log_fn=log)
  coefficients = {"weights": soup.weights, "logit_scale": np.float32(soup.logit_scale)}
  return Soup(soup.params, soup.cost, weight_stats(soup.weights), coefficients)


def _mehl(method: Method, inputs: SoupInputs, key: jax.Array, log: LogFn) -> Soup:
  c = inputs.config
  normalize = c.normalize if method.normalize is None else method.normalize
  soup = mehl.mehl_soup(inputs.store, inputs.apply_fn, inputs.val, block_size=c.block_size,
                        key=key, per_layer=method.per_layer, epochs=c.coef_epochs,
                        outer_epochs=c.outer_epochs, learning_rate=c.coef_lr,
                        batch_size=c.coef_batch_size, centre=c.centre, normalize=normalize,
                        clip_norm=c.clip_norm or None, log_fn=log)
  extras = {**weight_stats(soup.weights), "normalize": normalize,
            **per_group_weights(soup.weights, soup.direction_norms)}
  return Soup(soup.params, soup.cost, extras, {"weights": soup.weights,
                                               "direction_norms": soup.direction_norms})


def weight_stats(weights: np.ndarray) -> dict[str, float]:
  """Summary of `(K, G)` effective weights: negative fraction, range, the largest magnitude,
  and the largest deviation of a column sum from 1."""
  w = np.asarray(weights, np.float64)
  return {"weights_negative_fraction": float(np.mean(w < 0)), "weights_min": float(w.min()),
          "weights_max": float(w.max()), "weights_abs_max": float(np.abs(w).max()),
          "weights_column_sum_max_error": float(np.max(np.abs(w.sum(0) - 1.0)))}


def per_group_weights(weights: np.ndarray, norms: np.ndarray) -> dict[str, list[float]]:
  """Per coefficient group g (a layer for the "+" soups): the largest |effective weight|
  over the K ingredients, and the median over them of `||theta_k - o||_g`, the norm of the
  difference a unit direction divides by (`mehl.MehlSoup.direction_norms`)."""
  return {"group_weights_abs_max": np.abs(weights).max(axis=0).tolist(),
          "group_direction_norm_median": np.median(norms, axis=0).tolist()}


METHODS = (
    Method("best_individual", "best individual", _best_individual),
    Method("uniform", "Uniform Soup", _uniform),
    Method("greedy", "Greedy Soup", _greedy),
    Method("mehl", "MEHL-Soup", _mehl, per_layer=False, color=RED),
    Method("mehl_plus", "MEHL-Soup+", _mehl, per_layer=True, color=RED),
    Method("learned", "Learned-Soup", _learned, per_layer=False, color=BLUE),
    Method("learned_plus", "Learned-Soup+", _learned, per_layer=True, color=BLUE),
    Method("mehl_plus_raw", "MEHL-Soup+ raw dir.", _mehl, per_layer=True, color=ORANGE,
           normalize=False),
)
METHOD_NAMES = tuple(m.name for m in METHODS)
BY_NAME = {m.name: m for m in METHODS}


def selected(names: Sequence[str]) -> tuple[Method, ...]:
  """The methods named in `names`, in the catalogue's order (the order they run in)."""
  return tuple(m for m in METHODS if m.name in names)


def method_keys(key: jax.Array) -> dict[str, jax.Array]:
  """One key per method of the catalogue, `fold_in(key, position in METHODS)`: a method's key
  does not depend on which methods a run selects. (The pre-restructure study folded in the
  position among the selected methods, which is the same when all are selected, as in every
  preset; kept so that the recorded numbers did not change.)"""
  return {m.name: jax.random.fold_in(key, i) for i, m in enumerate(METHODS)}
