"""The finite-value guard: the first bad step and what failed, no effect on finite runs."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import train_classifier
from jaxlab.data.dataset import Split
from jaxlab.experiment import config as config_lib
from jaxlab.training import guard, loop, steps


def _linear_problem(lr):
  params = {"w": jnp.zeros((3,)), "b": jnp.zeros(())}
  x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
  y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)

  def loss_fn(p, batch, key):
    del key
    return jnp.mean((batch["x"] @ p["w"] + p["b"] - batch["y"]) ** 2), {}

  tx = optax.sgd(lr)
  return steps.TrainState.create(params, tx), steps.make_train_step(loss_fn, tx), Split(x, y)


def test_record_keeps_the_first_failure_and_what_it_was():
  record = guard.init()
  ok = {"w": jnp.ones(2)}
  record = guard.update(record, 0, jnp.float32(2.0), jnp.float32(1.0), ok)
  assert int(record.first_step) == -1 and float(record.initial_loss) == 2.0
  record = guard.update(record, 1, jnp.float32(1.0), jnp.float32(jnp.inf), ok)
  record = guard.update(record, 2, jnp.float32(jnp.nan), jnp.float32(1.0), ok)
  assert (int(record.first_step), guard.QUANTITIES[int(record.code)]) == (1, "gradient")
  with pytest.raises(guard.NonFiniteError, match="non-finite gradient at step 1 .epoch 2"):
    guard.check(record, where="epoch 2")
  bad = guard.update(guard.init(), 0, jnp.float32(1.0), jnp.float32(1.0),
                     {"w": jnp.array([1.0, -jnp.inf])})
  assert guard.QUANTITIES[int(bad.code)] == "parameter"
  exploded = guard.update(guard.update(guard.init(), 0, jnp.float32(2.0), jnp.float32(1.0), ok),
                          1, jnp.float32(3e6), jnp.float32(1.0), ok)
  assert guard.QUANTITIES[int(exploded.code)] == "exploding loss"
  guard.check(guard.init())  # all finite: passes
  guard.check(None)          # no guard: passes


def test_fit_stops_at_the_first_non_finite_step_and_keeps_earlier_metrics():
  state, step, train = _linear_problem(lr=10.0)  # diverges: |1 - 2 lr lambda| > 1
  logged = []
  with pytest.raises(guard.NonFiniteError) as err:
    loop.fit(state, step, train, key=jax.random.key(0), num_epochs=200, batch_size=32,
             log_fn=lambda e, m: logged.append((e, m)))
  assert err.value.quantity in ("loss", "gradient", "parameter", "exploding loss")
  assert logged[-1][1]["nonfinite"] is True and len(logged) == err.value.step + 1


def test_guard_does_not_change_a_finite_run():
  state, step, train = _linear_problem(lr=0.05)
  guarded, _ = loop.fit(state, step, train, key=jax.random.key(0), num_epochs=5, batch_size=8)
  unguarded, _ = loop.fit(state._replace(nonfinite=None), step, train, key=jax.random.key(0),
                          num_epochs=5, batch_size=8)
  np.testing.assert_array_equal(guarded.params["w"], unguarded.params["w"])
  assert unguarded.nonfinite is None and int(guarded.nonfinite.first_step) == -1


@pytest.mark.parametrize("changes", [{"optim.learning_rate": 1e6},
                                     {"optim.learning_rate": 1e6, "optim.optimizer": "sgd"}])
def test_diverging_classifier_leaves_a_failed_workdir_and_no_results(tmp_path, changes):
  config = config_lib.override(train_classifier.smoke(), {"num_epochs": 3, **changes})
  with pytest.raises(guard.NonFiniteError):
    train_classifier.run(config, str(tmp_path / "w"))
  assert not (tmp_path / "w" / "results.json").exists()
  failed = json.loads((tmp_path / "w" / "failed.json").read_text())
  assert failed["type"] == "NonFiniteError" and failed["step"] >= 0
  lines = (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()
  assert json.loads(lines[-1])["nonfinite"] is True


def test_check_values_names_the_first_bad_step_of_a_trajectory():
  guard.check_values(np.ones((3, 5)))
  trajectory = np.ones((2, 5))
  trajectory[1, 3] = np.inf
  trajectory[0, 4] = np.nan
  with pytest.raises(guard.NonFiniteError, match="non-finite loss at step 30 .GD."):
    guard.check_values(trajectory, steps=np.arange(0, 50, 10), where="GD")
