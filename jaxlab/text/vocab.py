"""A fixed character vocabulary with an out-of-vocabulary id, and length buckets.

  vocab = CharVocab()                               # printable ASCII; PAD = 0, OOV = 1
  ids = vocab.encode(["hi there", "caf\u00e9"])       # (2, 32) int32, padded to the first bucket
  vocab.decode(ids[1])                              # 'caf\ufffd' (the OOV 'e-acute')

Texts are padded to the smallest of a few fixed lengths (`buckets`) that holds the longest text
of the batch, so a jitted model compiles once per bucket instead of once per sentence length.
Texts longer than the largest bucket are truncated to it.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Sequence

import numpy as np

PAD_ID = 0
OOV_ID = 1
# Printable ASCII without tab/newline/CR/VT/FF: the characters of English tweets.
PRINTABLE = "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
BUCKETS = (32, 64, 96, 128, 160, 320)


@dataclasses.dataclass(frozen=True)
class CharVocab:
  """Maps characters to ids 2.. (`chars[i]` -> i + 2); every other character is `OOV_ID`.

  Attributes:
    chars: the in-vocabulary characters, each once.
    buckets: increasing padded lengths; the largest is the maximum length the model sees.
  """

  chars: str = PRINTABLE
  buckets: tuple[int, ...] = BUCKETS

  def __post_init__(self):
    if len(set(self.chars)) != len(self.chars) or not self.chars:
      raise ValueError("vocabulary chars must be non-empty and distinct")
    if not self.buckets or any(b < 1 for b in self.buckets) or list(self.buckets) != sorted(
        set(self.buckets)):
      raise ValueError(f"buckets must be increasing positive lengths, got {self.buckets}")
    codes = np.array([ord(c) for c in self.chars], np.int64)
    order = np.argsort(codes)
    object.__setattr__(self, "_codes", codes[order])
    object.__setattr__(self, "_ids", (order + 2).astype(np.int32))

  @property
  def size(self) -> int:
    """Number of ids, PAD and OOV included (the embedding table size)."""
    return len(self.chars) + 2

  @property
  def max_len(self) -> int:
    return self.buckets[-1]

  def bucket(self, length: int) -> int:
    """The smallest bucket >= `length` (the largest bucket if none)."""
    for b in self.buckets:
      if length <= b:
        return b
    return self.buckets[-1]

  def ids(self, text: str) -> np.ndarray:
    """Ids `(len(text),)` of one text, not padded or truncated."""
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int64)
    pos = np.clip(np.searchsorted(self._codes, codes), 0, len(self._codes) - 1)
    return np.where(self._codes[pos] == codes, self._ids[pos], OOV_ID).astype(np.int32)

  def encode(self, texts: Sequence[str], length: int | None = None) -> np.ndarray:
    """Ids `(N, length)` int32, PAD-padded and truncated to `length` (default: the bucket of the
    longest text)."""
    texts = list(texts)
    lengths = np.array([len(t) for t in texts], np.int64)
    if length is None:
      length = self.bucket(int(lengths.max(initial=0)))
    lengths = np.minimum(lengths, length)
    flat = self.ids("".join(t[:length] for t in texts))
    out = np.full((len(texts), length), PAD_ID, np.int32)
    rows = np.repeat(np.arange(len(texts)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = flat
    return out

  def decode(self, ids: np.ndarray) -> str:
    """The text of one row of ids (PAD dropped, OOV shown as U+FFFD)."""
    chars = ["\ufffd" if i == OOV_ID else self.chars[i - 2] for i in np.asarray(ids).tolist()
             if i != PAD_ID]
    return "".join(chars)
