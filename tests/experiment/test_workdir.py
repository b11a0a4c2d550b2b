import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import plotting
from jaxlab.experiment.workdir import Workdir, WorkdirError


def test_new_workdir_writes_contract_files(tmp_path):
  wd = Workdir(str(tmp_path / "run"))
  wd.write_config({"lr": 0.1, "sizes": (1, 2), "seed": 3})
  wd.log(1, {"loss": jnp.float32(0.5), "acc": np.float64(0.25)})
  wd.log(2, {"loss": 0.25, "vec": jnp.arange(3)})
  wd.write_results({"test_acc": np.float32(0.75), "nan": float("nan"),
                    "inf": np.float32(-np.inf), "why": float("nan"),
                    "why_undefined": "no attack succeeded"})
  fig, ax = plotting.figure()
  ax.plot([0, 1], [1, 0])
  path = wd.save_figure(fig, "curve")

  config = json.loads((tmp_path / "run" / "config.json").read_text())
  assert config["config"] == {"lr": 0.1, "sizes": [1, 2], "seed": 3}
  assert {"jax", "flax", "optax", "numpy"} <= set(config["versions"])
  assert config["devices"]["platform"] == "cpu"
  lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
  assert [json.loads(l) for l in lines] == [{"step": 1, "loss": 0.5, "acc": 0.25},
                                            {"step": 2, "loss": 0.25, "vec": [0, 1, 2]}]
  results = wd.read_results()
  assert results["test_acc"] == 0.75 and results["nan"] is None  # strict JSON: null
  assert results["nan_undefined"] == "NaN" and results["inf"] is None  # and what it was
  assert results["inf_undefined"] == "-inf"
  assert results["why_undefined"] == "no attack succeeded"  # the producer's reason is kept
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_non_empty_workdir_is_refused(tmp_path):
  Workdir(str(tmp_path)).write_results({"a": 1})
  with pytest.raises(WorkdirError, match="is not empty.*results.json.*--overwrite"):
    Workdir(str(tmp_path))
  assert json.loads((tmp_path / "results.json").read_text()) == {"a": 1}  # untouched


def test_overwrite_clears_and_resume_keeps(tmp_path):
  wd = Workdir(str(tmp_path))
  wd.write_config({"x": 1})
  wd.log(1, {"loss": 1.0})
  resumed = Workdir(str(tmp_path), resume=True)
  assert resumed.resumed and resumed.read_metrics() == [{"step": 1, "loss": 1.0}]
  resumed.write_config({"x": 1})  # same config: accepted
  with pytest.raises(WorkdirError, match="different config.*x: stored 1, now 2"):
    Workdir(str(tmp_path), resume=True).write_config({"x": 2})
  fresh = Workdir(str(tmp_path), overwrite=True)
  assert (tmp_path / "config.json").exists()  # nothing is cleared before open()
  fresh.open()
  assert fresh.read_metrics() == [] and not (tmp_path / "config.json").exists()
  with pytest.raises(WorkdirError, match="exclude"):
    Workdir(str(tmp_path), overwrite=True, resume=True)


def test_truncate_metrics(tmp_path):
  wd = Workdir(str(tmp_path))
  for step in range(1, 6):
    wd.log(step, {"v": step})
  wd.truncate_metrics(3)
  assert [m["step"] for m in wd.read_metrics()] == [1, 2, 3]
  wd.truncate_metrics(None)
  assert wd.read_metrics() == []


def test_workdir_that_is_a_file_is_refused(tmp_path):
  f = tmp_path / "file"
  f.write_text("x")
  with pytest.raises(WorkdirError, match="not a directory"):
    Workdir(str(f))
  with pytest.raises(WorkdirError, match="required"):
    Workdir("")


def snapshot(root):
  """{relative path: bytes or 'dir' or 'link -> target'} of everything under `root`."""
  out = {}
  for dirpath, dirnames, filenames in os.walk(root):
    for name in dirnames + filenames:
      path = os.path.join(dirpath, name)
      rel = os.path.relpath(path, root)
      if os.path.islink(path):
        out[rel] = "link -> " + os.readlink(path)
      elif os.path.isdir(path):
        out[rel] = "dir"
      else:
        with open(path, "rb") as f:
          out[rel] = f.read()
  return out


def test_construction_touches_nothing(tmp_path):
  Workdir(str(tmp_path / "new"))
  Workdir(str(tmp_path / "new"), overwrite=True)
  Workdir(str(tmp_path / "new"), resume=True)
  assert not (tmp_path / "new").exists()


def test_overwrite_refuses_directories_jaxlab_did_not_create(tmp_path):
  user = tmp_path / "user"
  user.mkdir()
  (user / "notes.txt").write_text("keep")
  before = snapshot(tmp_path)
  with pytest.raises(WorkdirError, match="not created by jaxlab.*notes.txt"):
    Workdir(str(user), overwrite=True)
  with pytest.raises(WorkdirError, match="cannot --resume.*not created by jaxlab"):
    Workdir(str(user), resume=True)
  assert snapshot(tmp_path) == before


def test_overwrite_refuses_a_jaxlab_workdir_holding_a_users_file(tmp_path):
  wd = Workdir(str(tmp_path / "run"))
  wd.write_config({"x": 1})
  (tmp_path / "run" / "notes.txt").write_text("keep")
  before = snapshot(tmp_path)
  with pytest.raises(WorkdirError, match="holds notes.txt, which jaxlab did not write"):
    Workdir(str(tmp_path / "run"), overwrite=True)
  assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["cwd", "parent_of_cwd", "git", "home"])
def test_overwrite_never_clears_protected_directories(tmp_path, monkeypatch, where):
  target = tmp_path / "t"
  wd = Workdir(str(target))
  wd.write_config({"x": 1})  # a genuine jaxlab workdir, otherwise clearable
  if where == "cwd":
    monkeypatch.chdir(target)
  elif where == "parent_of_cwd":
    (target / "plots" / "sub").mkdir()
    monkeypatch.chdir(target / "plots" / "sub")
  elif where == "git":
    (target / ".git").mkdir()
  else:
    monkeypatch.setenv("HOME", str(target))
  before = snapshot(tmp_path)
  with pytest.raises(WorkdirError, match="--overwrite refuses to clear"):
    Workdir("." if where == "cwd" else str(target), overwrite=True)
  assert snapshot(tmp_path) == before


def test_overwrite_of_the_repository_is_refused(repo_root):
  with pytest.raises(WorkdirError, match="--overwrite refuses to clear"):
    Workdir(repo_root, overwrite=True)


def test_symlinked_workdir_is_resolved_and_the_link_kept(tmp_path):
  real = tmp_path / "real"
  link = tmp_path / "link"
  wd = Workdir(str(real))
  wd.write_config({"x": 1})
  wd.log(1, {"loss": 1.0})
  os.symlink(real, link)
  outside = tmp_path / "outside.txt"
  outside.write_text("keep")
  os.symlink(outside, real / "plots" / "points_outside")
  fresh = Workdir(str(link), overwrite=True)
  assert fresh.path == str(real)
  fresh.write_config({"x": 2})
  assert os.path.islink(link) and os.path.realpath(link) == str(real)
  assert fresh.read_config()["config"] == {"x": 2} and fresh.read_metrics() == []
  assert outside.read_text() == "keep"  # links inside are removed, never followed


def test_written_files_are_group_readable(tmp_path):
  wd = Workdir(str(tmp_path / "run"))
  wd.write_config({"x": 1})
  wd.log(1, {"loss": 1.0})
  wd.write_results({"a": 1})
  for name in ("config.json", "metrics.jsonl", "results.json"):
    assert os.stat(tmp_path / "run" / name).st_mode & 0o044 == 0o044, name
