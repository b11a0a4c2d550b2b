"""A TensorBoard sink for the metrics a run logs (extra `tensorboard`: tensorboardX, no
TensorFlow).

  sink = ScalarWriter("runs/clf/tensorboard")
  sink(3, {"train_loss": 0.4, "val_acc": 0.9, "phase": "train"})   # numbers become scalars
  sink.close()

`Workdir(..., tensorboard=True)` (the entry points' `--tensorboard`) writes every
`Workdir.log(step, metrics)` line here too: `tensorboard --logdir DIR/tensorboard`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping


class ScalarWriter:
  """Writes the finite numeric values of each metrics dict as TensorBoard scalars."""

  def __init__(self, logdir: str):
    try:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ImportError("--tensorboard needs tensorboardX: python -m pip install -e "
                        "'.[tensorboard]'") from e
    self._writer = SummaryWriter(logdir=logdir)

  def __call__(self, step: int, metrics: Mapping[str, Any]) -> None:
    for name, value in metrics.items():
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        continue
      if math.isfinite(value):
        self._writer.add_scalar(name, value, global_step=step)
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
