"""End-to-end tests of the command-line entry points, run as a user would run them."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
  assert config["config"]["dataset"]["name"] == "digits" and config["config"]["seed"] == 0
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
    ("--learning_rate=abc", "--optim.learning_rate=abc: could not convert"),
    ("--dataset=cifar11", "--dataset.name: unknown dataset 'cifar11'; valid datasets: digits"),
    ("--model=resnet", "--model.name: got 'resnet', expected one of: mlp, cnn, vit"),
    ("--num_epochs=0", "--num_epochs: must be >= 1"),
    ("--dataset=tfds:mnist", "--dataset.data_dir: tfds:mnist needs a directory"),
    ("--learning_rate=inf", "--optim.learning_rate: must be finite"),
    ("--config=nope", "--config"),
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
  assert "--optim.learning_rate: peak learning rate." in proc.stdout
  assert "--learning_rate: Alias for --optim.learning_rate." in proc.stdout
  assert "--config: <default|smoke|cifar10>" in proc.stdout
  assert "--[no]resume" in proc.stdout and "--workdir" in proc.stdout


def tree(root):
  """{relative path: bytes or 'dir'} of everything under `root`."""
  out = {}
  for dirpath, dirnames, filenames in os.walk(root):
    for name in dirnames:
      out[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
    for name in filenames:
      path = os.path.join(dirpath, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  """A finished one-epoch train_classifier workdir."""
  from jaxlab import train_classifier  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp("finished") / "done"
  train_classifier.run(config_with(num_epochs=1), str(path))
  return path


def config_with(**changes):
  """The smoke config with a width-32 MLP and `changes` (dotted paths, as on the command
  line)."""
  from jaxlab import train_classifier  # pylint: disable=g-import-not-at-top
  from jaxlab.experiment import config as config_lib  # pylint: disable=g-import-not-at-top
  return config_lib.override(train_classifier.smoke(), {"model.width": 32, **changes})


@pytest.mark.parametrize("changes, message", [
    ({"dataset.name": "tfds:mnist", "dataset.data_dir": "/nonexistent/tfds"},
     "dataset.data_dir"),                                           # data missing
    ({"batch_size": 100000}, "batch_size: must be <= the"),          # needs the data's size
    ({"dataset.name": "gaussian_mixture", "model.name": "cnn"}, "model.name: cnn needs images"),
    ({"model.name": "vit", "model.patch_size": 3}, "patch_size: must divide the image sides"),
])
def test_refused_runs_leave_the_file_system_as_they_found_it(tmp_path, finished_run, changes,
                                                             message):
  """Each data-dependent refusal, on a new workdir, on a finished jaxlab workdir with
  --overwrite and --resume: the error names the flag; nothing is created, changed or
  deleted."""
  import shutil  # pylint: disable=g-import-not-at-top
  from jaxlab import train_classifier  # pylint: disable=g-import-not-at-top
  from jaxlab.experiment import ConfigError, Workdir  # pylint: disable=g-import-not-at-top
  done = tmp_path / "done"
  shutil.copytree(finished_run, done)
  before = tree(tmp_path)
  config = config_with(num_epochs=1, **changes)
  for path, mode in [(tmp_path / "new", {}), (done, {"overwrite": True}),
                     (done, {"resume": True})]:
    with pytest.raises(ConfigError, match=message):
      train_classifier.run(config, Workdir(str(path), **mode))
    assert tree(tmp_path) == before, (path, mode)


def test_overwrite_never_deletes_a_users_files_or_the_checkout(tmp_path):
  user = tmp_path / "x"
  user.mkdir()
  (user / "notes.txt").write_text("keep")
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", f"--workdir={user}",
                    "--overwrite", "--seed=-3", timeout=120)  # the reported reproduction
  assert proc.returncode == 2 and "--seed: seeds are integers" in proc.stderr, proc.stderr
  assert (user / "notes.txt").read_text() == "keep" and os.listdir(user) == ["notes.txt"]
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", f"--workdir={user}",
                    "--overwrite", timeout=120)
  assert proc.returncode == 2 and "not created by jaxlab" in proc.stderr, proc.stderr[-2000:]
  assert (user / "notes.txt").read_text() == "keep"
  listing = sorted(os.listdir(REPO))
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", "--workdir=.",
                    "--overwrite", timeout=120)
  assert proc.returncode == 2 and "--overwrite refuses to clear" in proc.stderr
  assert sorted(os.listdir(REPO)) == listing
  link = tmp_path / "link"
  os.symlink(user, link)
  proc = run_module("experiments.train_classifier", f"--flagfile={SMOKE}", f"--workdir={link}",
                    "--overwrite", timeout=120)
  assert proc.returncode == 2 and "not created by jaxlab" in proc.stderr, proc.stderr[-2000:]
  assert (user / "notes.txt").read_text() == "keep" and os.path.islink(link)


def test_overwrite_replaces_a_finished_jaxlab_run(tmp_path):
  args = [f"--flagfile={SMOKE}", "--num_epochs=1", f"--workdir={tmp_path / 'run'}"]
  assert run_module("experiments.train_classifier", *args).returncode == 0
  again = run_module("experiments.train_classifier", *args, "--overwrite", "--num_epochs=2")
  assert again.returncode == 0, again.stderr[-2000:]
  config = json.loads((tmp_path / "run" / "config.json").read_text())
  assert config["config"]["num_epochs"] == 2
  assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
