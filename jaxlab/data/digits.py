"""scikit-learn's bundled handwritten digits (1,797 real 8x8 images, 10 classes), offline."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn import datasets as sk_datasets

from jaxlab.data.dataset import Dataset, split_three_ways


def load_digits(*, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                image_size: int = 8, noise_std: float = 0.0) -> Dataset:
  """Digits as `(N, image_size, image_size, 1)` float32 images in [0, 1].

  Args:
    seed: seed of the stratified train / val / test split.
    val_fraction, test_fraction: fractions of all 1,797 images.
    image_size: side of the output images; values other than 8 resize bilinearly (e.g. 16 or
      32 for ViTs and CNNs that need larger inputs).
    noise_std: if > 0, a harder task: every image (all splits) gets fixed Gaussian pixel noise
      of this standard deviation (drawn once from `seed`), clipped to [0, 1].
  """
  if not isinstance(image_size, (int, np.integer)) or image_size < 2:
    raise ValueError(f"image_size must be an integer >= 2, got {image_size!r}")
  if not noise_std >= 0:
    raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
  raw = sk_datasets.load_digits()
  x = (raw.images / 16.0).astype(np.float32)  # (N, 8, 8), pixels 0..16
  if image_size != 8:
    x = ndimage.zoom(x, (1, image_size / 8, image_size / 8), order=1, grid_mode=True,
                     mode="nearest")
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
  if noise_std > 0:
    rng = np.random.default_rng([seed, 7919])
    x = np.clip(x + noise_std * rng.standard_normal(x.shape), 0.0, 1.0).astype(np.float32)
  x = x[..., None]
  y = raw.target.astype(np.int32)
  train, val, test = split_three_ways(x, y, val_fraction=val_fraction,
                                      test_fraction=test_fraction, seed=seed)
  return Dataset("digits", train, val, test, num_classes=10,
                 class_names=tuple(str(i) for i in range(10)),
                 info=dict(source="sklearn.datasets.load_digits", image_size=int(image_size),
                           noise_std=float(noise_std)))
