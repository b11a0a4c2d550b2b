"""Character vocabulary, the char-CNN / char-Transformer victims, their training, saving and the
batched score function; the foundation extensions they use (fit/evaluate `encode`, the masked
encoder block, JSON-lines records)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab.data import Dataset, Split
from jaxlab.models.vit import EncoderBlock
from jaxlab.text import models, victim, vocab
from jaxlab.training import loop, steps
from jaxlab.workdir import Workdir

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


def _toy_text_dataset(n=256, seed=0):
  """Texts with a known label: 1 iff the word 'good' is there."""
  rng = np.random.default_rng(seed)
  words = ["the", "flight", "was", "crew", "seat", "late", "food", "bag"]
  x, y = [], []
  for i in range(n):
    w = list(rng.choice(words, size=rng.integers(2, 8)))
    if i % 2:
      w.insert(rng.integers(0, len(w) + 1), "good")
    x.append(" ".join(w))
    y.append(i % 2)
  x, y = np.array(x, dtype=object), np.array(y, np.int32)
  return Dataset("toy", Split(x[:160], y[:160]), Split(x[160:208], y[160:208]),
                 Split(x[208:], y[208:]), num_classes=2, class_names=("no", "good"))


def test_fit_and_evaluate_with_an_encoder_equal_training_on_padded_ids():
  ds = _toy_text_dataset()
  v = vocab.CharVocab()
  model = models.build("cnn", outputs=2, vocab_size=v.size, embed_dim=8, filters=8, hidden=8)
  params = models.init(model, jax.random.key(0), v.encode(ds.train.x[:1]))
  tx = optax.adam(1e-2)
  train_step = steps.make_train_step(steps.classification_loss(model.apply), tx)
  kw = dict(key=jax.random.key(1), num_epochs=2, batch_size=32)
  enc, _ = loop.fit(steps.TrainState.create(params, tx), train_step, ds.train,
                    encode=v.encode, **kw)
  padded = Split(v.encode(ds.train.x, 320), ds.train.y)
  ref, _ = loop.fit(steps.TrainState.create(params, tx), train_step, padded, **kw)
  for a, b in zip(jax.tree_util.tree_leaves(enc.params), jax.tree_util.tree_leaves(ref.params)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  eval_step = steps.make_eval_step(model.apply)
  got = loop.evaluate(eval_step, enc.params, ds.val, batch_size=20, encode=v.encode)
  want = loop.evaluate(eval_step, enc.params, Split(v.encode(ds.val.x, 320), ds.val.y),
                       batch_size=20)
  assert got["acc"] == want["acc"]
  assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)


def test_victim_trains_saves_restores_and_scores_without_recompiling(tmp_path):
  ds = _toy_text_dataset()
  spec = victim.VictimSpec(model="cnn", embed_dim=8, filters=16, hidden=16, num_epochs=6,
                           batch_size=32, learning_rate=1e-2, data=ds.summary())
  trained, results = victim.train(spec, ds, Workdir(str(tmp_path / "cnn")))
  assert results["test_acc"] >= 0.9  # 'good' is easy to spot
  assert victim.is_trained(str(tmp_path / "cnn"))
  loaded, loaded_results = victim.load(str(tmp_path / "cnn"))
  assert loaded.spec == spec and loaded_results["test_acc"] == results["test_acc"]
  score_fn = victim.make_score_fn(loaded, batch_size=64, min_batch=16)
  texts = list(ds.test.x)
  logits = score_fn(texts)
  expected = trained.model.apply(trained.params, trained.vocab.encode(texts, 64))
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
  # 48 texts of one bucket = 32 + 16 rows; 3, 5, 9 texts all pad to 16: no new compilation.
  before = score_fn.apply._cache_size()  # pylint: disable=protected-access
  for n in (3, 5, 9):
    np.testing.assert_allclose(score_fn(texts[:n]), logits[:n], rtol=1e-5, atol=1e-5)
  assert score_fn.apply._cache_size() == before  # pylint: disable=protected-access
  with pytest.raises(ValueError, match="powers of two"):
    victim.make_score_fn(loaded, batch_size=100)
  with pytest.raises(FileNotFoundError, match="no trained victim"):
    victim.load(str(tmp_path / "missing"))


def test_jsonl_records_survive_a_write_cut_short(tmp_path):
  wd = Workdir(str(tmp_path / "w"))
  wd.append_jsonl("r.jsonl", {"a": 1})
  with open(wd.file("r.jsonl"), "a") as f:
    f.write('{"a": 2, "b"')                  # a run killed mid-write
  wd.append_jsonl("r.jsonl", {"a": 3})
  assert wd.read_jsonl("r.jsonl") == [{"a": 1}, {"a": 3}]
  assert wd.read_jsonl("missing.jsonl") == []
  wd.log(1, {"loss": 0.5})
  assert wd.read_metrics() == [{"step": 1, "loss": 0.5}]
