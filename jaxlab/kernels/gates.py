"""Acceptance gates of the theory experiments: results.json `slopes` and `checks` entries.

  slopes = [slope_gate("E1.1 variance (rho, gamma) = (1, 0)", -1.0, fit, tol=0.1)]
  checks = {"E2.2 iw equals krr at lam = 0": check(rel_diff, "<= 1e-8", rel_diff <= 1e-8)}
  failed(slopes, checks)          # names of the gates that did not pass

A slope entry is {"name", "predicted", "measured", "tol", "pass", "ci"}; a check entry is
{"value", "target", "pass"} (target: a number or a short description such as "<= 0.05").
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from jaxlab.kernels.learning_curve import Slope


def slope_gate(name: str, predicted: float, fit: Slope, tol: float, **extra: Any
               ) -> dict[str, Any]:
  """Passes iff |measured - predicted| <= tol; records the bootstrap CI."""
  return {"name": name, "predicted": float(predicted), "measured": float(fit.slope),
          "tol": float(tol), "pass": bool(abs(fit.slope - predicted) <= tol),
          "ci": [float(fit.low), float(fit.high)], **extra}


def check(value: Any, target: Any, passed: bool, **extra: Any) -> dict[str, Any]:
  """A named check's entry; `value` is what was measured."""
  return {"value": value, "target": target, "pass": bool(passed), **extra}


def max_relative_difference(a, b) -> float:
  """max |a - b| / max(|b|, tiny) over all entries."""
  a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
  return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))


def failed(slopes: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]]
           ) -> list[str]:
  """Names of the slope gates and checks that did not pass."""
  return ([s["name"] for s in slopes if not s["pass"]] +
          [name for name, c in checks.items() if not c["pass"]])


def predicted_line(x, y, slope: float) -> np.ndarray:
  """A line of the given log-log slope through the geometric mean of the points (x, y), for
  overlaying a predicted rate on a measured curve."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  log_x0, log_y0 = np.mean(np.log(x)), np.mean(np.log(y))
  return np.exp(log_y0 + slope * (np.log(x) - log_x0))
