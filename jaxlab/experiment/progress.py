"""Progress bars for the loops a user waits on: tqdm on a terminal, silent otherwise.

  for point in progress.bar(points, desc="sweep"):
    ...

The bar writes to stderr only when stderr is a terminal (and `JAXLAB_PROGRESS` is not "0"),
so logs, tests and notebooks run without it; `JAXLAB_PROGRESS=1` forces it on.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

import tqdm

T = TypeVar("T")


def enabled() -> bool:
  """Whether bars are shown: JAXLAB_PROGRESS=1/0 forces on/off, else stderr is a terminal."""
  forced = os.environ.get("JAXLAB_PROGRESS")
  if forced is not None:
    return forced not in ("0", "", "false")
  return sys.stderr.isatty()


def bar(iterable: Iterable[T], *, desc: str, total: int | None = None,
        leave: bool = False) -> Iterable[T]:
  """`iterable` wrapped in a tqdm bar labelled `desc` when `enabled()`, else as it is."""
  if not enabled():
    return iterable
  # The terminal bar (tqdm.auto would import its notebook bar, which warns in a Jupyter kernel
  # without ipywidgets, and a kernel's stderr is no terminal anyway).
  return tqdm.tqdm(iterable, desc=desc, total=total, leave=leave, file=sys.stderr,
                   dynamic_ncols=True)
