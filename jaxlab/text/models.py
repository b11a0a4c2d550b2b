"""Character-level text classifiers (Flax linen): the victims of the Charmer experiments.

  from jaxlab.text import models, vocab
  v = vocab.CharVocab()
  model = models.build("cnn", outputs=2, vocab_size=v.size)
  ids = v.encode(["so good", "so bad"])              # (2, 32) int32
  params = models.init(model, jax.random.key(0), ids)
  logits = model.apply(params, ids)                  # (2, 2)

Both models read ids `(N, L)` with PAD = 0 and are exactly invariant to the amount of PAD after
the text: the PAD embedding is zeroed, pooling and attention skip padding. So a sentence gets the
same logits in every length bucket, and the bucket only decides the compiled shape.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlab.models import init, num_params
from jaxlab.models.vit import EncoderBlock
from jaxlab.text.vocab import BUCKETS, PAD_ID

MODELS = ("cnn", "transformer")


def _embed(ids: jax.Array, vocab_size: int, dim: int) -> tuple[jax.Array, jax.Array]:
  """Embeddings `(N, L, dim)` with PAD rows zeroed, and the mask `(N, L)` of real characters."""
  ids = jnp.asarray(ids)
  mask = ids != PAD_ID
  x = nn.Embed(vocab_size, dim, name="embed")(ids)
  return x * mask[..., None].astype(x.dtype), mask


class CharCNN(nn.Module):
  """ids `(N, L)` -> embedding -> parallel 1-D convs (one per kernel size, `filters` each, ReLU)
  -> max over the real positions -> Dense(hidden) -> ReLU -> Dense(outputs).

  The convolutions zero-pad ('SAME'), which equals reading PAD, so a position's features depend
  only on the text. An empty text is pooled at position 0 (all padding).

  Attributes:
    vocab_size: number of ids (`CharVocab.size`).
    outputs: number of classes.
    embed_dim: character embedding width.
    kernel_sizes: conv widths (characters).
    filters: output channels of each conv.
    hidden: width of the hidden dense layer.
  """

  vocab_size: int
  outputs: int
  embed_dim: int = 32
  kernel_sizes: Sequence[int] = (3, 5, 7)
  filters: int = 64
  hidden: int = 128

  @nn.compact
  def __call__(self, ids: jax.Array) -> jax.Array:
    x, mask = _embed(ids, self.vocab_size, self.embed_dim)
    mask = mask.at[:, 0].set(True)[..., None]
    pooled = []
    for w in self.kernel_sizes:
      h = nn.relu(nn.Conv(self.filters, (w,), padding="SAME", name=f"conv{w}")(x))
      pooled.append(jnp.max(jnp.where(mask, h, 0.0), axis=1))  # h >= 0, so 0 is neutral
    h = nn.relu(nn.Dense(self.hidden)(jnp.concatenate(pooled, axis=-1)))
    return nn.Dense(self.outputs)(h)


class CharTransformer(nn.Module):
  """ids `(N, L)` -> embedding -> non-overlapping patches of `patch_size` characters projected to
  `width` (a strided conv, as ViT's patches) + learned positions -> `depth` pre-LN encoder blocks
  with a padding mask -> LayerNorm -> mean over the real tokens -> Dense(outputs).

  A token is real if its patch holds at least one character. L must be a multiple of
  `patch_size` and at most `max_len`.

  Attributes:
    vocab_size: number of ids (`CharVocab.size`).
    outputs: number of classes.
    width: token width (also the character embedding width).
    depth: number of encoder blocks.
    num_heads: attention heads (must divide width).
    patch_size: characters per token.
    mlp_ratio: hidden width of the block MLP as a multiple of `width`.
    max_len: longest input (number of learned positions is max_len / patch_size).
  """

  vocab_size: int
  outputs: int
  width: int = 64
  depth: int = 2
  num_heads: int = 4
  patch_size: int = 4
  mlp_ratio: int = 2
  max_len: int = BUCKETS[-1]

  @nn.compact
  def __call__(self, ids: jax.Array) -> jax.Array:
    n, length = ids.shape
    p = self.patch_size
    if length % p or length > self.max_len:
      raise ValueError(f"input length {length} must be a multiple of patch_size {p} and at most "
                       f"max_len {self.max_len}")
    x, mask = _embed(ids, self.vocab_size, self.width)
    x = nn.Conv(self.width, (p,), strides=(p,), padding="VALID", name="patch")(x)
    tokens = jnp.any(mask.reshape(n, length // p, p), axis=-1).at[:, 0].set(True)
    pos = self.param("pos_embedding", nn.initializers.normal(0.02),
                     (1, self.max_len // p, self.width))
    x = x + pos[:, :length // p]
    for i in range(self.depth):
      x = EncoderBlock(self.num_heads, self.mlp_ratio * self.width, name=f"block{i}")(x, tokens)
    x = nn.LayerNorm()(x)
    weights = tokens.astype(x.dtype)[..., None]
    pooled = jnp.sum(x * weights, axis=1) / jnp.sum(weights, axis=1)
    return nn.Dense(self.outputs, name="head")(pooled)


def build(name: str, *, outputs: int, vocab_size: int, embed_dim: int = 32, filters: int = 64,
          hidden: int = 128, width: int = 64, depth: int = 2, num_heads: int = 4,
          patch_size: int = 4, max_len: int = BUCKETS[-1]) -> nn.Module:
  """A character-level classifier by name.

  Args:
    name: 'cnn' (`CharCNN` with `embed_dim`, `filters` per kernel size 3/5/7, `hidden`) or
      'transformer' (`CharTransformer` with `width`, `depth`, `num_heads`, `patch_size`,
      `max_len`).
    outputs: number of classes.
    vocab_size: `CharVocab.size`.
  """
  if name == "cnn":
    return CharCNN(vocab_size=vocab_size, outputs=outputs, embed_dim=embed_dim, filters=filters,
                   hidden=hidden)
  if name == "transformer":
    if width % num_heads:
      raise ValueError(f"width ({width}) must be divisible by num_heads ({num_heads})")
    if max_len % patch_size:
      raise ValueError(f"max_len ({max_len}) must be a multiple of patch_size ({patch_size})")
    return CharTransformer(vocab_size=vocab_size, outputs=outputs, width=width, depth=depth,
                           num_heads=num_heads, patch_size=patch_size, max_len=max_len)
  raise ValueError(f"unknown text model {name!r}; valid models: {', '.join(MODELS)}")


__all__ = ["CharCNN", "CharTransformer", "MODELS", "build", "init", "num_params"]
