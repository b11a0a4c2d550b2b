"""The ELLE study end to end at toy size: the results contract and its checks, resume without
repeating finished runs, data-dependent refusals before anything is written, and the CLI."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import pytest

from experiments import common
from jaxlab.data.config import DataConfig
from jaxlab.experiment import gates
from jaxlab.experiment.config import ConfigError
from jaxlab.models.config import ModelConfig
from jaxlab.papers import elle
from jaxlab.papers.elle import config as config_lib
from jaxlab.papers.elle import summary as summary_lib

REPO = pathlib.Path(__file__).resolve().parents[3]
TINY = dataclasses.replace(
    elle.default(), methods=("fgsm", "elle_a"), eps=(0.1, 0.2), seeds=(0,),
    dataset=DataConfig(name="digits"), model=ModelConfig(name="cnn", width=8, depth=1),
    num_epochs=2, eps_warmup_epochs=1, batch_size=128,
    curves=config_lib.CurvesConfig(examples=32, pgd_steps=2, probe_examples=32),
    evaluation=config_lib.EvaluationConfig(steps=2, restarts=2, short_steps=1))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("elle")
  return workdir, elle.run(TINY, str(workdir))


def test_results_contract(tiny_run):
  workdir, results = tiny_run
  assert results["eps"] == [0.1, 0.2] and len(results["runs"]) == 4
  assert [(r["eps"], r["method"]) for r in results["runs"]] == [
      (0.1, "fgsm"), (0.1, "elle_a"), (0.2, "fgsm"), (0.2, "elle_a")]
  for r in results["runs"]:
    assert 0.0 <= r["attacks"]["worst"] <= r["pgd_acc"] <= r["attacks"]["pgd_1"] + 1e-9
    assert r["pgd_acc"] == r["attacks"]["pgd"] and r["clean_acc"] == r["attacks"]["clean"]
    assert r["masking_ok"] == all(r["masking_checks"].values())
    assert r["co"] == (r["pgd_acc"] < 0.05 and r["final_fgsm_train_acc"] >= 0.5)
    assert "history" not in r
  cell = results["summary"]["fgsm"]["0.2"]
  (run,) = [r for r in results["runs"] if r["method"] == "fgsm" and r["eps"] == 0.2]
  assert cell["pgd_acc_mean"] == run["pgd_acc"] and cell["pgd_acc_std"] == 0.0
  assert cell["co_rate"] == float(run["co"]) and cell["n"] == 1
  assert set(results["step_cost_ratio"]) == {"elle/fgsm", "gradalign/elle", "pgd10/elle"}
  assert set(results["step_cost_ratio"].values()) == {None}  # no elle, gradalign, pgd run
  assert results["data"]["sizes"] == {"train": 1077, "val": 360, "test": 360}
  stored = json.loads((workdir / "results.json").read_text())
  assert stored["summary"] == results["summary"]
  assert stored["checks"] == results["checks"]
  for name in ("pgd_acc_vs_eps", "co_run"):
    assert (workdir / "plots" / f"{name}.png").exists()


def test_checks_follow_the_runs(tiny_run):
  _, results = tiny_run
  checks = results["checks"]
  gates.check_schema(checks)
  assert set(checks) == {"masking", "fgsm_co", "elle_no_co"}
  failing = sum(not r["masking_ok"] for r in results["runs"])
  assert checks["masking"]["value"] == failing and checks["masking"]["pass"] == (failing == 0)
  fgsm_rate = max(c["co_rate"] for c in results["summary"]["fgsm"].values())
  assert checks["fgsm_co"]["value"] == fgsm_rate and checks["fgsm_co"]["pass"] == (fgsm_rate > 0)
  elle_rate = max(c["co_rate"] for c in results["summary"]["elle_a"].values())
  assert checks["elle_no_co"]["pass"] == (elle_rate == 0) and checks["elle_no_co"]["methods"] == [
      "elle_a"]
  runs = [dict(r, masking_ok=False) if i == 0 else r for i, r in enumerate(results["runs"])]
  only_pgd = dataclasses.replace(TINY, methods=("pgd",))
  broken = summary_lib.checks(only_pgd, runs, {"pgd": {}})
  assert set(broken) == {"masking"} and not broken["masking"]["pass"]


def test_metrics_and_resume_repeat_no_run(tiny_run):
  workdir, results = tiny_run
  lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert len(lines) == 4 * 2  # runs x epochs
  assert {"method", "eps", "seed", "pgd_acc", "lin_err", "fgsm_acc"} <= set(lines[0])
  sweep_log = (workdir / "sweep.jsonl").read_text().splitlines()
  again = elle.run(TINY, str(workdir), resume=True)
  assert again["runs"] == results["runs"]  # read back, not retrained (wall_s is the same)
  assert (workdir / "sweep.jsonl").read_text().splitlines() == sweep_log
  assert len((workdir / "metrics.jsonl").read_text().splitlines()) == 8


@pytest.mark.parametrize("changes, field", [
    (dict(batch_size=2000), "batch_size"),
    (dict(curves=config_lib.CurvesConfig(examples=400)), "curves.examples"),
    (dict(curves=config_lib.CurvesConfig(probe_examples=361)), "curves.probe_examples"),
    (dict(dataset=DataConfig(name="gaussian_mixture")), "model.name"),
])
def test_data_dependent_refusals_write_nothing(tmp_path, changes, field):
  with pytest.raises(ConfigError) as e:
    elle.run(dataclasses.replace(TINY, **changes), str(tmp_path / "w"))
  assert e.value.field == field
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("flag, message", [
    ("--methods=fgsm,foo", "methods: got 'foo', expected one of: fgsm, rs_fgsm, n_fgsm, pgd"),
    ("--eps_warmup_epochs=30", "eps_warmup_epochs: must be <= num_epochs (10), got 30"),
    ("--regularizer.decay=2", "regularizer.decay: must be in [0, 1], got 2.0"),
])
def test_flags_are_rejected_with_the_field_named(flag, message):
  smoke = REPO / "experiments" / "flags" / "elle_smoke.flags"
  with pytest.raises(ConfigError) as e:
    common.config_from_args(elle.STUDY, [f"--flagfile={smoke}", flag])
  assert message in str(e.value)


def test_cli_rejects_a_bad_flag_before_any_work(tmp_path):
  # one process: the CLI turns the ConfigError above into exit status 2 and writes nothing
  smoke = REPO / "experiments" / "flags" / "elle_smoke.flags"
  proc = subprocess.run([sys.executable, "-m", "experiments.elle", f"--flagfile={smoke}",
                         "--regularizer.decay=2", f"--workdir={tmp_path / 'w'}"], cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "regularizer.decay: must be in [0, 1], got 2.0" in proc.stderr
  assert not (tmp_path / "w").exists()
