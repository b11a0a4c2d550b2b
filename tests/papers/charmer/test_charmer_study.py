"""The Charmer study end to end at toy size: the CLI contract, resume without redoing finished
sentences, reuse of trained victims (and refusal of mismatched ones before anything is
written), and the targets as checks."""

import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from jaxlab.experiment.config import ConfigError
from jaxlab.experiment.workdir import Workdir, WorkdirError
from jaxlab.papers import charmer
from jaxlab.text.victim import VictimConfig

REPO = pathlib.Path(__file__).resolve().parents[3]
TINY_CNN = VictimConfig(model="cnn", embed_dim=8, filters=8, hidden=8, num_epochs=1,
                        batch_size=32)
TINY = dict(victims=("cnn",), train_examples=300, cnn=TINY_CNN, k=(1, 2), num_examples=6,
            show_examples=1)
TINY_FLAGS = ["--victims=cnn", "--train_examples=300", "--cnn.embed_dim=8", "--cnn.filters=8",
              "--cnn.hidden=8", "--cnn.num_epochs=1", "--cnn.batch_size=32", "--k=1,2",
              "--num_examples=6", "--show_examples=1"]
SUMMARY_KEYS = {"asr", "mean_lev", "max_lev", "mean_queries", "mean_similarity", "wall_s"}
DETERMINISTIC = ("asr", "mean_lev", "max_lev", "mean_queries", "mean_similarity", "num_attacked")


def run_module(module, *args, timeout=600):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                        text=True, timeout=timeout, check=False)


def _deterministic(results, attacks=None):
  """The seeded part of the results (not wall times)."""
  return [(r["victim"], r["k"], r["clean_acc"], r["num_attacked"],
           {a: {m: s[m] for m in DETERMINISTIC} for a, s in r["attacks"].items()
            if attacks is None or a in attacks})
          for r in results["runs"]]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  """One CLI run at toy size (shared by the tests below)."""
  workdir = tmp_path_factory.mktemp("charmer") / "a"
  proc = run_module("experiments.charmer", *TINY_FLAGS, f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir, proc


def test_cli_writes_the_contract_outputs(first_run):
  workdir, proc = first_run
  for name in ("config.json", "metrics.jsonl", "results.json", "attacks.jsonl",
               "plots/asr_vs_k.png", "victims/cnn/params", "victims/cnn/results.json"):
    assert (workdir / name).exists(), name
  config = json.loads((workdir / "config.json").read_text())["config"]
  assert config["cnn"]["filters"] == 8 and config["cnn"]["optim"]["learning_rate"] == 2e-3
  results = json.loads((workdir / "results.json").read_text())
  assert results["k"] == 2 and results["victim"] == "cnn"
  assert set(results["attacks"]) == {"charmer", "exhaustive", "random", "deepwordbug"}
  assert [(r["victim"], r["k"]) for r in results["runs"]] == [("cnn", 1), ("cnn", 2)]
  for run in results["runs"]:
    assert run["num_attacked"] == round(run["clean_acc"] * 6)
    for name, s in run["attacks"].items():
      assert SUMMARY_KEYS <= set(s), name
      assert s["max_lev"] <= run["k"] and s["num_attacked"] == run["num_attacked"]
      assert 0.0 <= s["asr"] <= 1.0
      assert (s["mean_lev"] is None) == (s["num_success"] == 0)  # strict JSON: no NaN
  # ASR can only grow with the budget for the greedy attacks read off one trajectory.
  by_k = {r["k"]: r["attacks"] for r in results["runs"]}
  for name in ("charmer", "exhaustive", "random"):
    assert by_k[1][name]["asr"] <= by_k[2][name]["asr"]
  # One check per target and (victim, k), each in the one schema, agreeing with its row.
  for row in results["targets"]:
    prefix = f"cnn_k{row['k']}"
    ratio = results["checks"][f"{prefix}_queries_exhaustive_over_charmer"]
    assert ratio["value"] == row["query_ratio_exhaustive_over_charmer"]
    assert ratio["pass"] == (ratio["value"] >= 5)
    names = [n for n in results["checks"] if n.startswith(prefix)]
    assert len(names) == 4 and row["met"] == all(results["checks"][n]["pass"] for n in names)
  records = [json.loads(line) for line in (workdir / "attacks.jsonl").read_text().splitlines()]
  # 3 greedy attacks once at k = 2, deepwordbug at k = 1 and k = 2: 5 x 6 sentences.
  assert len(records) == 30
  assert "adversarial example" in proc.stderr or results["attacks"]["charmer"]["asr"] == 0


def test_cli_refuses_a_non_empty_workdir(first_run):
  workdir, _ = first_run
  proc = run_module("experiments.charmer", *TINY_FLAGS, f"--workdir={workdir}", timeout=120)
  assert proc.returncode != 0 and "is not empty" in proc.stderr


def test_resume_redoes_only_the_missing_sentences(first_run, tmp_path):
  workdir, _ = first_run
  results = json.loads((workdir / "results.json").read_text())
  copy = tmp_path / "b"
  shutil.copytree(workdir, copy)  # then cut to a run killed while writing its 16th record
  lines = (copy / "attacks.jsonl").read_text().splitlines(keepends=True)
  (copy / "attacks.jsonl").write_text("".join(lines[:15]) + lines[15][:40])
  (copy / "results.json").unlink()
  assert len(Workdir(str(copy), resume=True).read_jsonl("attacks.jsonl")) == 15
  with pytest.raises(WorkdirError, match="different config"):
    charmer.run(charmer.Config(**{**TINY, "n": 5}), str(copy), resume=True)
  resumed = charmer.run(charmer.Config(**TINY), str(copy), resume=True)
  assert _deterministic(resumed) == _deterministic(results)
  records = Workdir(str(copy), resume=True).read_jsonl("attacks.jsonl")
  assert len(records) == 30  # 15 kept + 15 redone, none twice


def test_trained_victims_are_reused_from_another_run(first_run, tmp_path):
  workdir, _ = first_run
  results = json.loads((workdir / "results.json").read_text())
  config = charmer.Config(**TINY, victim_dir=str(workdir / "victims"), attacks=("charmer",))
  reused = charmer.run(config, str(tmp_path / "c"))
  assert _deterministic(reused) == _deterministic(results, ["charmer"])
  assert not (tmp_path / "c" / "victims").exists()
  assert reused["victims"]["cnn"]["dir"] == str(workdir / "victims" / "cnn")
  other = dataclasses.replace(config, cnn=dataclasses.replace(TINY_CNN, filters=16))
  with pytest.raises(ConfigError, match=r"victim_dir: the cnn victim .* another config "
                     r"\(filters: 8 != 16\)"):
    charmer.run(other, str(tmp_path / "d"))
  with pytest.raises(ConfigError, match=r"\(seed: 0 != 1\)"):
    charmer.run(dataclasses.replace(config, seed=1), str(tmp_path / "d"))
  with pytest.raises(ConfigError, match=r"data.sizes.train: 300 != 400"):
    charmer.run(dataclasses.replace(config, train_examples=400), str(tmp_path / "d"))
  assert not (tmp_path / "d").exists()  # refused in prepare: nothing written


def test_cli_bad_flag_fails_before_any_work(tmp_path):
  proc = run_module("experiments.charmer", *TINY_FLAGS, "--k=0,1", f"--workdir={tmp_path / 'w'}",
                    timeout=120)
  assert proc.returncode == 2 and "--k: must be increasing budgets >= 1" in proc.stderr
  proc = run_module("experiments.charmer", *TINY_FLAGS, "--cnn.batch_size=500",
                    f"--workdir={tmp_path / 'w'}", timeout=300)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "--cnn.batch_size: must be <= the 300 training sentences" in proc.stderr
  assert not (tmp_path / "w").exists()
