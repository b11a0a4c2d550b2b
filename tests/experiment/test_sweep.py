import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxlab.experiment import sweep


def test_expand_grid_order_and_base():
  points = sweep.expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}, base={"c": 0})
  assert len(points) == 6
  assert points[0] == {"c": 0, "a": 1, "b": "x"} and points[1] == {"c": 0, "a": 1, "b": "y"}
  with pytest.raises(ValueError, match="non-empty list"):
    sweep.expand_grid({"a": []})
  with pytest.raises(ValueError, match="non-empty list"):
    sweep.expand_grid({"a": "abc"})


def test_point_id_is_stable_and_order_free():
  assert sweep.point_id({"a": 1, "b": 2}) == sweep.point_id({"b": 2, "a": 1})
  assert sweep.point_id({"a": 1}) != sweep.point_id({"a": 2})
  assert len(sweep.point_id({"a": 1})) == 12


def _square(point, calls_dir=None, fail_on=None):
  if calls_dir:
    with open(os.path.join(calls_dir, f"{point['x']}-{len(os.listdir(calls_dir))}"), "w"):
      pass
  if fail_on is not None and point["x"] == fail_on:
    raise RuntimeError("boom")
  return {"y": point["x"] ** 2}


def test_interrupted_sweep_resumes_without_rerunning(tmp_path):
  calls = tmp_path / "calls"
  calls.mkdir()
  points = sweep.expand_grid({"x": [0, 1, 2, 3, 4]})
  out = str(tmp_path / "sweep")
  with pytest.raises(sweep.SweepError, match="1 of 5 points failed"):
    sweep.run_sweep(lambda p: _square(p, str(calls), fail_on=2), points, out)
  assert sorted(sweep.read_log(out)) == sorted(sweep.point_id(p) for p in points if p["x"] != 2)
  records = sweep.run_sweep(lambda p: _square(p, str(calls)), points, out)
  assert [r["result"]["y"] for r in records] == [0, 1, 4, 9, 16]
  ran = sorted(name.split("-")[0] for name in os.listdir(calls))
  assert ran == ["0", "1", "2", "2", "3", "4"]  # only the failed point ran twice
  # A third call runs nothing and returns the same records.
  assert sweep.run_sweep(lambda p: _square(p, str(calls)), points, out) == records
  assert len(os.listdir(calls)) == 6


def test_torn_last_line_is_ignored(tmp_path):
  sweep.run_sweep(_square, [{"x": 1}], str(tmp_path))
  with open(tmp_path / sweep.SWEEP_LOG, "a") as f:
    f.write('{"id": "abc", "poi')  # killed mid-write
  assert list(sweep.read_log(str(tmp_path))) == [sweep.point_id({"x": 1})]


def test_process_pool_runner(tmp_path):
  points = sweep.expand_grid({"x": [1, 2, 3]})
  records = sweep.run_sweep(_square, points, str(tmp_path), runner=sweep.ProcessPoolRunner(2))
  assert [r["result"]["y"] for r in records] == [1, 4, 9]
  assert all(r["wall_s"] >= 0 for r in records)


def test_sweep_cli_runs_points_and_resumes(tmp_path):
  flagfile = os.path.join(REPO, "experiments", "flags", "train_classifier_smoke.flags")
  args = [sys.executable, "-m", "experiments.sweep", "--experiment=train_classifier",
          f"--base_flagfile={flagfile}", "--grid=num_epochs=1;seed=0,1",
          f"--workdir={tmp_path / 's'}"]
  proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "s" / "results.json").read_text())
  assert [p["point"] for p in results["points"]] == [{"num_epochs": "1", "seed": "0"},
                                                    {"num_epochs": "1", "seed": "1"}]
  assert all(0.0 <= p["result"]["test_acc"] <= 1.0 for p in results["points"])
  refused = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300,
                           check=False)
  assert refused.returncode != 0 and "--resume" in refused.stderr
  resumed = subprocess.run(args + ["--resume"], cwd=REPO, capture_output=True, text=True,
                           timeout=300, check=False)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "2 finished before, 0 to run" in resumed.stderr
  bad = subprocess.run(args[:-2] + ["--grid=seed", f"--workdir={tmp_path / 't'}"], cwd=REPO,
                       capture_output=True, text=True, timeout=120, check=False)
  assert bad.returncode == 2 and "--grid: cannot parse 'seed'" in bad.stderr
