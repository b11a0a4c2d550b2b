"""The one gates module: slope fits against closed forms, check entries, the schema."""

import math

import jax
import numpy as np
import pytest

from jaxlab.experiment import gates


def test_loglog_slope_recovers_a_power_law_and_ignores_non_positive_points():
  x = np.array([16, 64, 256, 1024.0])
  assert gates.loglog_slope(x, 3 * x**-0.5) == pytest.approx(-0.5, abs=1e-12)
  assert gates.loglog_slope([1, 2, 4], [1, 0, 4]) == pytest.approx(1.0, abs=1e-12)
  assert math.isnan(gates.loglog_slope([1, 2], [1, -1]))


def test_fit_slope_matches_loglog_slope_and_brackets_it():
  rng = np.random.default_rng(0)
  x = np.array([100, 200, 400, 800.0])
  values = x[:, None] ** -1.0 * np.exp(0.05 * rng.standard_normal((4, 8)))
  fit = gates.fit_slope(x, values, key=jax.random.key(0))
  assert fit.slope == pytest.approx(gates.loglog_slope(x, values.mean(1)), abs=1e-12)
  assert fit.low <= fit.slope <= fit.high and fit.high - fit.low < 0.2
  with pytest.raises(ValueError, match="positive finite"):
    gates.fit_slope(x, -values, key=jax.random.key(0))


def test_checks_and_slope_gates():
  assert gates.interval(-0.5, -0.65, -0.35) == {"value": -0.5, "target": "[-0.65, -0.35]",
                                                "pass": True}
  assert not gates.interval(float("nan"), lo=0)["pass"]
  assert gates.below(1.0, 1.0)["pass"] is False
  fit = gates.Slope(-0.93, 0.0, -1.0, -0.9)
  entry = gates.slope_gate("rate", -1.0, fit, tol=0.05)
  assert entry["pass"] is False and entry["ci"] == [-1.0, -0.9]
  g = gates.Gates()
  g.check("a", gates.interval(2.0, hi=1.0))
  g.check("b", 1.0, "== 1", True)
  g.slope("rate", -1.0, fit, 0.1)
  assert g.failed() == ["a"]
  gates.check_schema(g.checks)
  with pytest.raises(ValueError):
    gates.check_schema({"x": {"value": 1, "target": 1, "pass": 1}})
