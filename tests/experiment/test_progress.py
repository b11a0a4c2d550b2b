"""`jaxlab.experiment.progress.bar`: a tqdm bar on a terminal, nothing elsewhere (logs, tests,
notebooks); `JAXLAB_PROGRESS` forces it either way. And a core loop a user waits on
(`jaxlab.kernels.learning_curve.run`) draws its bar on a terminal with unchanged results."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.experiment import progress
from jaxlab.kernels import learning_curve


class FakeTTY(io.StringIO):
  """A captured stream that says it is a terminal."""

  def isatty(self):
    return True


@pytest.fixture
def stderr(monkeypatch):
  """Returns `use(tty: bool) -> stream`: puts a fresh fake stderr in place."""
  monkeypatch.delenv("JAXLAB_PROGRESS", raising=False)

  def use(tty: bool):
    stream = FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    return stream
  return use


def test_bar_renders_on_a_terminal(stderr):
  out = stderr(tty=True)
  assert list(progress.bar(range(3), desc="points")) == [0, 1, 2]
  text = out.getvalue()
  assert "points" in text and "0/3" in text   # drawn with its total (then cleared)


def test_bar_is_quiet_off_a_terminal(stderr):
  out = stderr(tty=False)
  items = [1, 2, 3]
  assert progress.bar(items, desc="points") is items      # the iterable itself, no wrapper
  assert out.getvalue() == ""


@pytest.mark.parametrize("forced,tty,shown", [("0", True, False), ("1", False, True)])
def test_environment_forces_the_bar(stderr, monkeypatch, forced, tty, shown):
  out = stderr(tty=tty)
  monkeypatch.setenv("JAXLAB_PROGRESS", forced)
  assert list(progress.bar(range(2), desc="forced")) == [0, 1]
  assert ("0/2" in out.getvalue()) == shown


def test_learning_curve_draws_its_bar_and_returns_the_same_grid(stderr):
  def errors(key, n, lams):
    return {"bias2": lams * n + jax.random.uniform(key)}

  args = (errors, (8, 16), 3, jnp.array([0.0, 1.0]), jax.random.key(0))
  quiet = learning_curve.run(*args)
  out = stderr(tty=True)
  shown = learning_curve.run(*args, desc="curve")
  assert "curve" in out.getvalue() and "0/6" in out.getvalue()   # 2 sizes x 3 designs
  np.testing.assert_array_equal(quiet["bias2"], shown["bias2"])
  assert shown["bias2"].shape == (2, 3, 2)
  key = learning_curve.design_key(jax.random.key(0), 16, 2)          # (n = 16, design 2)
  np.testing.assert_allclose(shown["bias2"][1, 2], np.array([0.0, 16.0]) + float(
      jax.random.uniform(key)), rtol=1e-6)
