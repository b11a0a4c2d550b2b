"""Coefficient-step memory of Learned-Soup+ and MEHL-Soup+ as the number of ingredients K
grows, from ahead-of-time compiled (never run) steps: abstract shapes suffice, so the memory at
K = 72 is known without allocating 72 ingredients.

  curves = memory_vs_k(config, model.apply, like, ds.val)
  curves["learned_plus"]["72"], curves["mehl_plus"]["72"]       # bytes
"""

from __future__ import annotations

from typing import Any, Callable

import jax

from jaxlab.data.dataset import Split
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.soups import combine, learned, mehl
from jaxlab.soups.base import batch_like
from jaxlab.training import optim


def memory_vs_k(config: Config, apply_fn: Callable[..., jax.Array], like: Any, val: Split,
                measured: dict[str, int] | None = None) -> dict[str, dict[str, int]]:
  """`{"learned_plus": {K: bytes}, "mehl_plus": {K: bytes}}` at every K of
  `config.memory_ks` (keys are strings, as in results.json).

  Learned-Soup+: its coefficient step with all K ingredients as arguments (grows with K).
  MEHL-Soup+: the largest step of a block of min(b, K) ingredients plus the resident mean
  for the global-mean centre (flat once K >= b). `measured` may hold this run's peak bytes
  (`{"learned_plus": ..., "mehl_plus": ...}` at K = `config.num_ingredients`) to skip
  recompiling them.
  """
  measured = measured or {}
  groups = combine.leaf_groups(like, per_layer=True)
  batch = batch_like(val, config.coef_batch_size)
  tx = optim.make_optimizer("adamw", config.learned_lr, weight_decay=0.0)
  learned_opt = learned.learned_soup_optimizer(apply_fn, groups, tx)
  mehl_opt = mehl.mehl_block_optimizer(apply_fn, groups, tx, config.clip_norm or None)
  resident = combine.tree_bytes(like) if mehl.CENTRES[config.centre].global_mean else 0
  run_b = min(config.block_size, config.num_ingredients)
  by_block = {run_b: measured["mehl_plus"]} if "mehl_plus" in measured else {}
  out: dict[str, dict[str, int]] = {"learned_plus": {}, "mehl_plus": {}}
  for k in sorted(set(config.memory_ks)):
    if k == config.num_ingredients and "learned_plus" in measured:
      out["learned_plus"][str(k)] = measured["learned_plus"]
    else:
      out["learned_plus"][str(k)] = learned.compile_update(learned_opt, like, k,
                                                           batch)[1].total_bytes
    b = min(config.block_size, k)
    if b not in by_block:
      by_block[b] = mehl.compile_steps(mehl_opt, like, b, groups, batch, config.normalize,
                                       memory_only=True).memory.total_bytes + resident
    out["mehl_plus"][str(k)] = by_block[b]
  return out
