"""Attack metrics: ASR over originally-correct examples only, distances over successes, queries,
time, similarities (closed forms)."""

import dataclasses

import numpy as np
import pytest

from jaxlab.text import charmer, metrics


def count_z(texts):
  """Class 1 iff the text holds at least 3 'z'."""
  c = np.array([t.count("z") for t in texts], np.float64)
  return np.stack([2.5 - c, c - 2.5], axis=1)


def test_summary_counts_only_originally_correct_examples():
  wrong = charmer.charmer(count_z, "zzz", 0, k=2, alphabet="z")       # not attacked
  won = charmer.charmer(count_z, "zz a", 0, k=2, alphabet="z")        # 1 edit
  lost = charmer.charmer(count_z, "abcd", 0, k=2, alphabet="z")       # needs 3
  s = metrics.summarize([wrong, won, lost], k=2)
  assert s["num_attacked"] == 2 and s["num_success"] == 1 and s["asr"] == 0.5
  assert s["mean_lev"] == 1 and s["max_lev"] == 1 and s["mean_lev_all"] == 1.5
  assert s["mean_queries"] == (won.queries + lost.queries) / 2
  assert s["wall_s"] == pytest.approx(won.seconds + lost.seconds)
  assert s["mean_similarity"] == metrics.char_ngram_cosine("zz a", won.text)
  cheat = dataclasses.replace(won, text="zzzzzz a")
  with pytest.raises(AssertionError, match="exceeded the budget"):
    metrics.summarize([cheat], k=2)
  assert np.isnan(metrics.summarize([wrong], k=2)["asr"])


def test_similarities():
  assert metrics.char_ngram_cosine("abcd", "abcd") == pytest.approx(1.0)
  assert metrics.char_ngram_cosine("abcd", "abce") == pytest.approx(0.5)  # {abc,bcd}.{abc,bce}
  assert metrics.char_ngram_cosine("abc", "xyz") == 0.0
  assert metrics.char_ngram_cosine("ab", "ab") == 1.0                    # shorter than n
  fake = lambda texts: np.array([[len(t), 1.0] for t in texts])  # noqa: E731
  np.testing.assert_allclose(metrics.embedding_cosine(fake, ["ab"], ["ab"]), [1.0])
  np.testing.assert_allclose(metrics.embedding_cosine(fake, ["a"], ["b"]), [1.0])
  np.testing.assert_allclose(metrics.embedding_cosine(fake, ["a"], [""]),
                             [1 / np.sqrt(2)])
