"""Acceptance checks of the theory studies and the log-log fits they rest on.

  loglog_slope([16, 64, 256], [0.2, 0.1, 0.05])        # -0.5
  interval(-0.5, -0.65, -0.35)                          # {"value": -0.5, "target": "[-0.65, -0.35]",
                                                        #  "pass": True}

A study's `results["checks"]` maps a check name to `{"value", "target", "pass"}`; a NaN value
never passes.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
  """Least-squares slope of log y against log x (NaN if fewer than two positive points)."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
  if keep.sum() < 2:
    return float("nan")
  return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def _fmt(v: float) -> str:
  return f"{v:g}"


def interval(value: float, lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
  """Check lo <= value <= hi (either bound may be None)."""
  value = float(value)
  ok = math.isfinite(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
  if lo is not None and hi is not None:
    target = f"[{_fmt(lo)}, {_fmt(hi)}]"
  elif lo is not None:
    target = f">= {_fmt(lo)}"
  elif hi is not None:
    target = f"<= {_fmt(hi)}"
  else:
    raise ValueError("interval needs lo or hi")
  return {"value": value, "target": target, "pass": bool(ok)}


def below(value: float, bound: float) -> dict[str, Any]:
  """Check value < bound (strict)."""
  value = float(value)
  return {"value": value, "target": f"< {_fmt(bound)}",
          "pass": bool(math.isfinite(value) and value < bound)}


def all_pass(checks: dict[str, dict[str, Any]]) -> bool:
  return all(c["pass"] for c in checks.values())
