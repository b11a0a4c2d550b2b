"""Val / test accuracy and loss of parameter pytrees, and the memory of that evaluation.

  evaluate = Evaluator(model.apply, ds, batch_size=512)
  evaluate(params, "val")            # {"loss": ..., "acc": ...}
  evaluate.memory(like).total_bytes  # the compiled val-batch step (greedy, best single)
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from jaxlab.data import Dataset
from jaxlab.soups import memory
from jaxlab.training import loop, steps


class Evaluator:
  """One compiled eval step (`steps.make_eval_step`) over the padded batches of
  `loop.evaluate`, the same evaluation as the supervised pipeline's."""

  def __init__(self, apply_fn: Callable[..., jax.Array], ds: Dataset, batch_size: int):
    self.step = steps.make_eval_step(apply_fn)
    self.ds = ds
    self.batch_size = batch_size

  def __call__(self, params: Any, split: str) -> dict[str, float]:
    """`{"loss", "acc"}` of `params` on the split named `split` ('val' or 'test')."""
    return loop.evaluate(self.step, params, getattr(self.ds, split), self.batch_size)

  def memory(self, like: Any) -> memory.StepMemory:
    """The `StepMemory` of the eval step on one val batch for parameters shaped like `like`."""
    n = min(self.batch_size, len(self.ds.val))
    x = jax.ShapeDtypeStruct((n,) + self.ds.val.x.shape[1:], self.ds.val.x.dtype)
    y = jax.ShapeDtypeStruct((n,), self.ds.val.y.dtype)
    mask = jax.ShapeDtypeStruct((n,), np.float32)
    return memory.compile_step(self.step, like, x, y, mask)[1]
