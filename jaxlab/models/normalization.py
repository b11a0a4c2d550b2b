"""Per-dataset input normalisation as a model's first layer, so a model takes pixels in [0, 1]
and attack radii (eps = 8/255, ...) are in pixel space.

  layer = Normalize(*STATISTICS["cifar10"])        # (x - mean) / std per channel
  mean, std = statistics("cifar10")                 # the CIFAR-10 channel statistics
  mean, std = statistics("none")                    # identity: ((0.0,), (1.0,))

The statistics are the training-set channel means and standard deviations of [0, 1] pixels
used by the robustness literature's PyTorch code (e.g. the `CIFAR10_MEAN` / `CIFAR10_STD` of
the DeepMind / Rebuffi et al. re-implementations, arXiv 2103.01946). The ELLE reference
trains without normalisation (`statistics("none")`).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Statistics = tuple[tuple[float, ...], tuple[float, ...]]

STATISTICS: dict[str, Statistics] = {
    "none": ((0.0,), (1.0,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "svhn": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}
NAMES = tuple(STATISTICS)


def statistics(name: str) -> Statistics:
  """`(mean, std)` per channel of dataset `name` (one of `NAMES`)."""
  if name not in STATISTICS:
    raise ValueError(f"unknown normalization {name!r}; valid: {', '.join(NAMES)}")
  return STATISTICS[name]


class Normalize(nn.Module):
  """`(x - mean) / std` over the last (channel) axis of `x (N, ..., C)`; no parameters.

  Attributes:
    mean, std: per-channel values (length C, or 1 to broadcast over every channel).
  """

  mean: Sequence[float] = (0.0,)
  std: Sequence[float] = (1.0,)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if len(self.mean) not in (1, x.shape[-1]) or len(self.std) != len(self.mean):
      raise ValueError(f"normalization statistics of length {len(self.mean)} / "
                       f"{len(self.std)} do not fit {x.shape[-1]} channels")
    if all(m == 0 for m in self.mean) and all(s == 1 for s in self.std):
      return x  # the identity ("none")
    shape = (1,) * (x.ndim - 1) + (len(self.mean),)
    mean = jnp.reshape(jnp.asarray(self.mean, x.dtype), shape)
    std = jnp.reshape(jnp.asarray(self.std, x.dtype), shape)
    return (x - mean) / std
