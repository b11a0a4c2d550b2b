"""The Ray sweep runner with a real local Ray (2 CPUs, started and stopped here): the same
records as the serial and process-pool runners, failures recorded while the rest finish, and a
killed driver resumed without losing a finished point."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from jaxlab.experiment import sweep

ray = pytest.importorskip("ray")
from jaxlab.experiment.ray_runner import RayRunner  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def square(point):
  if point["x"] == 3:
    raise RuntimeError("three is not allowed")
  return {"y": point["x"] ** 2, "pid": os.getpid()}


@pytest.fixture(scope="module")
def local_ray():
  here = os.path.dirname(os.path.abspath(__file__))  # workers import this module's functions
  ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
           runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([here, REPO])}})
  yield
  ray.shutdown()


def test_ray_records_equal_the_serial_and_process_pool_ones(tmp_path, local_ray):
  points = sweep.expand_grid({"x": [0, 1, 2, 4]})
  by_runner = {}
  for name, runner in [("serial", sweep.SerialRunner()), ("pool", sweep.ProcessPoolRunner(2)),
                       ("ray", RayRunner())]:
    records = sweep.run_sweep(square, points, str(tmp_path / name), runner=runner)
    by_runner[name] = [(r["id"], r["point"], r["result"]["y"]) for r in records]
  assert by_runner["serial"] == by_runner["pool"] == by_runner["ray"]
  assert [y for _, _, y in by_runner["ray"]] == [0, 1, 4, 16]


def test_a_failing_point_is_retried_then_recorded_and_the_rest_finish(tmp_path, local_ray):
  points = sweep.expand_grid({"x": [1, 2, 3, 4]})
  with pytest.raises(sweep.SweepError, match="1 of 4 points failed"):
    sweep.run_sweep(square, points, str(tmp_path), runner=RayRunner(), retries=1)
  log = sweep.read_log(str(tmp_path))
  assert sorted(r["result"]["y"] for r in sweep.finished(log).values()) == [1, 4, 16]
  assert "three is not allowed" in log[sweep.point_id({"x": 3})]["error"]


def _sweep(tmp_path, runner, name):
  flagfile = os.path.join(REPO, "experiments", "flags", "train_classifier_smoke.flags")
  return [sys.executable, "-m", "experiments.sweep", "--experiment=train_classifier",
          f"--base_flagfile={flagfile}", "--grid=num_epochs=2;model.width=16;seed=0,1",
          f"--runner={runner}", f"--workdir={tmp_path / name}"]


def test_cli_ray_sweep_matches_serial_and_survives_a_killed_driver(tmp_path):
  serial = subprocess.run(_sweep(tmp_path, "local", "serial"), cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)
  assert serial.returncode == 0, serial.stderr[-3000:]
  args = _sweep(tmp_path, "ray", "ray")
  driver = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  log = tmp_path / "ray" / sweep.SWEEP_LOG
  deadline = time.time() + 600
  while time.time() < deadline and not (log.exists() and log.read_text().count("\n") >= 1):
    time.sleep(0.5)  # until the first point is recorded
  driver.send_signal(signal.SIGKILL)
  driver.wait()
  assert log.exists(), "no point finished within 600 s"
  finished_before = {json.loads(line)["id"] for line in log.read_text().splitlines()}
  assert finished_before
  resumed = subprocess.run(args + ["--resume"], cwd=REPO, capture_output=True, text=True,
                           timeout=600, check=False)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  ray_points = json.loads((tmp_path / "ray" / "results.json").read_text())["points"]
  serial_points = json.loads((tmp_path / "serial" / "results.json").read_text())["points"]
  assert [p["id"] for p in ray_points] == [p["id"] for p in serial_points]
  for a, b in zip(ray_points, serial_points):
    assert a["result"]["test_acc"] == b["result"]["test_acc"]
    assert a["result"]["train_loss"] == b["result"]["train_loss"]
  assert finished_before <= {p["id"] for p in ray_points}
