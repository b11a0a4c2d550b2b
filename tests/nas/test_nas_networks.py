"""TinyNetwork: exact parameter counts, the shared-program network equal to the cell's own
network, BatchNorm modes, normalisation as the first layer (attacks move pixels by eps)."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.adversarial import attacks
from jaxlab.models import model_state
from jaxlab.nas import networks, search_space as ss

CELL = ss.parse(
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")


@pytest.mark.parametrize("op,channels,cells,expected", [
    ("nor_conv_3x3", 16, 5, 1_531_546), ("nor_conv_1x1", 16, 5, 241_306),
    ("none", 16, 5, 73_306), ("nor_conv_3x3", 4, 1, 23_374)])
def test_parameter_counts_match_nas_bench_201(op, channels, cells, expected):
  assert networks.num_params(ss.Cell((op,) * 6), channels, cells) == expected


@pytest.fixture(scope="module")
def own():
  """The cell's own network (C = 2, N = 1), its variables and a batch of 6 images."""
  model = networks.TinyNetwork(CELL, 2, 1, 10)
  x = jax.random.uniform(jax.random.key(0), (6, 8, 8, 1))
  return model, model.init(jax.random.key(1), x), x


def _subtree(full, like):
  """The entries of `full` at the paths of `like`."""
  flat = flax.traverse_util.flatten_dict(full)
  return flax.traverse_util.unflatten_dict(
      {k: flat[k] for k in flax.traverse_util.flatten_dict(like)})


def test_shared_program_network_equals_the_cells_own_network(own):
  model, v_own, x = own
  shared = networks.TinyNetwork(None, 2, 1, 10)
  v_shared = networks.with_cell(shared.init(jax.random.key(1), x), CELL)
  sub = {c: _subtree(v_shared[c], v_own[c]) for c in ("params", "batch_stats")}
  np.testing.assert_allclose(shared.apply(v_shared, x), model.apply(sub, x), rtol=1e-5,
                             atol=1e-6)
  out_s, st_s = model_state.train_apply(shared)(v_shared, x)
  out_o, st_o = model_state.train_apply(model)(sub, x)
  np.testing.assert_allclose(out_s, out_o, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(_subtree(st_s["batch_stats"], st_o["batch_stats"])
                             ["stage0_cell0"]["edge23_nor_conv_3x3"]["BatchNorm_0"]["mean"],
                             st_o["batch_stats"]["stage0_cell0"]["edge23_nor_conv_3x3"]
                             ["BatchNorm_0"]["mean"], rtol=1e-5, atol=1e-7)
  np.testing.assert_array_equal(st_s["arch"]["ops"], ss.one_hot(CELL))   # kept, not trained
  # Gradients on the operations the cell does not use are exactly zero.
  grads = jax.grad(lambda p: jnp.sum(shared.apply({**v_shared, "params": p}, x)))(
      v_shared["params"])
  unused = grads["stage0_cell0"]["edge01_nor_conv_1x1"]
  assert all(np.all(g == 0) for g in jax.tree_util.tree_leaves(unused))
  used = grads["stage0_cell0"]["edge01_nor_conv_3x3"]
  assert any(np.any(g != 0) for g in jax.tree_util.tree_leaves(used))


def test_batchnorm_modes(own):
  model, v, x = own
  # Eval mode: rows are independent of the batch; fresh statistics are the identity.
  np.testing.assert_allclose(model.apply(v, x)[:3], model.apply(v, x[:3]), rtol=1e-5,
                             atol=1e-6)
  # Train mode: batch statistics (rows depend on the batch); running statistics move by
  # PyTorch's momentum 0.1 towards this batch's; parameters untouched.
  logits, updates = model.apply(v, x, train=True, mutable=["batch_stats"])
  logits3, _ = model.apply(v, x[:3], train=True, mutable=["batch_stats"])
  assert not np.allclose(logits[:3], logits3, atol=1e-4)
  stem = jax.lax.conv_general_dilated(
      x, v["params"]["stem_conv"]["kernel"], (1, 1), ((1, 1), (1, 1)),
      dimension_numbers=("NHWC", "HWIO", "NHWC"))
  mean, var = jnp.mean(stem, axis=(0, 1, 2)), jnp.var(stem, axis=(0, 1, 2))
  np.testing.assert_allclose(updates["batch_stats"]["stem_bn"]["mean"], 0.1 * mean, rtol=1e-4,
                             atol=1e-6)
  np.testing.assert_allclose(updates["batch_stats"]["stem_bn"]["var"], 0.9 + 0.1 * var,
                             rtol=1e-4)
  assert set(updates) == {"batch_stats"}
  # Eval mode uses the running statistics: with the updated ones the output changes.
  assert not np.allclose(model.apply({**v, **updates}, x), model.apply(v, x))


def test_normalisation_is_the_first_layer_and_eps_is_in_pixels(own):
  model, v, x = own
  mean, std = (0.5,), (0.1,)              # a small std: normalised space is 10x larger
  normalized = networks.TinyNetwork(CELL, 2, 1, 10, normalization=(mean, std))
  np.testing.assert_allclose(normalized.apply(v, x), model.apply(v, (x - 0.5) / 0.1),
                             rtol=1e-5, atol=1e-5)
  y = jnp.arange(6) % 10
  eps = 8 / 255
  x_adv = attacks.fgsm(normalized.apply, v, x, y, eps)   # PGD shares the projection step
  delta = np.abs(np.asarray(x_adv - x))
  assert eps - 1e-6 <= delta.max() <= eps + 1e-6
  assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
  with pytest.raises(ValueError, match="do not fit 1 channels"):
    networks.TinyNetwork(CELL, 2, 1, 10, normalization=((0.1, 0.2), (1.0, 1.0))).init(
        jax.random.key(0), x)
