"""The slot view of one character edit (Charmer, arXiv:2405.04346, Sec. 3): exactly the
Levenshtein-1 neighbourhood (brute force), the edit table, the space probe, frozen slots."""

import itertools

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from jaxlab.text import slots

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

