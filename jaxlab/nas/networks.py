"""NAS-Bench-201 networks in Flax linen: the cell, its five operations and `TinyNetwork`.

  from jaxlab.nas import networks, search_space
  cell = search_space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|...|")
  model = networks.TinyNetwork(cell, channels=16, cells_per_stage=5, num_classes=10,
                               normalization=networks.NORMALIZATION["cifar10"])
  variables = model.init(key, x)                       # {"params", "batch_stats"}
  logits = model.apply(variables, x)                   # (N, 10), eval mode (running stats)
  logits, updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
  networks.num_params(cell, 16, 5)                     # 1531546 for the all-3x3 cell

Inputs are images `(N, H, W, C)` in [0, 1]; the per-dataset normalisation is the model's
first layer, so attack radii are in pixel space. Macro skeleton (NAS-Bench-201, Dong & Yang,
arXiv 2001.00326; NAS-RobBench-201, Wu et al., arXiv 2403.13134):

  stem: Conv3x3(C) -> BN
  N cells at C; residual block to 2C (stride 2); N cells at 2C; block to 4C; N cells at 4C
  head: BN -> ReLU -> global average pool -> Dense(classes)

A cell is `search_space.EDGES` over four nodes; node i sums op(node j) over j < i. Operations:
`none` (zeros), `skip_connect` (identity), `nor_conv_1x1` / `nor_conv_3x3` (ReLU -> Conv, no
bias, stride 1, same padding -> BN with affine and running statistics), `avg_pool_3x3`
(stride 1, padding 1, the padding not counted). Initialisation follows PyTorch's defaults, as
the reference code: weights and biases uniform with variance 1 / (3 fan_in); BN scale 1,
shift 0. BatchNorm's running statistics use momentum 0.1 in PyTorch's sense.

`TinyNetwork(cell=None)` is the same network with the cell read from the variable collection
"arch" (a `(6, 5)` op one-hot, `with_cell`): every edge holds all five operations and adds
them weighted by the one-hot. With a one-hot, its output, gradients and statistics equal the
discrete cell's (unused operations are multiplied by zero), and one compiled program serves
every cell of a shape.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.models.normalization import Normalize
from jaxlab.models.torch_init import TORCH_KERNEL_INIT, batch_norm, torch_bias_init
from jaxlab.nas import search_space
from jaxlab.nas.search_space import EDGES, NUM_NODES, OPS, Cell

# Per-dataset channel means and standard deviations of [0, 1] pixels (the reference code's).
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": (tuple(v / 255 for v in (125.3, 123.0, 113.9)),
                tuple(v / 255 for v in (63.0, 62.1, 66.7))),
    "cifar100": (tuple(v / 255 for v in (129.3, 124.1, 112.4)),
                 tuple(v / 255 for v in (68.2, 65.4, 70.4))),
    "imagenet16": (tuple(v / 255 for v in (122.68, 116.66, 104.01)),
                   tuple(v / 255 for v in (63.22, 61.26, 65.09))),
}
IDENTITY_NORMALIZATION = ((0.0,), (1.0,))
def _conv(features: int, kernel: int, stride: int = 1, name: str | None = None) -> nn.Conv:
  pad = (kernel - 1) // 2
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((pad, pad), (pad, pad)), use_bias=False, kernel_init=TORCH_KERNEL_INIT,
                 name=name)


class ReLUConvBN(nn.Module):
  """ReLU -> Conv(kernel x kernel, stride, same padding, no bias) -> BN: `(N, H, W, C)` ->
  `(N, H / stride, W / stride, features)`."""

  features: int
  kernel: int
  stride: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = _conv(self.features, self.kernel, self.stride)(nn.relu(x))
    return batch_norm(train)(x)


def _sum_pool(x: jax.Array, window: int, stride: int, pad: int) -> jax.Array:
  """Window sums over H and W of `x (N, H, W, C)` (zero padding `pad`)."""
  return jax.lax.reduce_window(x, np.zeros((), x.dtype), jax.lax.add, (1, window, window, 1),
                               (1, stride, stride, 1), ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def avg_pool_3x3(x: jax.Array) -> jax.Array:
  """3x3 average pooling, stride 1, padding 1, averaging over the unpadded pixels only
  (PyTorch's `count_include_pad=False`); safe under strict dtype promotion."""
  counts = _sum_pool(jnp.ones((1, *x.shape[1:3], 1), x.dtype), 3, 1, 1)
  return _sum_pool(x, 3, 1, 1) / counts


def avg_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 average pooling with stride 2 (the reduction block's shortcut)."""
  return _sum_pool(x, 2, 2, 0) * jnp.asarray(0.25, x.dtype)


class ResidualBlock(nn.Module):
  """The reduction block: ReLUConvBN(3x3, stride 2) -> ReLUConvBN(3x3) plus the shortcut
  AvgPool(2x2, stride 2) -> Conv1x1 (no bias, no BN); halves H and W."""

  features: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    y = ReLUConvBN(self.features, 3, 2, name="conv_a")(x, train)
    y = ReLUConvBN(self.features, 3, 1, name="conv_b")(y, train)
    shortcut = avg_pool_2x2(x)
    return y + _conv(self.features, 1, name="downsample")(shortcut)


def _edge_name(source: int, target: int, op: str) -> str:
  return f"edge{source}{target}_{op}"


class NB201Cell(nn.Module):
  """One cell: node i = sum_{j < i} op_{j->i}(node j), output node 3; `(N, H, W, C)` ->
  same shape. `cell` gives the ops; with `cell=None`, `weights (6, 5)` (a one-hot over
  `OPS` per edge) weighs all five operations of each edge."""

  cell: Cell | None
  features: int

  def _op(self, op: str, x: jax.Array, source: int, target: int, train: bool) -> jax.Array:
    if op == "skip_connect":
      return x
    if op == "avg_pool_3x3":
      return avg_pool_3x3(x)
    kernel = 1 if op == "nor_conv_1x1" else 3
    return ReLUConvBN(self.features, kernel, name=_edge_name(source, target, op))(x, train)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool, weights: jax.Array | None = None
               ) -> jax.Array:
    nodes = [x]
    for target in range(1, NUM_NODES):
      total = jnp.zeros_like(x)
      for source in range(target):
        e = EDGES.index((source, target))
        if self.cell is not None:
          if self.cell.ops[e] != "none":
            total = total + self._op(self.cell.ops[e], nodes[source], source, target, train)
          continue
        for k, op in enumerate(OPS):
          if op != "none":
            total = total + weights[e, k].astype(x.dtype) * self._op(op, nodes[source], source,
                                                                    target, train)
      nodes.append(total)
    return nodes[-1]


class TinyNetwork(nn.Module):
  """NAS-Bench-201's macro skeleton around one cell (see the module docstring).

  Attributes:
    cell: the cell; None reads its one-hot from the variable collection "arch" (`with_cell`).
    channels: C, the width of the first stage (16 in the benchmark).
    cells_per_stage: N, cells per stage (5 in the benchmark).
    num_classes: outputs.
    normalization: (mean, std) per input channel of [0, 1] pixels, applied first.
  """

  cell: Cell | None
  channels: int = 16
  cells_per_stage: int = 5
  num_classes: int = 10
  normalization: tuple[Sequence[float], Sequence[float]] = IDENTITY_NORMALIZATION

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    """Logits `(N, num_classes)` of images `x (N, H, W, C)` in [0, 1]; BatchNorm uses the
    running statistics unless `train` (then call with `mutable=["batch_stats"]`)."""
    weights = None
    if self.cell is None:
      weights = self.variable("arch", "ops", jnp.zeros,
                              (len(EDGES), len(OPS)), jnp.float32).value
    x = Normalize(*self.normalization)(x)
    x = batch_norm(train, "stem_bn")(_conv(self.channels, 3, name="stem_conv")(x))
    features = self.channels
    for stage in range(3):
      if stage:
        features *= 2
        x = ResidualBlock(features, name=f"reduction{stage}")(x, train)
      for i in range(self.cells_per_stage):
        x = NB201Cell(self.cell, features, name=f"stage{stage}_cell{i}")(x, train, weights)
    x = nn.relu(batch_norm(train, "head_bn")(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, kernel_init=TORCH_KERNEL_INIT,
                    bias_init=torch_bias_init(x.shape[-1]), name="classifier")(x)


def with_cell(variables: dict[str, Any], cell: Cell) -> dict[str, Any]:
  """`variables` of a `TinyNetwork(cell=None)` with the "arch" one-hot set to `cell`."""
  ops = jnp.asarray(search_space.one_hot(cell))
  return {**variables, "arch": {"ops": ops}}


@functools.lru_cache(maxsize=None)
def num_params(cell: Cell, channels: int = 16, cells_per_stage: int = 5,
               num_classes: int = 10, input_channels: int = 3) -> int:
  """Trainable parameters of `TinyNetwork(cell, ...)` (conv weights, BN affine, classifier),
  counted from shapes only (no compute)."""
  model = TinyNetwork(cell, channels, cells_per_stage, num_classes)
  x = jax.ShapeDtypeStruct((1, 8, 8, input_channels), jnp.float32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(shapes)))
