import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import plotting
from jaxlab.workdir import Workdir, WorkdirError


def test_new_workdir_writes_contract_files(tmp_path):
  wd = Workdir(str(tmp_path / "run"))
  wd.write_config({"lr": 0.1, "sizes": (1, 2), "seed": 3})
  wd.log(1, {"loss": jnp.float32(0.5), "acc": np.float64(0.25)})
  wd.log(2, {"loss": 0.25, "vec": jnp.arange(3)})
  wd.write_results({"test_acc": np.float32(0.75), "nan": float("nan")})
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
  assert results["test_acc"] == 0.75 and math.isnan(results["nan"])
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
