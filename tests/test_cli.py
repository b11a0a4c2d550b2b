"""End-to-end tests of the command-line entry points, run as a user would run them."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

SMOKE = os.path.join(REPO, "experiments", "flags", "train_classifier_smoke.flags")


def run_module(module, *args, timeout=300):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                        text=True, timeout=timeout, check=False)


def test_smoke_run_refusal_and_reproducibility(tmp_path):
  first = run_module("experiments.train_classifier", f"--flagfile={SMOKE}",
                     f"--workdir={tmp_path / 'a'}")
  assert first.returncode == 0, first.stderr[-3000:]
  for name in ("config.json", "metrics.jsonl", "results.json", "plots/curves.png"):
    assert (tmp_path / "a" / name).exists(), name
  results = json.loads((tmp_path / "a" / "results.json").read_text())
  assert results["test_acc"] >= 0.9
  assert {"test_acc", "val_acc", "train_loss", "num_params", "wall_s"} <= set(results)
  config = json.loads((tmp_path / "a" / "config.json").read_text())
  assert config["config"]["dataset"] == "digits" and config["config"]["seed"] == 0
  assert "jax" in config["versions"]
  assert len((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()) == 10

  again = run_module("experiments.train_classifier", f"--flagfile={SMOKE}",
                     f"--workdir={tmp_path / 'a'}")
  assert again.returncode != 0
  assert "is not empty" in again.stderr and "--overwrite" in again.stderr
  assert json.loads((tmp_path / "a" / "results.json").read_text()) == results  # untouched

  other = run_module("experiments.train_classifier", f"--flagfile={SMOKE}",
                     f"--workdir={tmp_path / 'b'}")
  assert other.returncode == 0, other.stderr[-3000:]
  assert json.loads((tmp_path / "b" / "results.json").read_text())["test_acc"] == \
      results["test_acc"]


@pytest.mark.parametrize("flag, message", [
    ("--learning_rate=abc", "--learning_rate"),
    ("--dataset=cifar11", "--dataset: unknown dataset 'cifar11'; valid datasets: digits"),
    ("--model=resnet", "--model: got 'resnet', expected one of: mlp, cnn, vit"),
    ("--num_epochs=0", "--num_epochs: must be >= 1"),
    ("--dataset=tfds:mnist", "--data_dir: tfds:mnist needs a directory"),
])
def test_bad_flags_fail_fast_naming_the_flag(tmp_path, flag, message):
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", flag,
                    f"--workdir={tmp_path / 'w'}", timeout=120)
  assert proc.returncode != 0
  assert message in proc.stderr, proc.stderr[-2000:]
  assert not (tmp_path / "w" / "results.json").exists()


def test_missing_workdir_and_positional_arguments():
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", timeout=120)
  assert proc.returncode == 2 and "--workdir is required" in proc.stderr
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", "--workdir=/tmp/x",
                    "extra", timeout=120)
  assert proc.returncode == 2 and "unexpected positional arguments" in proc.stderr


def test_helpshort_lists_the_config_flags():
  proc = run_module("experiments.train_classifier", "--helpshort", timeout=120)
  assert "--learning_rate: peak learning rate." in proc.stdout
  assert "--[no]resume" in proc.stdout and "--workdir" in proc.stdout
