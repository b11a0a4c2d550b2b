"""Wide ResNet (Zagoruyko & Komodakis, arXiv 1605.07146) as the adversarial-robustness
literature trains it: WRN-28-10 and WRN-34-10 (Flax linen, BatchNorm train / eval mode).

  model = wide_resnet(34, widen=10)                  # WRN-34-10, 46,160,474 parameters
  model = wide_resnet(28, widen=10)                  # WRN-28-10, 36,479,194 parameters
  model = wide_resnet(10, widen=1)                   # a small variant for CPU runs
  variables = model.init(key, x)                     # x (N, 32, 32, 3) in [0, 1]
  logits = model.apply(variables, x)                 # (N, 10), eval mode
  logits, state = model.apply(variables, x, train=True, mutable=["batch_stats"])

Definition: the `WideResNet` of the TRADES / Carmon et al. (semisup-adv) code that the
robustness library of the ELLE reference ships as `wrn-28-10` / `wrn-34-10`
(`core/models/wideresnet.py`):

  [Normalize] -> Conv3x3(16) -> 3 stages of n = (depth - 4) / 6 BasicBlocks at 16k, 32k, 64k
  channels (strides 1, 2, 2) -> BN -> ReLU -> global average pool -> Dense(classes)
  BasicBlock(c, s), input x with C channels:
    C == c: o = ReLU(BN(x)); return x + Conv3x3(c)(ReLU(BN(Conv3x3(c, s)(o))))
    C != c: x = ReLU(BN(x)); return Conv1x1(c, s)(x) + Conv3x3(c)(ReLU(BN(Conv3x3(c, s)(x))))

Convolutions have no bias (no dropout: the reference's drop rate is 0). Parameter counts on 10
classes (asserted in tests/models/test_resnets.py): WRN-28-10 **36,479,194**, WRN-34-10
**46,160,474**. Initialisation as the reference: conv weights N(0, 2 / (k^2 c_out)), BN scale 1
and shift 0, the classifier's bias 0 and its weights PyTorch's default.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.normalization import Normalize, statistics
from jaxlab.models.torch_init import TORCH_KERNEL_INIT, batch_norm

# normal(0, sqrt(2 / n)) with n = kernel_h * kernel_w * out_channels (the reference's init).
WRN_CONV_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(features: int, kernel: int, stride: int, name: str) -> nn.Conv:
  pad = (kernel - 1) // 2
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((pad, pad), (pad, pad)), use_bias=False, kernel_init=WRN_CONV_INIT,
                 name=name)


class WideBasicBlock(nn.Module):
  """The reference's BasicBlock (module docstring): `(N, H, W, C)` -> `(N, H / stride,
  W / stride, features)`."""

  features: int
  stride: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    equal = x.shape[-1] == self.features
    if equal and self.stride != 1:
      raise ValueError("a block with as many input as output channels must have stride 1")
    activated = nn.relu(batch_norm(train, "bn1")(x))
    out = _conv(self.features, 3, self.stride, "conv1")(activated)
    out = _conv(self.features, 3, 1, "conv2")(nn.relu(batch_norm(train, "bn2")(out)))
    shortcut = x if equal else _conv(self.features, 1, self.stride, "shortcut")(activated)
    return shortcut + out


class WideResNet(nn.Module):
  """Wide ResNet (module docstring).

  Attributes:
    depth: 6 n + 4 (28, 34, ...); n blocks per stage.
    widen: widening factor k (stage channels 16k, 32k, 64k).
    num_classes: outputs.
    mean, std: the first layer's per-channel normalisation (identity by default).
  """

  depth: int = 34
  widen: int = 10
  num_classes: int = 10
  mean: Sequence[float] = (0.0,)
  std: Sequence[float] = (1.0,)

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    """Logits `(N, num_classes)` of images `x (N, H, W, C)` in [0, 1]; BatchNorm uses the
    running statistics unless `train` (then call with `mutable=["batch_stats"]`)."""
    n = (self.depth - 4) // 6
    x = Normalize(self.mean, self.std)(x)
    x = _conv(16, 3, 1, "stem")(x)
    for stage, channels in enumerate((16 * self.widen, 32 * self.widen, 64 * self.widen)):
      for i in range(n):
        stride = 2 if stage > 0 and i == 0 else 1
        x = WideBasicBlock(channels, stride, name=f"stage{stage}_block{i}")(x, train)
    x = nn.relu(batch_norm(train, "bn")(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, kernel_init=TORCH_KERNEL_INIT,
                    bias_init=nn.initializers.zeros, name="fc")(x)


def wide_resnet(depth: int = 34, *, widen: int = 10, num_classes: int = 10,
                normalization: str = "none") -> WideResNet:
  """WRN-`depth`-`widen` with the first-layer normalisation of dataset `normalization`."""
  if depth < 10 or (depth - 4) % 6:
    raise ValueError(f"WideResNet depth must be 6 n + 4 with n >= 1, got {depth}")
  if widen < 1:
    raise ValueError(f"widen must be >= 1, got {widen}")
  mean, std = statistics(normalization)
  return WideResNet(depth, widen, num_classes, mean, std)
