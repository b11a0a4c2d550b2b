"""Property test (hypothesis): the slot neighbourhood of a text is exactly its Levenshtein-1
set over the alphabet (Charmer, arXiv 2405.04346, Sec. 3)."""

from hypothesis import given
from hypothesis import strategies as st

from jaxlab.text import metrics, slots

ALPHABET = "ab "


def brute_force_neighbours(text: str, alphabet: str) -> set[str]:
  """Every string one deletion, substitution or insertion (of a character of `alphabet`)
  away from `text`, enumerated directly."""
  out = set()
  for i in range(len(text)):
    out.add(text[:i] + text[i + 1:])
    out.update(text[:i] + c + text[i + 1:] for c in alphabet)
  for i in range(len(text) + 1):
    out.update(text[:i] + c + text[i:] for c in alphabet)
  out.discard(text)
  return out


@given(st.text(alphabet="abc ", max_size=7), st.sets(st.sampled_from("abcd "), min_size=1))
def test_neighbourhood_is_the_levenshtein_one_set(text, alphabet):
  alphabet = "".join(sorted(alphabet))
  found = {new for _, _, new in slots.neighbourhood(text, range(slots.num_slots(text)),
                                                    alphabet)}
  assert found == brute_force_neighbours(text, alphabet)
  assert all(metrics.levenshtein(text, new) == 1 for new in found)
