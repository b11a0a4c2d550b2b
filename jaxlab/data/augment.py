"""Pure-JAX augmentation of image batches: keyed, jit-friendly, strengths may be traced.

  x = random_shift(key, x, 2)                   # (N, H, W, C): each image moved by up to 2 px
  x = random_flip(key, x)                       # (N, H, W, C): half the images mirrored
  x = gaussian_noise(key, x, 0.1)               # (N, H, W, C)
  x, y_mix, lam = mixup(key, x, y, 0.2)          # loss = lam * CE(y) + (1 - lam) * CE(y_mix)

Strengths (`max_shift`, `std`, `alpha`) may be jnp scalars, so one compiled training step
serves many augmentation settings (e.g. the randomly drawn hyperparameters of model-soup
ingredients); a zero strength is the identity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_shift(key: jax.Array, x: jax.Array, max_shift, *, pad: int | None = None
                 ) -> jax.Array:
  """Translates each image of `x (N, H, W, C)` by integer offsets drawn uniformly from
  `[-max_shift, max_shift]` in both axes, filling with zeros.

  Args:
    key: PRNG key.
    x: images `(N, H, W, C)`.
    max_shift: largest offset in pixels (int or traced scalar); clipped to `pad`.
    pad: static padding (the largest usable shift); required when `max_shift` is traced.
  """
  if pad is None:
    if not isinstance(max_shift, int):
      raise ValueError("random_shift: pass a static `pad` when max_shift is traced")
    pad = max_shift
  if x.ndim != 4:
    raise ValueError(f"random_shift expects images (N, H, W, C), got shape {x.shape}")
  if pad == 0:
    return x
  n, h, w, _ = x.shape
  s = jnp.clip(jnp.asarray(max_shift, jnp.int32), 0, pad)
  offsets = jax.random.randint(key, (n, 2), -s, s + 1)
  padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))

  def crop(img, off):
    return jax.lax.dynamic_slice(img, (pad + off[0], pad + off[1], 0), (h, w, img.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def random_flip(key: jax.Array, x: jax.Array) -> jax.Array:
  """Mirrors each image of `x (N, H, W, C)` left-right with probability 1/2 (the standard
  CIFAR augmentation with `random_shift(key, x, 4)`, which is a random crop of the image
  zero-padded by 4)."""
  if x.ndim != 4:
    raise ValueError(f"random_flip expects images (N, H, W, C), got shape {x.shape}")
  flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
  return jnp.where(flip, x[:, :, ::-1, :], x)


def gaussian_noise(key: jax.Array, x: jax.Array, std) -> jax.Array:
  """`x + std * N(0, 1)` (std may be traced; 0 returns `x`)."""
  return x + jnp.asarray(std, x.dtype) * jax.random.normal(key, x.shape, x.dtype)


def mixup(key: jax.Array, x: jax.Array, y: jax.Array, alpha
          ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Mixup (Zhang et al., 2018, arXiv 1710.09412): `lam x + (1 - lam) x[perm]` with one
  `lam ~ Beta(alpha, alpha)` per batch and a random permutation of the batch.

  Args:
    key: PRNG key.
    x: inputs `(N, ...)`.
    y: labels `(N,)` (or targets `(N, ...)`), permuted alongside.
    alpha: Beta parameter (may be traced); `alpha <= 0` gives `lam = 1` (no mixing).

  Returns:
    `(x_mixed, y[perm], lam)`; the loss is `lam * L(y) + (1 - lam) * L(y[perm])`.
  """
  k_lam, k_perm = jax.random.split(key)
  alpha = jnp.asarray(alpha, jnp.float32)
  safe = jnp.maximum(alpha, 1e-3)
  lam = jnp.where(alpha > 0, jax.random.beta(k_lam, safe, safe), 1.0).astype(x.dtype)
  perm = jax.random.permutation(k_perm, x.shape[0])
  return lam * x + (1 - lam) * x[perm], y[perm], lam
