"""Small Vision Transformer (Flax linen): patch embedding, pre-LN blocks, mean-pooled head."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class EncoderBlock(nn.Module):
  """Pre-LN block: x + MHSA(LN(x)), then x + MLP(LN(x)); tokens `(N, T, width)`.

  `mask` `(N, T)` bool (optional) marks the real tokens: padding tokens are never attended to,
  so the real tokens' outputs do not depend on how much padding follows them.
  """

  num_heads: int
  mlp_dim: int

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    y = nn.LayerNorm()(x)
    attention_mask = None if mask is None else nn.make_attention_mask(mask, mask)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(y, y, mask=attention_mask)
    y = nn.LayerNorm()(x)
    y = nn.Dense(self.mlp_dim)(y)
    return x + nn.Dense(x.shape[-1])(nn.gelu(y))


class ViT(nn.Module):
  """x `(N, H, W, C)` -> (H/p)(W/p) patch tokens of `width` + learned positions -> `depth`
  encoder blocks -> LayerNorm -> mean over tokens -> Dense(outputs).

  Attributes:
    patch_size: side p of the square patches; must divide H and W.
    width: token dimension.
    depth: number of encoder blocks.
    num_heads: attention heads (must divide width).
    mlp_ratio: hidden width of the block MLP as a multiple of `width`.
    outputs: number of classes.
  """

  patch_size: int = 2
  width: int = 64
  depth: int = 2
  num_heads: int = 4
  mlp_ratio: int = 2
  outputs: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, h, w, _ = x.shape
    p = self.patch_size
    if h % p or w % p:
      raise ValueError(f"patch_size {p} must divide the image sides {h}x{w}")
    x = nn.Conv(self.width, (p, p), strides=(p, p), padding="VALID", name="embed")(x)
    x = jnp.reshape(x, (n, -1, self.width))
    pos = self.param("pos_embedding", nn.initializers.normal(0.02), (1, x.shape[1], self.width))
    x = x + pos
    for i in range(self.depth):
      x = EncoderBlock(self.num_heads, self.mlp_ratio * self.width, name=f"block{i}")(x)
    x = nn.LayerNorm()(x)
    return nn.Dense(self.outputs, name="head")(jnp.mean(x, axis=1))
