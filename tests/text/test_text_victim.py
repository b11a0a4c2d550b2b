"""Victims: trained through the one supervised pipeline (`fit_classifier`), saved, resumed,
re-loaded, and scored as a batched black box without recompiling; their config's checks."""

import dataclasses
import os
import shutil

import jax
import numpy as np
import optax
import pytest

from jaxlab.data import Dataset, Split
from jaxlab.experiment.config import ConfigError
from jaxlab.experiment.workdir import Workdir, WorkdirError
from jaxlab.text import models, victim, vocab
from jaxlab.training import loop, optim, steps
from jaxlab.training.supervised import fit_classifier

CONFIG = victim.VictimConfig(
    model="cnn", embed_dim=8, filters=16, hidden=16, num_epochs=6, batch_size=32,
    optim=optim.OptimConfig(optimizer="adamw", learning_rate=1e-2, schedule="cosine",
                            weight_decay=1e-2))


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




def assert_same_params(a, b):
  leaves_a, leaves_b = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """The toy victim trained in a workdir: (victim, results, path, dataset)."""
  ds = _toy_text_dataset()
  path = str(tmp_path_factory.mktemp("victims") / "cnn")
  model, results = victim.train(CONFIG, ds, Workdir(path), seed=0,
                                provenance={"note": "toy"})
  return model, results, path, ds


def test_victim_training_is_the_supervised_pipeline(trained):
  model, results, _, ds = trained
  assert results["test_acc"] >= 0.9  # 'good' is easy to spot
  # The same training by hand: key(seed) split into init / train keys, adamw with cosine
  # decay over all steps, fit_classifier on character ids.
  init_key, train_key = jax.random.split(jax.random.key(0))
  fresh = victim.init(CONFIG, 2, init_key)
  tx = optim.from_config(CONFIG.optim, (len(ds.train) // 32) * 6)
  fit = fit_classifier(fresh.params, fresh.model.apply, tx, ds.train, key=train_key,
                       num_epochs=6, batch_size=32, val=ds.val, test=ds.test,
                       encode=vocab.CharVocab().encode)
  assert_same_params(model.params, fit.params)
  assert (results["test_acc"], results["val_loss"]) == (fit.test["acc"], fit.val["loss"])
  assert results["num_params"] == models.num_params(fit.params)
  assert results["seed"] == 0 and results["train_examples"] == 160
  assert results["provenance"] == {"data": ds.summary() | {"input_shape": []}, "note": "toy"}


def _chunk_sizes(n, batch_size, min_batch):
  """The distinct chunk sizes `make_score_fn` cuts n rows of one bucket into."""
  out, left = set(), n
  while left > 0:
    size = min(batch_size, max(min_batch, 1 << (left.bit_length() - 1)))
    out.add(size)
    left -= size
  return out


class Counting:
  """A model whose `apply` counts how often it is traced (once per compiled shape)."""

  def __init__(self, model):
    self.model, self.traces = model, 0

  def apply(self, params, ids):
    self.traces += 1
    return self.model.apply(params, ids)


def test_victim_reloads_and_scores_without_recompiling(trained):
  model, results, path, ds = trained
  assert victim.is_trained(path)
  loaded, loaded_results = victim.load(path)
  assert loaded.config == CONFIG and loaded.num_classes == 2 and loaded_results == results
  assert_same_params(loaded.params, model.params)
  counting = Counting(loaded.model)
  score_fn = victim.make_score_fn(loaded._replace(model=counting), batch_size=64, min_batch=16)
  texts = list(ds.test.x)
  logits = score_fn(texts)
  expected = model.model.apply(model.params, model.vocab.encode(texts, 64))
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
  # One compilation per (length bucket, power-of-two chunk) pair: 17 texts of a bucket are
  # chunks of 16 + 1 (padded to 16), 40 texts 32 + 8 (padded to 16).
  sizes = {}
  for t in texts:
    sizes[vocab.CharVocab().bucket(len(t))] = sizes.get(vocab.CharVocab().bucket(len(t)), 0) + 1
  assert counting.traces == sum(len(_chunk_sizes(n, 64, 16)) for n in sizes.values())
  traced = counting.traces
  for n in (3, 5, 9):  # all pad to 16 rows: no new compilation
    np.testing.assert_allclose(score_fn(texts[:n]), logits[:n], rtol=1e-5, atol=1e-5)
  assert counting.traces == traced
  with pytest.raises(ValueError, match="powers of two"):
    victim.make_score_fn(loaded, batch_size=100)
  with pytest.raises(FileNotFoundError, match="no trained victim"):
    victim.load(os.path.join(path, "missing"))


def test_an_interrupted_training_resumes_to_the_same_victim(trained, tmp_path):
  model, results, path, ds = trained
  copy = tmp_path / "cnn"
  shutil.copytree(path, copy)  # then cut back to a run killed after epoch 5 of 6
  assert sorted(os.listdir(copy / "checkpoints")) == ["5", "6"]  # the last two are kept
  shutil.rmtree(copy / "checkpoints" / "6")
  shutil.rmtree(copy / "params")
  (copy / "results.json").unlink()
  resumed, resumed_results = victim.train(CONFIG, ds, Workdir(str(copy), resume=True), seed=0,
                                          provenance={"note": "toy"})
  assert_same_params(resumed.params, model.params)
  assert resumed_results["test_acc"] == results["test_acc"]
  assert [m["epoch"] for m in Workdir(str(copy), resume=True).read_metrics()] == list(
      range(1, 7))
  other = dataclasses.replace(CONFIG, filters=8)
  with pytest.raises(WorkdirError, match="different config"):
    victim.train(other, ds, Workdir(str(copy), resume=True), seed=0, provenance={"note": "toy"})


@pytest.mark.parametrize("change, message", [
    (dict(model="lstm"), "model: got 'lstm', expected one of: cnn, transformer"),
    (dict(model="transformer", width=10, num_heads=4), "num_heads: must divide width (10)"),
    (dict(model="transformer", patch_size=7), "patch_size: must divide the length buckets"),
    (dict(filters=0), "filters: must be >= 1"),
])
def test_bad_victim_configs_name_the_field(change, message):
  with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace(")", "\\)")):
    victim.VictimConfig(**change)
  if "width" in change or "patch_size" in change:  # a cnn does not use the transformer knobs
    victim.VictimConfig(**{**change, "model": "cnn"})
