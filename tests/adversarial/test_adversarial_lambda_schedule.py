"""ELLE-A's adaptive lambda against the reference code's loop on scripted error sequences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.adversarial import lambda_schedule


def _reference_elle_a(values, lam_max, decay=0.99, num_std=2.0, window=0):
  """The reference code's loop (numpy mean / population std of the history)."""
  lam, history, lams, triggers = 0.0, [], [], []
  for v in values:
    past = history[-window:] if window else history
    trigger = len(past) > 2 and v > np.mean(past) + num_std * np.std(past)
    lam = lam_max if trigger else decay * lam
    history.append(v)
    lams.append(lam)
    triggers.append(trigger)
  return np.array(lams), np.array(triggers)


@pytest.mark.parametrize("window", [0, 4])
def test_adaptive_lambda_on_a_scripted_error_sequence(x64, window):
  values = np.array([5.0, 0.5, 9.0,            # the first three steps never trigger
                     1.0, 1.1, 0.9, 1.0, 3.0,    # a spike only against the last 4 values
                     1.0, 1.0, 1.2, 0.8, 1.0, 1.05, 500.0, 1.0])
  sched = lambda_schedule.adaptive(100.0, window=window)

  def body(state, v):
    state = sched.update(v, state)
    return state, (state.lam, state.triggered)

  _, (lams, triggers) = jax.jit(lambda v: jax.lax.scan(body, sched.init(), v))(values)
  expected_lams, expected_triggers = _reference_elle_a(values, 100.0, window=window)
  np.testing.assert_array_equal(triggers, expected_triggers)
  np.testing.assert_allclose(lams, expected_lams, rtol=1e-12)
  assert not triggers[:3].any() and triggers[14]
  assert np.flatnonzero(triggers).tolist() == ([7, 14] if window else [14])
  np.testing.assert_allclose(lams[15], 99.0)  # decays by 0.99 after a trigger
  assert float(lams[13]) == (100.0 * 0.99 ** 6 if window else 0.0)


def test_lambda_state_statistics_are_the_history_mean_and_population_std(x64):
  sched = lambda_schedule.constant(3.0)
  state = sched.init()
  values = [0.5, 2.0, 1.5, 7.0]
  for v in values:
    state = sched.update(jnp.asarray(v), state)
  n, mean, std = lambda_schedule.history_stats(state)
  assert int(n) == 4 and float(state.lam) == 3.0
  np.testing.assert_allclose([mean, std], [np.mean(values), np.std(values)], rtol=1e-12)
