"""`augment.random_flip`: each image is itself or its left-right mirror, about half mirrored,
a pure function of the key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.data import augment


def test_random_flip():
  x = jax.random.uniform(jax.random.key(0), (200, 4, 5, 2))
  out = np.asarray(augment.random_flip(jax.random.key(1), x))
  mirrored = np.asarray(x[:, :, ::-1, :])
  same = np.all(out == np.asarray(x), axis=(1, 2, 3))
  flipped = np.all(out == mirrored, axis=(1, 2, 3))
  assert np.all(same ^ flipped)
  assert 70 < flipped.sum() < 130
  np.testing.assert_array_equal(out, augment.random_flip(jax.random.key(1), x))
  with pytest.raises(ValueError, match="expects images"):
    augment.random_flip(jax.random.key(1), jnp.ones((3, 4)))
