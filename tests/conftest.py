"""Test-wide settings: 8 CPU host devices (sharded code runs without accelerators), rank
promotion raises, dtype promotion is strict (no silent float32 -> float64 or int -> float
mixing), warnings are errors (setup.cfg), and `x64` / `dtype` fixtures for float64 tests."""

import os

_FLAG = "--xla_force_host_platform_device_count=8"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position
from hypothesis import HealthCheck, settings  # pylint: disable=g-import-not-at-top

# Property tests: reproducible in CI (derandomized, no example database), no per-example
# deadline (the first example of a test compiles), a budget that keeps the suite fast.
settings.register_profile("jaxlab", max_examples=25, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jaxlab"))

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def x64():
  """Runs the test with float64 enabled, then restores the previous setting."""
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", True)
  yield
  jax.config.update("jax_enable_x64", previous)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
  """Parametrises a test over float32 and float64 (enabling x64 for the latter)."""
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", request.param == "float64")
  yield request.param
  jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def repo_root():
  return REPO
