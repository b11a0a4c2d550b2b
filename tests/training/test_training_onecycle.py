"""The 'onecycle' schedule equals PyTorch's OneCycleLR with its defaults step for step (its
`get_lr` transcribed below), which `optax.cosine_onecycle_schedule` does not."""

import math

import jax
import numpy as np
import optax
import pytest

from jaxlab.training import optim


def torch_onecycle(max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4):
  """torch.optim.lr_scheduler.OneCycleLR(anneal_strategy='cos', three_phase=False).get_lr at
  last_epoch = 0 ... total_steps - 1, transcribed."""
  initial = max_lr / div_factor
  phases = [(float(pct_start * total_steps) - 1, initial, max_lr),
            (total_steps - 1, max_lr, initial / final_div_factor)]
  out = []
  for step in range(total_steps):
    start_step = 0
    for i, (end_step, start, end) in enumerate(phases):
      if step <= end_step or i == len(phases) - 1:
        pct = (step - start_step) / (end_step - start_step)
        out.append(end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1))
        break
      start_step = end_step
  return np.array(out)


@pytest.mark.parametrize("total_steps", [100, 7, 3])
def test_onecycle_equals_pytorch_step_for_step(total_steps):
  sched = optim.make_schedule("onecycle", 0.1, total_steps)
  got = np.array([float(sched(t)) for t in range(total_steps)])
  np.testing.assert_allclose(got, torch_onecycle(0.1, total_steps), rtol=1e-5, atol=1e-12)  # float32


def test_onecycle_shape_and_why_not_optax():
  sched = optim.make_schedule("onecycle", 0.1, 100)
  values = np.array([float(sched(t)) for t in range(100)])
  assert values[0] == pytest.approx(0.1 / 25) and values[29] == pytest.approx(0.1)
  assert values[99] == pytest.approx(0.1 / 25 / 1e4)        # the last step runs at the floor
  assert np.all(np.diff(values[:30]) > 0) and np.all(np.diff(values[29:]) < 0)
  assert float(sched(150)) == pytest.approx(values[99])        # constant afterwards
  with jax.numpy_dtype_promotion("standard"):        # optax mixes bool and float32
    other = optax.cosine_onecycle_schedule(100, 0.1)
    assert float(other(30)) == pytest.approx(0.1) and float(other(29)) < 0.1  # a step later
  assert optim.OptimConfig(schedule="onecycle").schedule == "onecycle"
