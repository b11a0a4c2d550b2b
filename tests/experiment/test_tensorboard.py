"""--tensorboard writes the logged metrics as TensorBoard scalars (tensorboardX, no
TensorFlow), equal to metrics.jsonl."""

import glob
import json
import struct

import pytest

pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

from jaxlab import train_classifier  # noqa: E402  pylint: disable=wrong-import-position
from jaxlab.experiment import Workdir, config  # noqa: E402  pylint: disable=wrong-import-position


def read_scalars(logdir):
  """{tag: {step: value}} from the event files (TFRecord framing: length, crc, data, crc)."""
  out = {}
  for path in glob.glob(f"{logdir}/events.out.tfevents.*"):
    with open(path, "rb") as f:
      data = f.read()
    pos = 0
    while pos < len(data):
      (length,) = struct.unpack("<Q", data[pos:pos + 8])
      event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
      pos += 12 + length + 4
      for value in event.summary.value:
        out.setdefault(value.tag, {})[event.step] = value.simple_value
  return out


def test_tensorboard_scalars_equal_the_metrics(tmp_path):
  cfg = config.override(train_classifier.smoke(), {"num_epochs": 3, "model.width": 16})
  wd = Workdir(str(tmp_path / "run"), tensorboard=True)
  train_classifier.run(cfg, wd)
  scalars = read_scalars(str(tmp_path / "run" / "tensorboard"))
  metrics = [json.loads(line) for line in
             (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  assert sorted(scalars["val_acc"]) == [1, 2, 3]
  for m in metrics:
    assert scalars["train_loss"][m["step"]] == pytest.approx(m["train_loss"], rel=1e-6)
    assert scalars["val_acc"][m["step"]] == pytest.approx(m["val_acc"], rel=1e-6)
