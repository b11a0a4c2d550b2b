"""Finished points of the study, one JSON line each in `points.jsonl` of the workdir, so that a
killed run resumes without redoing them.

  records = Records(wd)
  if not records.has("learning_curve", d=5, n=512, seed=0, weight_decay=1e-4, teacher="main"):
    ...
    records.add("learning_curve", {"excess_risk": 1e-3, ...}, d=5, n=512, seed=0, ...)
  records.get("learning_curve", d=5, n=512, seed=0, weight_decay=1e-4, teacher="main")

A record is `{"part": ..., "id": {...}, **values}`; its identity is (part, id). A record is
written after the compiled call that produced it has finished, so a resumed run redoes at most
the call that was interrupted.
"""

from __future__ import annotations

import json
from typing import Any

from jaxlab.experiment import Workdir
from jaxlab.experiment.workdir import to_jsonable

FILE = "points.jsonl"


def _identity(part: str, ids: dict[str, Any]) -> str:
  return json.dumps([part, to_jsonable(ids)], sort_keys=True)


class Records:
  """The finished points of a workdir (read once; `add` appends and remembers)."""

  def __init__(self, wd: Workdir):
    self.wd = wd
    self.done: dict[str, dict[str, Any]] = {}
    for record in wd.read_jsonl(FILE):
      self.done[_identity(record["part"], record["id"])] = record

  def has(self, part: str, **ids: Any) -> bool:
    return _identity(part, ids) in self.done

  def get(self, part: str, **ids: Any) -> dict[str, Any]:
    return self.done[_identity(part, ids)]

  def add(self, part: str, values: dict[str, Any], **ids: Any) -> None:
    record = to_jsonable({"part": part, "id": ids, **values})
    self.wd.append_jsonl(FILE, record)
    self.done[_identity(part, ids)] = record


__all__ = ["FILE", "Records"]
