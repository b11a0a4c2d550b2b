"""Character vocabulary and the char-CNN / char-Transformer: ids, OOV, padding and truncation,
logits invariant to the padding bucket, the masked encoder block."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.models.vit import EncoderBlock
from jaxlab.text import models, vocab

TEXTS = ["so good", "lost my bag AGAIN!!", "", "caf\u00e9 \u2615", "x" * 400,
         "the crew was lovely, thank you @airline"]


def test_vocab_ids_oov_padding_and_truncation():
  v = vocab.CharVocab()
  assert v.size == len(vocab.PRINTABLE) + 2 == 97
  ids = v.encode(TEXTS)
  assert ids.shape == (6, 320) and ids.dtype == np.int32       # longest text -> largest bucket
  assert v.decode(ids[0]) == "so good" and v.decode(ids[3]) == "caf\ufffd \ufffd"
  assert (ids[2] == vocab.PAD_ID).all()
  assert (ids[4] != vocab.PAD_ID).all()                          # truncated to 320
  assert ids[3, 3] == vocab.OOV_ID
  assert v.encode(["ab"]).shape == (1, 32)
  assert [v.bucket(n) for n in (0, 32, 33, 160, 161, 999)] == [32, 32, 64, 160, 320, 320]
  np.testing.assert_array_equal(v.encode(["ab"], 4)[0], [v.ids("a")[0], v.ids("b")[0], 0, 0])
  with pytest.raises(ValueError, match="distinct"):
    vocab.CharVocab("aa")
  with pytest.raises(ValueError, match="increasing"):
    vocab.CharVocab(buckets=(64, 32))


@pytest.mark.parametrize("name", models.MODELS)
def test_logits_do_not_depend_on_the_padding_bucket(name):
  v = vocab.CharVocab()
  model = models.build(name, outputs=3, vocab_size=v.size, filters=8, hidden=8, width=16,
                       num_heads=2, depth=1)
  texts = [t for t in TEXTS if len(t) <= 32]
  params = models.init(model, jax.random.key(0), v.encode(texts, 32))
  apply = jax.jit(model.apply)
  ref = apply(params, v.encode(texts, 32))
  for length in (64, 160, 320):
    np.testing.assert_allclose(apply(params, v.encode(texts, length)), ref, rtol=1e-5,
                               atol=1e-5)
  # Batch order does not matter either, and a real character does change the output.
  np.testing.assert_allclose(apply(params, v.encode(texts[::-1], 64)), ref[::-1],
                             rtol=1e-5, atol=1e-5)
  assert not np.allclose(apply(params, v.encode(["so goad", "", ""], 32))[0], ref[0],
                         atol=1e-6)


def test_bad_model_arguments():
  with pytest.raises(ValueError, match="valid models: cnn, transformer"):
    models.build("lstm", outputs=2, vocab_size=10)
  with pytest.raises(ValueError, match="divisible by num_heads"):
    models.build("transformer", outputs=2, vocab_size=10, width=10, num_heads=4)
  model = models.build("transformer", outputs=2, vocab_size=10, patch_size=4)
  with pytest.raises(ValueError, match="multiple of patch_size 4"):
    models.init(model, jax.random.key(0), jnp.ones((1, 30), jnp.int32))


def test_encoder_block_mask_hides_padding_and_is_optional():
  x = jax.random.normal(jax.random.key(0), (2, 6, 8))
  block = EncoderBlock(num_heads=2, mlp_dim=16)
  params = block.init(jax.random.key(1), x)
  apply = jax.jit(block.apply)
  full = jnp.ones((2, 6), bool)
  np.testing.assert_allclose(apply(params, x, full), apply(params, x), atol=1e-6)
  mask = jnp.array([[True] * 4 + [False] * 2] * 2)
  noisy = x.at[:, 4:].set(100.0)  # what the padding holds must not matter
  np.testing.assert_allclose(apply(params, noisy, mask)[:, :4], apply(params, x, mask)[:, :4],
                             atol=1e-5)
  assert not np.allclose(apply(params, noisy)[:, :4], apply(params, x)[:, :4], atol=1e-3)

