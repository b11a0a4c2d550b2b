"""Acceptance gates of the studies: one slope fitter, one results schema for `checks`.

  fit = fit_slope([128, 256, 512], errors, key=key)     # errors (3, D): D designs / seeds
  fit.slope, fit.low, fit.high                          # least squares in log-log, 95% CI
  loglog_slope([16, 64, 256], [0.2, 0.1, 0.05])         # -0.5 (no CI)
  interval(-0.5, -0.65, -0.35)        # {"value": -0.5, "target": "[-0.65, -0.35]", "pass": True}
  slope_gate("E1.1 variance", -1.0, fit, tol=0.1)       # predicted +- tol, with the CI
  gates = Gates(); gates.check("ratio", interval(r, hi=1.5)); gates.failed()

Every check is `{"value", "target", "pass", ...}` (a NaN value never passes); a slope gate is
a check that also records `name`, `predicted`, `measured`, `tol` and `ci`. A study's
`results["checks"]` maps names to checks.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import numpy as np
from absl import logging

# --- the slope fitter --------------------------------------------------------------------------


class Slope(NamedTuple):
  """Least-squares slope of log(y) on log(x), its intercept and a bootstrap CI [low, high]."""

  slope: float
  intercept: float
  low: float
  high: float


def _lstsq_slope(log_x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Slopes and intercepts of least-squares lines through rows of `log_y (..., N)`."""
  xc = log_x - log_x.mean()
  slope = (log_y - log_y.mean(-1, keepdims=True)) @ xc / np.sum(xc**2)
  return slope, log_y.mean(-1) - slope * log_x.mean()


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
  """Least-squares slope of log y against log x over the points where both are positive and
  finite (NaN if fewer than two such points)."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
  if keep.sum() < 2 or np.ptp(x[keep]) == 0:
    return float("nan")
  slope, _ = _lstsq_slope(np.log(x[keep]), np.log(y[keep]))
  return float(slope)


def fit_slope(x: Sequence[float], values: np.ndarray, *, key: jax.Array,
              num_bootstrap: int = 2000, level: float = 0.95, geometric: bool = False) -> Slope:
  """Log-log least-squares slope of the mean over designs of `values (N, D)` against `x (N,)`,
  with a percentile bootstrap CI: designs (seeds) are resampled with replacement
  independently at each x. `geometric=True` fits the mean of the logs over designs instead
  (the geometric mean: robust when a few seeds' errors spread over decades).

  A 1-D `values (N,)` (a single curve) gets a degenerate CI equal to the slope.

  Raises:
    ValueError: a value is not positive and finite.
  """
  x = np.asarray(x, dtype=float)
  values = np.asarray(values, dtype=float)
  if values.ndim == 1:
    values = values[:, None]
  if np.any(values <= 0) or np.any(~np.isfinite(values)):
    raise ValueError("fit_slope needs positive finite values (log-log fit)")
  log_x = np.log(x)
  average = (lambda v, axis: np.exp(np.log(v).mean(axis))) if geometric else np.mean
  slope, intercept = _lstsq_slope(log_x, np.log(average(values, 1)))
  num_points, num_designs = values.shape
  if num_designs == 1:
    return Slope(float(slope), float(intercept), float(slope), float(slope))
  # Host-side resampling (a numpy generator seeded by the key): no compilation per shape.
  rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
  idx = rng.integers(0, num_designs, (num_bootstrap, num_points, num_designs))
  boot = average(np.take_along_axis(values[None], idx, axis=2), -1)    # (B, N)
  slopes, _ = _lstsq_slope(log_x, np.log(boot))
  alpha = (1.0 - level) / 2.0
  low, high = np.quantile(slopes, [alpha, 1.0 - alpha])
  return Slope(float(slope), float(intercept), float(low), float(high))


def predicted_line(x, y, slope: float) -> np.ndarray:
  """A line of the given log-log slope through the geometric mean of the points (x, y), for
  overlaying a predicted rate on a measured curve."""
  x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
  log_x0, log_y0 = np.mean(np.log(x)), np.mean(np.log(y))
  return np.exp(log_y0 + slope * (np.log(x) - log_x0))


def max_relative_difference(a, b) -> float:
  """max |a - b| / max(|b|, tiny) over all entries."""
  a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
  return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))


# --- checks ------------------------------------------------------------------------------------

def _fmt(v: float) -> str:
  return f"{v:g}"


def check(value: Any, target: Any, passed: bool, **extra: Any) -> dict[str, Any]:
  """A check entry; `value` is what was measured, `target` a number or a short description
  such as "<= 0.05"."""
  return {"value": value, "target": target, "pass": bool(passed), **extra}


def interval(value: float, lo: float | None = None, hi: float | None = None,
             **extra: Any) -> dict[str, Any]:
  """Check lo <= value <= hi (either bound may be None); NaN fails."""
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
  return check(value, target, ok, **extra)


def below(value: float, bound: float, **extra: Any) -> dict[str, Any]:
  """Check value < bound (strict); NaN fails."""
  value = float(value)
  return check(value, f"< {_fmt(bound)}", math.isfinite(value) and value < bound, **extra)


def slope_gate(name: str, predicted: float, fit: Slope, tol: float, **extra: Any
               ) -> dict[str, Any]:
  """Passes iff |measured - predicted| <= tol; records the bootstrap CI."""
  passed = math.isfinite(fit.slope) and abs(fit.slope - predicted) <= tol
  return {"name": name, "predicted": float(predicted), "measured": float(fit.slope),
          "tol": float(tol), "pass": bool(passed), "ci": [float(fit.low), float(fit.high)],
          **extra}


def all_pass(checks: Mapping[str, Mapping[str, Any]]) -> bool:
  return all(c["pass"] for c in checks.values())


def failed(slopes: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]]
           ) -> list[str]:
  """Names of the slope gates and checks that did not pass."""
  return ([s["name"] for s in slopes if not s["pass"]] +
          [name for name, c in checks.items() if not c["pass"]])


def check_schema(checks: Mapping[str, Any]) -> None:
  """Raises ValueError unless every entry of `checks` is `{"value", "target", "pass", ...}`
  with a boolean pass."""
  for name, entry in checks.items():
    if not isinstance(entry, Mapping) or not {"value", "target", "pass"} <= set(entry) or \
        not isinstance(entry["pass"], bool):
      raise ValueError(f"check {name!r} is not {{'value', 'target', 'pass'}}: {entry!r}")


class Gates:
  """Slope gates and checks collected while a study runs (logged as they come)."""

  def __init__(self):
    self.slopes: list[dict[str, Any]] = []
    self.checks: dict[str, dict[str, Any]] = {}

  def slope(self, name: str, predicted: float, fit: Slope, tol: float, **extra: Any) -> None:
    entry = slope_gate(name, predicted, fit, tol, **extra)
    self.slopes.append(entry)
    logging.info("slope %s: measured %.3f (CI %.3f..%.3f), predicted %.3f, tol %.2f -> %s",
                 name, fit.slope, fit.low, fit.high, predicted, tol,
                 "pass" if entry["pass"] else "FAIL")

  def check(self, name: str, value: Any, target: Any = None, passed: bool | None = None,
            **extra: Any) -> None:
    """Records `check(value, target, passed)`, or `value` itself if it is already a check
    entry (e.g. from `interval`)."""
    entry = value if isinstance(value, Mapping) and target is None and passed is None else \
        check(value, target, bool(passed), **extra)
    self.checks[name] = dict(entry)
    logging.info("check %s: %s (target %s) -> %s", name, entry["value"], entry["target"],
                 "pass" if entry["pass"] else "FAIL")

  def failed(self) -> list[str]:
    return failed(self.slopes, self.checks)
