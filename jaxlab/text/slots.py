"""The slot view of one character edit (Charmer, Abad Rocamora et al., ICML 2024, Sec. 3).

  text = "ab"                       # m = 2 characters -> 2m + 1 = 5 slots: _ a _ b _
  edit(text, 0, "x")                # 'xab'  (gap 0: insert)
  edit(text, 1, "x")                # 'xb'   (character 'a': substitute)
  edit(text, 3, DEL)                # 'a'    (character 'b': delete)
  neighbourhood(text, range(5), "xy")   # every string at Levenshtein distance <= 1 over {x, y}

Even slots 0, 2, ..., 2m are the gaps between characters (insertion points, both ends
included); odd slot 2i + 1 holds character i. Writing symbol v into slot z:

  | slot          | v = character c                   | v = DEL   |
  | gap (even)    | insert c                          | no-op     |
  | char (odd)    | substitute by c (no-op if equal)  | delete    |

`DEL` is the empty string, so "write v into slot z" is one slice for both rows of the table and
no real character is reserved as a placeholder. Over all slots and all v in Gamma + {DEL} the
edits cover exactly the strings at Levenshtein distance <= 1 whose new character lies in Gamma.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

DEL = ""
SPACE = " "


def num_slots(text: str) -> int:
  """2m + 1 for a text of m characters."""
  return 2 * len(text) + 1


def edit(text: str, slot: int, symbol: str) -> str:
  """`text` with `symbol` (one character, or `DEL`) written into `slot` (see the table above)."""
  if not 0 <= slot < num_slots(text):
    raise IndexError(f"slot {slot} out of range for a text of {len(text)} characters "
                     f"({num_slots(text)} slots)")
  if len(symbol) > 1:
    raise ValueError(f"a symbol is one character or DEL (''), got {symbol!r}")
  i, is_char = divmod(slot, 2)
  return text[:i] + symbol + text[i + is_char:]


def space_probe(text: str, slot: int) -> str:
  """Charmer's position-scoring probe: insert a space into a gap, replace a character by a
  space, or delete the character if it already is a space."""
  is_char = slot % 2
  symbol = DEL if is_char and text[slot // 2] == SPACE else SPACE
  return edit(text, slot, symbol)


def neighbourhood(text: str, slots: Iterable[int], alphabet: Sequence[str]
                  ) -> list[tuple[int, str, str]]:
  """`(slot, symbol, edited text)` for every slot and every symbol of `alphabet` + DEL,
  dropping the no-ops (edits that return `text` itself); duplicates may remain."""
  symbols = list(dict.fromkeys(list(alphabet) + [DEL]))
  out = []
  for z in slots:
    for v in symbols:
      new = edit(text, z, v)
      if new != text:
        out.append((z, v, new))
  return out


def allowed_slots(text: str, frozen: Sequence[bool]) -> list[int]:
  """Every gap, and the slots of the characters not marked `frozen` (`frozen[i]` for character
  i: written by an earlier edit, so it may not be edited again)."""
  if len(frozen) != len(text):
    raise ValueError(f"frozen has {len(frozen)} entries for {len(text)} characters")
  return [z for z in range(num_slots(text)) if z % 2 == 0 or not frozen[z // 2]]


def refreeze(frozen: Sequence[bool], slot: int, symbol: str) -> list[bool]:
  """The `frozen` marks re-aligned to the text after writing `symbol` into `slot`: an inserted
  or substituted character is frozen, a deleted one drops out, the others shift."""
  i, is_char = divmod(slot, 2)
  frozen = list(frozen)
  if not is_char:
    if symbol != DEL:
      frozen.insert(i, True)
  elif symbol == DEL:
    del frozen[i]
  else:
    frozen[i] = True
  return frozen


def word_spans(text: str) -> list[tuple[int, int]]:
  """`(start, end)` character spans of the words (maximal runs of non-space characters)."""
  return [m.span() for m in re.finditer(r"\S+", text)]
