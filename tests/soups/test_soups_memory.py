"""Memory accounting: compiled-step bytes against K (Learned-Soup+ grows, MEHL-Soup+ is flat)
and the process's peak RSS."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import models
from jaxlab.soups import combine, learned, mehl, memory


def test_step_memory_grows_with_k_for_learned_plus_and_is_flat_for_mehl_plus():
  model = models.build("mlp", outputs=10, width=64, depth=2)
  like = memory.abstract(models.init(model, jax.random.key(0), np.zeros((1, 8, 8, 1),
                                                                        np.float32)))
  d = combine.tree_bytes(like)
  groups = combine.leaf_groups(like, per_layer=True)
  batch = {"x": jax.ShapeDtypeStruct((8, 8, 8, 1), jnp.float32),
           "y": jax.ShapeDtypeStruct((8,), jnp.int32)}
  tx = optax.adamw(0.01, weight_decay=0.0)
  lopt = learned.learned_soup_optimizer(model.apply, groups, tx)
  mopt = mehl.mehl_block_optimizer(model.apply, groups, tx)
  learned_bytes = {k: learned.compile_update(lopt, like, k, batch)[1].total_bytes
                   for k in (4, 8, 16)}
  mehl_bytes = mehl.compile_steps(mopt, like, 2, groups, batch, memory_only=True).memory
  # All K ingredients are step arguments: + K D bytes, and no (K, D) temporary.
  for k in (4, 8, 16):
    assert k * d <= learned_bytes[k] <= (k + 3) * d, (k, learned_bytes[k] / d)
  assert learned_bytes[16] - learned_bytes[8] == pytest.approx(8 * d, rel=0.01)
  # MEHL: the block (b = 2), the anchor and O(1) temporaries, whatever K is.
  assert 3 * d <= mehl_bytes.total_bytes <= 6 * d, mehl_bytes.total_bytes / d
  assert mehl_bytes.total_bytes < learned_bytes[8]


def test_peak_rss_sees_an_allocation():
  with memory.PeakRSS() as rss:
    block = np.ones(25_000_000, np.float32)  # 100 MB, touched
    del block
  assert rss.peak_bytes - rss.start_bytes >= 80e6
