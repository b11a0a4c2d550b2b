"""Charmer and the baseline attacks: slot view, budgets, query counting, known answers, metrics."""

import dataclasses
import itertools

import jax
import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from jaxlab.text import attack, baselines, charmer, metrics, slots

GAMMA = "abc"


def brute_force_lev1(text, alphabet):
  """Every string over `alphabet` (plus the text's own characters) at Levenshtein <= 1."""
  chars = sorted(set(alphabet) | set(text))
  out = set()
  for m in range(max(0, len(text) - 1), len(text) + 2):
    for t in itertools.product(chars, repeat=m):
      s = "".join(t)
      if Levenshtein.distance(text, s) <= 1:
        out.add(s)
  return out


def test_slot_view_is_exactly_the_levenshtein_1_neighbourhood():
  rng = np.random.default_rng(0)
  texts = [""] + ["".join(rng.choice(list(GAMMA), size=m)) for m in (1, 2, 3, 4, 5, 6, 6, 6)]
  for text in texts:
    edited = {e for _, _, e in slots.neighbourhood(text, range(slots.num_slots(text)), GAMMA)}
    assert edited | {text} == brute_force_lev1(text, GAMMA), text
    assert text not in edited  # no-ops are dropped


def test_slot_view_covers_only_new_characters_in_gamma():
  # Text over {a, b, z}, Gamma = {a, b}: substitutions/insertions never produce a new 'z'.
  text = "azb"
  edited = {e for _, _, e in slots.neighbourhood(text, range(7), "ab")}
  expected = {s for s in brute_force_lev1(text, "ab")
              if s.count("z") <= 1 and s != text}
  assert edited == expected


def test_edit_table_of_the_slot_view():
  assert slots.num_slots("ab") == 5
  assert slots.edit("ab", 0, "x") == "xab"          # gap: insert
  assert slots.edit("ab", 2, "x") == "axb"
  assert slots.edit("ab", 4, "x") == "abx"
  assert slots.edit("ab", 0, slots.DEL) == "ab"     # gap + DEL: no-op
  assert slots.edit("ab", 1, "x") == "xb"           # character: substitute
  assert slots.edit("ab", 1, "a") == "ab"           # substitute by itself: no-op
  assert slots.edit("ab", 3, slots.DEL) == "a"      # character + DEL: delete
  with pytest.raises(IndexError, match="slot 5 out of range"):
    slots.edit("ab", 5, "x")
  with pytest.raises(ValueError, match="one character"):
    slots.edit("ab", 1, "xy")


def test_space_probe_inserts_replaces_and_deletes_an_existing_space():
  assert slots.space_probe("a b", 0) == " a b"      # gap: insert a space
  assert slots.space_probe("a b", 1) == "  b"       # character: replace by a space
  assert slots.space_probe("a b", 3) == "ab"        # already a space: delete it
  assert Levenshtein.distance("ab", "ba") == 2      # no transpositions


def test_frozen_marks_follow_insertions_and_deletions():
  frozen = [False, False, False]                    # "abc"
  frozen = slots.refreeze(frozen, 2, "x")           # "axbc": x frozen
  assert frozen == [False, True, False, False]
  assert slots.allowed_slots("axbc", frozen) == [0, 1, 2, 4, 5, 6, 7, 8]
  frozen = slots.refreeze(frozen, 5, slots.DEL)     # delete 'b' -> "axc"
  assert frozen == [False, True, False]
  frozen = slots.refreeze(frozen, 5, "y")           # substitute 'c' -> "axy"
  assert frozen == [False, True, True]
  assert slots.word_spans(" ab  c ") == [(1, 3), (5, 6)]


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


def test_random_attacks_are_deterministic_given_the_key():
  for fn in (baselines.random_edits, baselines.deepwordbug):
    a = fn(count_z, "abc de fgh", 0, k=3, alphabet="abz", key=jax.random.key(3))
    b = fn(count_z, "abc de fgh", 0, k=3, alphabet="abz", key=jax.random.key(3))
    assert a.text == b.text and a.queries == b.queries


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


def test_result_round_trips_through_json():
  r = charmer.charmer(count_z, "abc de", 0, k=3, n=2, alphabet="abz")
  assert attack.AttackResult.from_json(r.to_json()) == r


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
