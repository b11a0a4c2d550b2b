"""Pre-activation ResNet (He et al., arXiv 1603.05027) with the CIFAR stem, as the adversarial-
robustness literature trains it (Flax linen, BatchNorm with explicit train / eval mode).

  model = PreActResNet(blocks=(2, 2, 2, 2), width=64, num_classes=10)   # PreActResNet-18
  variables = model.init(key, x)                     # x (N, 32, 32, 3) in [0, 1]
  logits = model.apply(variables, x)                 # (N, 10), eval mode (running statistics)
  logits, state = model.apply(variables, x, train=True, mutable=["batch_stats"])
  preact_resnet(18)                                  # the same from the depth
  preact_resnet(10, width=16)                        # a small variant for CPU runs

Definition: the `preact_resnet('preact-resnet18')` of the PyTorch code the ELLE reference
(LIONS-EPFL/ELLE, `core/models/preact_resnet.py`, taken from the robustness library of
Rebuffi et al. / imrahulr adversarial_robustness_pytorch) trains for `--model preact-resnet18`:

  [Normalize] -> Conv3x3(w) -> stages of PreActBlocks at w, 2w, 4w, 8w channels with strides
  1, 2, 2, 2 -> BN -> ReLU -> global average pool -> Dense(classes)
  PreActBlock(c, s): o = ReLU(BN(x)); shortcut = Conv1x1(c, stride s)(o) if the shape changes
  else x; return Conv3x3(c)(ReLU(BN(Conv3x3(c, stride s)(o)))) + shortcut

Convolutions have no bias; shortcuts are 1x1; the network ends with a BatchNorm (the common
CIFAR PreActResNet-18 without it has 11,171,146 parameters on 10 classes). With w = 64, blocks
(2, 2, 2, 2) and 10 classes this has **11,172,170** trainable parameters (asserted in
tests/models/test_resnets.py); blocks (3, 4, 6, 3) are PreActResNet-34 (21,280,330). The
reference pools with `avg_pool2d(4)` on the 4x4 map of a 32x32 input; the global average pool
is the same there and lets smaller inputs (8x8 digits) through. Initialisation is PyTorch's
default (`torch_init`). The optional `Normalize` first layer has no parameters.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models.normalization import Normalize, statistics
from jaxlab.models.torch_init import TORCH_KERNEL_INIT, batch_norm, torch_bias_init

BLOCKS_BY_DEPTH = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def conv(features: int, kernel: int, stride: int = 1, name: str | None = None) -> nn.Conv:
  """PyTorch's `Conv2d(kernel, stride, padding=(kernel - 1) // 2, bias=False)`."""
  pad = (kernel - 1) // 2
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((pad, pad), (pad, pad)), use_bias=False,
                 kernel_init=TORCH_KERNEL_INIT, name=name)


class PreActBlock(nn.Module):
  """The basic pre-activation block: `(N, H, W, C)` -> `(N, H / stride, W / stride,
  features)` (module docstring)."""

  features: int
  stride: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    out = nn.relu(batch_norm(train, "bn1")(x))
    if self.stride != 1 or x.shape[-1] != self.features:
      shortcut = conv(self.features, 1, self.stride, "shortcut")(out)
    else:
      shortcut = x
    out = conv(self.features, 3, self.stride, "conv1")(out)
    out = conv(self.features, 3, 1, "conv2")(nn.relu(batch_norm(train, "bn2")(out)))
    return out + shortcut


class PreActResNet(nn.Module):
  """PreActResNet with the CIFAR stem (module docstring).

  Attributes:
    blocks: PreActBlocks per stage; the stages have width * (1, 2, 4, 8, ...) channels, the
      first with stride 1, the others 2.
    width: channels of the stem and the first stage (64 in PreActResNet-18).
    num_classes: outputs.
    mean, std: the first layer's per-channel normalisation (`normalization.statistics`);
      the default is the identity (the ELLE reference's inputs are not normalised).
  """

  blocks: Sequence[int] = (2, 2, 2, 2)
  width: int = 64
  num_classes: int = 10
  mean: Sequence[float] = (0.0,)
  std: Sequence[float] = (1.0,)

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    """Logits `(N, num_classes)` of images `x (N, H, W, C)` in [0, 1]; BatchNorm uses the
    running statistics unless `train` (then call with `mutable=["batch_stats"]`)."""
    x = Normalize(self.mean, self.std)(x)
    x = conv(self.width, 3, 1, "stem")(x)
    for stage, n in enumerate(self.blocks):
      for i in range(n):
        stride = 2 if stage > 0 and i == 0 else 1
        x = PreActBlock(self.width * 2 ** stage, stride, name=f"stage{stage}_block{i}")(x, train)
    x = nn.relu(batch_norm(train, "bn")(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, kernel_init=TORCH_KERNEL_INIT,
                    bias_init=torch_bias_init(x.shape[-1]), name="linear")(x)


def blocks_for_depth(depth: int) -> tuple[int, ...]:
  """Blocks per stage of PreActResNet-`depth`: 18 -> (2, 2, 2, 2), 34 -> (3, 4, 6, 3), and
  any other depth = 2 + 8 b -> (b, b, b, b) (depth 10: one block per stage)."""
  if depth in BLOCKS_BY_DEPTH:
    return BLOCKS_BY_DEPTH[depth]
  if depth < 10 or (depth - 2) % 8:
    raise ValueError(f"PreActResNet depth must be 18, 34 or 2 + 8 b (b >= 1), got {depth}")
  return ((depth - 2) // 8,) * 4


def preact_resnet(depth: int = 18, *, width: int = 64, num_classes: int = 10,
                  normalization: str = "none") -> PreActResNet:
  """PreActResNet-`depth` (`blocks_for_depth`) with `width` base channels and the first-layer
  normalisation of dataset `normalization` (`normalization.statistics`)."""
  if width < 1:
    raise ValueError(f"width must be >= 1, got {width}")
  mean, std = statistics(normalization)
  return PreActResNet(blocks_for_depth(depth), width, num_classes, mean, std)
