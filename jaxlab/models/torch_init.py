"""PyTorch's default initialisers and BatchNorm constants in Flax, for models that reproduce a
PyTorch reference definition (`PreActResNet`, `WideResNet`).

  conv = nn.Conv(64, (3, 3), use_bias=False, kernel_init=TORCH_KERNEL_INIT)
  dense = nn.Dense(10, kernel_init=TORCH_KERNEL_INIT, bias_init=torch_bias_init(512))
  bn = batch_norm(train=True, name="bn1")     # momentum 0.1 in PyTorch's sense, eps 1e-5

`nn.Conv2d` / `nn.Linear` draw weights with `kaiming_uniform_(a=sqrt(5))`, i.e.
U(-b, b) with b = 1 / sqrt(fan_in) (variance 1 / (3 fan_in)), and biases from the same
interval. `nn.BatchNorm2d` starts at scale 1, shift 0 and updates its running averages as
`r <- (1 - 0.1) r + 0.1 batch_stat` (Flax: `momentum = 0.9`), with the unbiased batch variance
in the running average (Flax uses the biased one; the difference is a factor n / (n - 1) on
batches of n activations per channel, 1 + 1/8192 for a 128 x 8 x 8 batch).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BN_MOMENTUM = 0.9     # Flax's decay of the running average = 1 - PyTorch's momentum 0.1
BN_EPSILON = 1e-5

TORCH_KERNEL_INIT = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
  """PyTorch's default bias init of a layer with `fan_in` inputs: U(-1/sqrt(fan_in), ...)."""
  bound = 1.0 / np.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
  """PyTorch's `BatchNorm2d` defaults: batch statistics in train mode (call the model with
  `mutable=["batch_stats"]`), running averages otherwise."""
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                      name=name)
