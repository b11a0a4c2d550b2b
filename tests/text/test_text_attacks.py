"""Charmer and the baseline attacks: losses, known answers, query counting on unique strings,
budgets, trajectories read off at smaller budgets, keys, argument errors."""

import jax
import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from jaxlab.text import attack, baselines, charmer


def test_margin_is_positive_exactly_when_misclassified_and_ce_matches_closed_form():
  logits = np.random.default_rng(1).normal(size=(200, 4))
  labels = np.arange(200) % 4
  for y in range(4):
    rows = labels == y
    margin = attack.margin_loss(logits[rows], y)
    np.testing.assert_array_equal(margin > 0, np.argmax(logits[rows], -1) != y)
    expected_ce = -np.log(np.exp(logits[rows, y]) / np.exp(logits[rows]).sum(-1))
    np.testing.assert_allclose(attack.ce_loss(logits[rows], y), expected_ce, rtol=1e-12)


# A tiny classifier with a known answer: class 1 iff the text holds at least 3 'z'.
def count_z(texts):
  c = np.array([t.count("z") for t in texts], np.float64)
  return np.stack([2.5 - c, c - 2.5], axis=1)


class Recorder:
  """Wraps a score_fn and keeps every string it is sent."""

  def __init__(self, fn):
    self.fn, self.seen, self.calls = fn, [], 0

  def __call__(self, texts):
    self.calls += 1
    self.seen.extend(texts)
    return self.fn(texts)


def all_attacks(k, alphabet="xyz", n=3):
  key = jax.random.key(0)
  return {
      "charmer": lambda f, t, y: charmer.charmer(f, t, y, k=k, n=n, alphabet=alphabet),
      "exhaustive": lambda f, t, y: charmer.exhaustive_greedy(f, t, y, k=k, alphabet=alphabet),
      "random": lambda f, t, y: baselines.random_edits(f, t, y, k=k, alphabet=alphabet,
                                                       key=key, num_candidates=5),
      "deepwordbug": lambda f, t, y: baselines.deepwordbug(f, t, y, k=k, alphabet=alphabet,
                                                           key=key),
  }


def test_charmer_finds_the_known_flip_and_stops_there():
  for n in (1, 20):
    r = charmer.charmer(count_z, "a zz b", 0, k=5, n=n, alphabet="abz")
    assert r.attacked and r.success and r.edits == 1 and r.lev == 1
    assert r.text.count("z") == 3
    assert len(r.steps) == 2 and r.steps[-1].success
  # 0 'z': three edits needed; k = 2 must fail, k = 3 must succeed with exactly 3.
  assert not charmer.charmer(count_z, "abc de", 0, k=2, n=2, alphabet="abz").success
  r = charmer.charmer(count_z, "abc de", 0, k=3, n=2, alphabet="abz")
  assert r.success and r.edits == 3 and r.lev == 3 and r.text.count("z") == 3


def test_position_scoring_finds_the_one_sensitive_position():
  # Class 1 iff there is no 'q': only the space probe of slot 11 (the 'q') raises the loss, so
  # top-1 position scoring is enough, and the symbol search substitutes or deletes the 'q'.
  def fn(texts):
    flip = np.array(["q" not in t for t in texts], np.float64)
    return np.stack([0.5 - flip, flip - 0.5], axis=1)

  rec = Recorder(fn)
  r = charmer.charmer(rec, "abcdeqghij", 0, k=1, n=1, alphabet="xy")
  assert r.success and r.text == "abcdexghij"
  assert r.queries == 1 + 21 + 3 == len(rec.seen)


def test_queries_are_counted_exactly_on_unique_strings():
  # "ab", Gamma {x, y}, n = 1, a classifier that never flips and prefers " b" (the space probe
  # of character 'a', slot 1): step 1 = 5 probes + 3 symbols at slot 1 (x, y, DEL); step 2 on
  # "xb" (x frozen: 4 slots) = 4 new probes + 2 symbols at gap 0 (DEL there is a no-op).
  def fn(texts):
    return np.array([[1.0, 0.5 if t == " b" else 0.0] for t in texts])

  rec = Recorder(fn)
  r = charmer.charmer(rec, "ab", 0, k=2, n=1, alphabet="xy")
  assert not r.success and r.edits == 2
  assert [s.queries for s in r.steps] == [1, 1 + 5 + 3, 1 + 5 + 3 + 4 + 2]
  assert r.queries == len(rec.seen) == len(set(rec.seen)) == 15
  assert rec.calls == 5  # clean, probes, symbols, probes, symbols: one batched call each
  # Exhaustive greedy, one step on "ab": 1 clean + 12 distinct edits (no-ops dropped).
  rec = Recorder(fn)
  r = charmer.exhaustive_greedy(rec, "ab", 0, k=1, alphabet="xy")
  assert r.queries == len(rec.seen) == len(set(rec.seen)) == 13


@pytest.mark.parametrize("name", ["charmer", "exhaustive", "random", "deepwordbug"])
def test_every_attack_respects_the_budget_and_counts_queries(name):
  rng = np.random.default_rng(2)
  weights = rng.normal(size=(128, 2))

  def linear(texts):  # a smooth bag-of-characters classifier
    out = np.zeros((len(texts), 2))
    for i, t in enumerate(texts):
      for c in t:
        out[i] += weights[ord(c) % 128]
    return out

  texts = ["zz xy zyx", "xxxx yyy z", "y", "zyx zyx zyx"]
  for k in (1, 2, 3):
    for text in texts:
      label = int(np.argmax(linear([text])[0]))
      rec = Recorder(linear)
      r = all_attacks(k)[name](rec, text, label)
      assert r.attacked
      assert Levenshtein.distance(text, r.text) == r.lev <= r.edits <= k
      assert r.queries == len(rec.seen) == len(set(rec.seen))
      assert r.success == (int(np.argmax(linear([r.text])[0])) != label)


@pytest.mark.parametrize("name", ["charmer", "exhaustive", "random", "deepwordbug"])
def test_a_wrong_prediction_is_not_attacked(name):
  rec = Recorder(count_z)
  r = all_attacks(5)[name](rec, "zzz zz", 0)  # predicted 1, label 0
  assert not r.attacked and not r.success and r.text == "zzz zz"
  assert r.queries == 1 and rec.seen == ["zzz zz"] and r.edits == 0


@pytest.mark.parametrize("name", ["charmer", "exhaustive", "random"])
def test_greedy_trajectory_does_not_depend_on_the_budget(name):
  text = "abc de fgh"
  big = all_attacks(6, alphabet="abz")[name](count_z, text, 0)
  for k in range(0, 6):
    small = all_attacks(k, alphabet="abz")[name](count_z, text, 0)
    cut = big.at_budget(k)
    assert (cut.text, cut.success, cut.edits, cut.queries, cut.lev) == (
        small.text, small.success, small.edits, small.queries, small.lev)


def test_random_attacks_are_deterministic_given_the_key_and_depend_on_it():
  for fn in (baselines.random_edits, baselines.deepwordbug):
    a = fn(count_z, "abc de fgh", 0, k=3, alphabet="abz", key=jax.random.key(3))
    b = fn(count_z, "abc de fgh", 0, k=3, alphabet="abz", key=jax.random.key(3))
    assert a.text == b.text and a.queries == b.queries
    others = {fn(count_z, "abc de fgh", 0, k=3, alphabet="abz", key=jax.random.key(s)).text
              for s in range(4, 12)}
    assert len(others | {a.text}) > 1  # the draws come from the key


def test_deepwordbug_edits_only_the_most_important_word_first():
  # Only 'good' matters: removing it has the highest loss, so it is edited first; any edit of
  # it flips the label.
  def fn(texts):
    pos = np.array(["good" in t for t in texts], np.float64)
    return np.stack([-pos, pos], axis=1)

  r = baselines.deepwordbug(fn, "the food was good today", 1, k=2, alphabet="xyz",
                            key=jax.random.key(0))
  assert r.success and r.edits in (1, 2) and "good" not in r.text
  assert r.text.startswith("the food was ") and r.text.endswith(" today")


def test_bad_arguments_fail_with_clear_messages():
  with pytest.raises(ValueError, match="budget k must be an integer >= 0"):
    charmer.charmer(count_z, "ab", 0, k=-1, alphabet="ab")
  with pytest.raises(ValueError, match="alphabet must be a non-empty sequence"):
    charmer.charmer(count_z, "ab", 0, k=1, alphabet="")
  with pytest.raises(ValueError, match="n \\(top slots\\) must be >= 1"):
    charmer.charmer(count_z, "ab", 0, k=1, n=0, alphabet="ab")
  with pytest.raises(ValueError, match="unknown loss 'hinge'"):
    charmer.charmer(count_z, "ab", 0, k=1, alphabet="ab", loss="hinge")
  with pytest.raises(ValueError, match="score_fn must return logits of shape"):
    charmer.charmer(lambda t: np.zeros(len(t)), "ab", 0, k=1, alphabet="ab")
  with pytest.raises(TypeError, match="text must be a str"):
    charmer.charmer(count_z, ["ab"], 0, k=1, alphabet="ab")


def test_result_round_trips_through_json():
  r = charmer.charmer(count_z, "abc de", 0, k=3, n=2, alphabet="abz")
  assert attack.AttackResult.from_json(r.to_json()) == r
