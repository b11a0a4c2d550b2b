import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import models
from jaxlab.models import model_state


def test_mlp_parameter_count_and_output():
  model = models.build("mlp", outputs=10, width=32, depth=2)
  x = jnp.ones((5, 8, 8, 1))
  params = models.init(model, jax.random.key(0), x)
  assert models.num_params(params) == (64 * 32 + 32) + (32 * 32 + 32) + (32 * 10 + 10)
  assert model.apply(params, x).shape == (5, 10)


def test_cnn_and_vit_shapes_and_counts():
  x = jnp.ones((3, 16, 16, 1))
  cnn = models.build("cnn", outputs=7, width=16, depth=2)  # channels (8, 16), dense 16
  p = models.init(cnn, jax.random.key(0), x)
  # conv 3x3: 9*1*8+8, 9*8*16+16; 16x16 -> 8x8 -> 4x4 pooled, dense 4*4*16 -> 16 -> 7.
  assert models.num_params(p) == (9 * 8 + 8) + (9 * 8 * 16 + 16) + (256 * 16 + 16) + (16 * 7 + 7)
  assert cnn.apply(p, x).shape == (3, 7)
  vit = models.build("vit", outputs=4, width=16, depth=1, patch_size=4, num_heads=2)
  pv = models.init(vit, jax.random.key(0), x)
  assert vit.apply(pv, x).shape == (3, 4)
  assert pv["params"]["pos_embedding"].shape == (1, 16, 16)


def test_vit_is_permutation_equivariant_in_batch_and_deterministic():
  x = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1))
  vit = models.build("vit", outputs=3, width=8, depth=1, patch_size=2, num_heads=2)
  p = models.init(vit, jax.random.key(0), x)
  out = vit.apply(p, x)
  np.testing.assert_allclose(vit.apply(p, x[::-1]), out[::-1], rtol=1e-5, atol=1e-6)


def test_bad_model_arguments():
  with pytest.raises(ValueError, match="valid models: mlp, cnn, vit"):
    models.build("resnet", outputs=2)
  with pytest.raises(ValueError, match="divisible by num_heads"):
    models.build("vit", outputs=2, width=10, num_heads=4)
  vit = models.build("vit", outputs=2, width=8, num_heads=2, patch_size=3)
  with pytest.raises(ValueError, match="patch_size 3 must divide"):
    models.init(vit, jax.random.key(0), jnp.ones((1, 8, 8, 1)))


def test_compiled_init_equals_the_eager_init_to_float_rounding():
  # small models: an eager init compiles every initialiser shape and layer op on its own
  # (28 s and 22 s of CPU for the NB201 one-hot network and a PreActResNet), which is what
  # `compiled_init` avoids
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1))
  for model in (models.build("mlp", outputs=10, width=16, depth=1),
                models.build("cnn", outputs=10, width=8, depth=1)):
    init_fn = model_state.compiled_init(model)
    for seed in (0, 1):
      eager, compiled = model.init(jax.random.key(seed), x), init_fn(jax.random.key(seed), x)
      assert jax.tree_util.tree_structure(eager) == jax.tree_util.tree_structure(compiled)
      for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(compiled)):
        # same random bits; XLA may fuse the scaling of a draw differently (a few ulps)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-8)
