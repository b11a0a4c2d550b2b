"""Test-wide settings: 8 CPU host devices (sharded code runs without accelerators), rank
promotion raises, dtype promotion is strict (no silent float32 -> float64 or int -> float
mixing), warnings are errors (setup.cfg), and `x64` / `dtype` fixtures for float64 tests."""

import os
import re

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


class _FigureSink:
  """A stand-in for `Workdir` that keeps the figures a plot function saves (nothing written)."""

  def __init__(self):
    self.figures = {}

  def save_figure(self, fig, name):
    self.figures[name] = fig
    return name


@pytest.fixture
def figure_sink():
  """Pass as the workdir of a plot function; its figures are in `.figures[name]`."""
  return _FigureSink()


def _legend_texts(fig) -> list[str]:
  return [t.get_text() for ax in fig.axes if ax.get_legend() is not None
          for t in ax.get_legend().get_texts()]


def _assert_paper_style(fig, name: str = "figure", *, needs_legend: bool = False) -> None:
  """Both axis labels on every axes that draws something (`jaxlab.plotting.unlabelled`), and
  legends in the papers' names: no code names such as `mehl_plus` outside $math$."""
  from jaxlab import plotting  # pylint: disable=g-import-not-at-top
  assert plotting.unlabelled(fig) == [], name
  texts = _legend_texts(fig)
  assert texts or not needs_legend, f"{name}: no legend"
  code_names = [t for t in texts if "_" in re.sub(r"\$[^$]*\$", "", t)]
  assert not code_names, f"{name}: code names in legends: {code_names}"


@pytest.fixture
def paper_style():
  """`paper_style(fig, name, needs_legend=False)` asserts the shared figure style."""
  return _assert_paper_style


@pytest.fixture
def legend_texts():
  return _legend_texts
