"""Fault injection: a run SIGKILLed in the middle of a write (metrics append, checkpoint,
results JSON, sweep record) at points drawn by a seeded schedule resumes to exactly the
uninterrupted run's results (every key except wall-clock)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_driver.py")
FLAGS = os.path.join(REPO, "experiments", "flags")


def _run(args, timeout=600):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout, check=False, env=env)


def _strip(value):
  """results.json without the keys that legitimately differ between runs (wall clock)."""
  if isinstance(value, dict):
    return {k: _strip(v) for k, v in value.items()
            if not (k.endswith("_s") or k in ("wall_s", "seconds", "dir"))}
  if isinstance(value, list):
    return [_strip(v) for v in value]
  return value


def _killed_then_resumed(tmp_path, name, event, n, module, flags):
  """Runs `module` killed at the n-th `event`, checks it died by SIGKILL, then resumes
  (again and again, as a user would) until it finishes; returns the results."""
  workdir = str(tmp_path / name)
  killed = _run([DRIVER, event, str(n), module, *flags, f"--workdir={workdir}"])
  assert killed.returncode == -signal.SIGKILL, (event, n, killed.stderr[-3000:])
  resumed = _run(["-m", module, *flags, f"--workdir={workdir}", "--resume"])
  assert resumed.returncode == 0, (event, n, resumed.stderr[-3000:])
  with open(os.path.join(workdir, "results.json")) as f:
    return json.load(f)


def _schedule(seed, events, high):
  """(event, n) pairs drawn from a seeded generator: where each kill happens."""
  rng = np.random.default_rng(seed)
  return [(event, int(rng.integers(1, high + 1))) for event in events]


CLASSIFIER = [f"--flagfile={FLAGS}/train_classifier_smoke.flags", "--num_epochs=4",
              "--model.width=32"]


@pytest.fixture(scope="module")
def classifier_reference(tmp_path_factory):
  return CLASSIFIER, _reference(tmp_path_factory, "experiments.train_classifier", CLASSIFIER)


@pytest.mark.parametrize("event, n", _schedule(0, ["jsonl", "checkpoint", "json"], 4))
def test_training_killed_mid_write_resumes_to_the_same_results(tmp_path, classifier_reference,
                                                               event, n):
  flags, reference = classifier_reference
  if event == "json":
    n = min(n, 2)  # config.json (1) and results.json (2) are the JSON writes of this run
  results = _killed_then_resumed(tmp_path, "clf", event, n, "experiments.train_classifier",
                                 flags)
  assert _strip(results) == _strip(reference)
  metrics = (tmp_path / "clf" / "metrics.jsonl").read_text().splitlines()
  assert [json.loads(line)["step"] for line in metrics] == [1, 2, 3, 4]


def _reference(tmp_path_factory, module, flags):
  workdir = tmp_path_factory.mktemp("ref") / "run"
  proc = _run(["-m", module, *flags, f"--workdir={workdir}"])
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(workdir / "results.json") as f:
    return json.load(f)


SWEEP = ["--experiment=train_classifier", f"--base_flagfile={FLAGS}/train_classifier_smoke.flags",
         "--grid=num_epochs=1;model.width=16;seed=0,1"]
CHARMER = [f"--flagfile={FLAGS}/charmer_smoke.flags", "--num_examples=4", "--k=1",
           "--attacks=charmer,random"]


@pytest.fixture(scope="module")
def sweep_reference(tmp_path_factory):
  return _reference(tmp_path_factory, "experiments.sweep", SWEEP)


@pytest.fixture(scope="module")
def charmer_reference(tmp_path_factory):
  return _reference(tmp_path_factory, "experiments.charmer", CHARMER)


@pytest.mark.parametrize("event, n", _schedule(1, ["sweep", "json"], 2))
def test_sweep_killed_mid_record_resumes_without_losing_finished_points(tmp_path,
                                                                        sweep_reference,
                                                                        event, n):
  flags, reference = SWEEP, sweep_reference
  results = _killed_then_resumed(tmp_path, "s", event, n, "experiments.sweep", flags)
  assert _strip(results["points"]) == _strip(reference["points"])
  assert _strip(results["report"]) == _strip(reference["report"])
  lines = (tmp_path / "s" / "sweep.jsonl").read_text().splitlines()
  assert len({json.loads(line)["id"] for line in lines}) == 2  # each point recorded, none lost


@pytest.mark.parametrize("event, n", _schedule(2, ["jsonl", "json"], 6))
def test_study_with_finished_part_records_resumes_to_the_same_results(tmp_path,
                                                                      charmer_reference,
                                                                      event, n):
  """Charmer records every attacked sentence (attacks.jsonl) and trains its victim with
  checkpoints: killed in either, it resumes to the uninterrupted results."""
  flags, reference = CHARMER, charmer_reference
  if event == "json":
    n = min(n, 3)
  results = _killed_then_resumed(tmp_path, "c", event, n, "experiments.charmer", flags)
  assert _strip(results) == _strip(reference)
