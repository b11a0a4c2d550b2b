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
    sweep.run_sweep(lambda p: _square(p, str(calls), fail_on=2), points, out, retries=0)
  assert sorted(sweep.finished(sweep.read_log(out))) == sorted(
      sweep.point_id(p) for p in points if p["x"] != 2)
  failed = sweep.read_log(out)[sweep.point_id({"x": 2})]
  assert failed["error"] == "RuntimeError('boom')" and "result" not in failed
  records = sweep.run_sweep(lambda p: _square(p, str(calls)), points, out)
  assert [r["result"]["y"] for r in records] == [0, 1, 4, 9, 16]
  ran = sorted(name.split("-")[0] for name in os.listdir(calls))
  assert ran == ["0", "1", "2", "2", "3", "4"]  # only the failed point ran twice
  # A third call runs nothing and returns the same records.
  assert sweep.run_sweep(lambda p: _square(p, str(calls)), points, out) == records
  assert len(os.listdir(calls)) == 6


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path):
  sweep.run_sweep(_square, [{"x": 1}], str(tmp_path))
  with open(tmp_path / sweep.SWEEP_LOG, "a") as f:
    f.write('{"id": "abc", "poi' + "x" * 9000)  # killed mid-write of a large record
  assert list(sweep.read_log(str(tmp_path))) == [sweep.point_id({"x": 1})]
  records = sweep.run_sweep(_square, [{"x": 1}, {"x": 2}], str(tmp_path))
  assert [r["result"]["y"] for r in records] == [1, 4]
  lines = (tmp_path / sweep.SWEEP_LOG).read_text().splitlines()
  assert [json.loads(line)["point"]["x"] for line in lines] == [1, 2]  # nothing lost


def test_failed_point_is_retried_then_recorded(tmp_path):
  calls = tmp_path / "calls"
  calls.mkdir()
  with pytest.raises(sweep.SweepError, match="1 of 2 points failed"):
    sweep.run_sweep(lambda p: _square(p, str(calls), fail_on=2), [{"x": 1}, {"x": 2}],
                    str(tmp_path / "s"), retries=1)
  assert sorted(name.split("-")[0] for name in os.listdir(calls)) == ["1", "2", "2"]


def test_process_pool_runner(tmp_path):
  points = sweep.expand_grid({"x": [1, 2, 3]})
  records = sweep.run_sweep(_square, points, str(tmp_path), runner=sweep.ProcessPoolRunner(2))
  assert [r["result"]["y"] for r in records] == [1, 4, 9]
  assert all(r["wall_s"] >= 0 for r in records)


def _sweep_args(tmp_path, grid, name="s", base=None):
  flagfile = base or os.path.join(REPO, "experiments", "flags", "train_classifier_smoke.flags")
  return [sys.executable, "-m", "experiments.sweep", "--experiment=train_classifier",
          f"--base_flagfile={flagfile}", f"--grid={grid}", f"--workdir={tmp_path / name}"]


def _run(args, timeout=300):
  return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                        check=False)


def test_sweep_cli_runs_points_resumes_and_reports(tmp_path):
  args = _sweep_args(tmp_path, "num_epochs=1;seed=0,1")
  proc = _run(args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((tmp_path / "s" / "results.json").read_text())
  assert [p["point"] for p in results["points"]] == [{"num_epochs": "1", "seed": "0"},
                                                    {"num_epochs": "1", "seed": "1"}]
  accs = [p["result"]["test_acc"] for p in results["points"]]
  assert all(0.0 <= a <= 1.0 for a in accs)
  report = json.loads((tmp_path / "s" / "report.json").read_text())
  (row,) = report["rows"]  # the two seeds are one setting
  assert row["group"] == {"num_epochs": "1"} and row["n"] == 2
  assert abs(row["metrics"]["test_acc"]["mean"] - sum(accs) / 2) < 1e-12
  assert (tmp_path / "s" / "plots" / "sweep.png").exists()
  assert sorted(os.listdir(tmp_path / "s" / "runs"))[0].startswith("num_epochs=1,seed=0-")
  refused = _run(args)
  assert refused.returncode != 0 and "--resume" in refused.stderr
  resumed = _run(args + ["--resume"])
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "2 finished before, 0 to run" in resumed.stderr
  report_cli = _run([sys.executable, "-m", "experiments.sweep_report", str(tmp_path / "s")])
  assert report_cli.returncode == 0 and "| num_epochs | seeds |" in report_cli.stdout


@pytest.mark.parametrize("grid, message", [
    ("seed", "--grid: cannot parse 'seed'"),
    ("learning_rate=-1,1e-3", "--grid: point learning_rate=-1: --optim.learning_rate: must be > 0"),
    ("nope=1,2", "--grid: point nope=1: Unknown command line flag 'nope'"),
    ("seed=0,-1", "--grid: point seed=-1: --seed: seeds are integers"),
])
def test_every_grid_value_is_checked_before_any_point_runs(tmp_path, grid, message):
  proc = _run(_sweep_args(tmp_path, grid), timeout=120)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
  assert not (tmp_path / "s").exists()


def test_resume_refuses_an_edited_base_flagfile(tmp_path):
  base = tmp_path / "base.flags"
  base.write_text("--config=smoke\n--num_epochs=1\n")
  args = _sweep_args(tmp_path, "seed=0", base=str(base))
  assert _run(args).returncode == 0
  base.write_text("--config=smoke\n--num_epochs=2\n")
  proc = _run(args + ["--resume"])
  assert proc.returncode == 2 and "different config" in proc.stderr
  assert "base_config.num_epochs: stored 1, now 2" in proc.stderr, proc.stderr[-2000:]


def test_killed_driver_takes_its_point_with_it_and_resume_finishes(tmp_path):
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  args = _sweep_args(tmp_path, "num_epochs=30;seed=0")
  driver = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  runs = tmp_path / "s" / "runs"
  def training():
    return runs.exists() and any((d / "metrics.jsonl").exists() for d in runs.iterdir())

  deadline = time.time() + 600
  while time.time() < deadline and not training():
    time.sleep(0.2)  # until the first point is training (past its start-up)
  assert training(), "the point did not start training within 600 s"
  children = subprocess.run(["pgrep", "-P", str(driver.pid)], capture_output=True,
                            text=True, check=False).stdout.split()
  assert children, "the point's process should still be training"
  driver.send_signal(signal.SIGKILL)
  driver.wait()
  def alive(pid):  # neither gone nor a zombie (a big process takes a moment to exit)
    try:
      with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"
    except FileNotFoundError:
      return False

  deadline = time.time() + 60
  while time.time() < deadline and any(alive(pid) for pid in children):
    time.sleep(0.2)
  assert not any(alive(pid) for pid in children)  # the point's process died with the driver
  resumed = _run(args + ["--resume"], timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  results = json.loads((tmp_path / "s" / "results.json").read_text())
  assert [p["point"] for p in results["points"]] == [{"num_epochs": "30", "seed": "0"}]
  assert "0 finished before, 1 to run" in resumed.stderr, resumed.stderr[-2000:]
