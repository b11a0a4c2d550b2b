"""Uniform soup (Wortsman et al., 2022, arXiv 2203.05482): the mean of all K ingredients.

  soup = uniform_soup([p1, p2, p3])        # pytree like p1: (p1 + p2 + p3) / 3
  soup.params, soup.cost.peak_bytes

Accumulated as a running mean, so only the mean and one ingredient are resident (the
ingredients may be loaded lazily, e.g. from an `IngredientStore`).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from jaxlab.soups import combine, memory
from jaxlab.soups.base import SoupCost

_accumulate = jax.jit(combine.running_mean, donate_argnums=0)


class UniformSoup(NamedTuple):
  params: Any
  cost: SoupCost


def uniform_soup(ingredients: Sequence[Any]) -> UniformSoup:
  """theta_U = (1/K) sum_k theta_k as a running mean (two models resident).

  Args:
    ingredients: K >= 1 parameter pytrees of one model (a sequence; read in order, once).
  """
  k = len(ingredients)
  if k == 0:
    raise ValueError("uniform_soup needs at least one ingredient")
  first = ingredients[0]
  like = memory.abstract(first)
  count_like = jax.ShapeDtypeStruct((), jnp.float32)
  step, mem, compile_s = memory.compile_step(_accumulate, like, like, count_like)
  t0 = time.perf_counter()
  soup = jax.tree_util.tree_map(jnp.array, first)  # a copy: the input is never donated
  del first
  for i in range(1, k):
    soup = step(soup, ingredients[i], jnp.float32(i))
  soup = jax.block_until_ready(soup)
  cost = SoupCost(step_memory=mem, compile_s=compile_s, wall_s=time.perf_counter() - t0,
                  ingredient_loads=k)
  return UniformSoup(soup, cost)
