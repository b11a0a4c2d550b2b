"""The Charmer experiment end to end at toy size: the CLI contract, resume without redoing
finished sentences, reuse of trained victims, and config validation."""

import dataclasses
import json
import shutil

import pytest

from jaxlab.config import ConfigError
from jaxlab.text import charmer_study
from jaxlab.workdir import Workdir, WorkdirError
from test_cli import run_module

TINY = dict(victims=("cnn",), train_examples=300, embed_dim=8, cnn_filters=8, cnn_hidden=8,
            cnn_epochs=1, batch_size=32, k=(1, 2), num_examples=6, show_examples=1)
TINY_FLAGS = ["--victims=cnn", "--train_examples=300", "--embed_dim=8", "--cnn_filters=8",
              "--cnn_hidden=8", "--cnn_epochs=1", "--batch_size=32", "--k=1,2",
              "--num_examples=6", "--show_examples=1"]
SUMMARY_KEYS = {"asr", "mean_lev", "max_lev", "mean_queries", "mean_similarity", "wall_s"}
DETERMINISTIC = ("asr", "mean_lev", "max_lev", "mean_queries", "mean_similarity", "num_attacked")


def _deterministic(results, attacks=None):
  """The seeded part of the results (not wall times), as JSON so that NaN equals NaN."""
  return json.dumps([(r["victim"], r["k"], r["clean_acc"], r["num_attacked"],
                      {a: {m: s[m] for m in DETERMINISTIC} for a, s in r["attacks"].items()
                       if attacks is None or a in attacks})
                     for r in results["runs"]])


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
  results = json.loads((workdir / "results.json").read_text())
  assert {"clean_acc", "num_attacked", "k", "attacks"} <= set(results)
  assert results["k"] == 2 and results["victim"] == "cnn"
  assert set(results["attacks"]) == {"charmer", "exhaustive", "random", "deepwordbug"}
  assert [(r["victim"], r["k"]) for r in results["runs"]] == [("cnn", 1), ("cnn", 2)]
  for run in results["runs"]:
    assert run["num_attacked"] == round(run["clean_acc"] * 6)
    for name, s in run["attacks"].items():
      assert SUMMARY_KEYS <= set(s), name
      assert s["max_lev"] <= run["k"] and s["num_attacked"] == run["num_attacked"]
      assert 0.0 <= s["asr"] <= 1.0
  # ASR can only grow with the budget for the greedy attacks read off one trajectory.
  by_k = {r["k"]: r["attacks"] for r in results["runs"]}
  for name in ("charmer", "exhaustive", "random"):
    assert by_k[1][name]["asr"] <= by_k[2][name]["asr"]
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
  shutil.copytree(workdir, copy)  # then cut to a run interrupted after half of its records
  lines = (copy / "attacks.jsonl").read_text().splitlines(keepends=True)
  (copy / "attacks.jsonl").write_text("".join(lines[:15]) + lines[15][:40])
  (copy / "results.json").unlink()
  with pytest.raises(WorkdirError, match="different config"):
    charmer_study.run(charmer_study.Config(**{**TINY, "n": 5}), str(copy), resume=True)
  resumed = charmer_study.run(charmer_study.Config(**TINY), str(copy), resume=True)
  assert _deterministic(resumed) == _deterministic(results)
  records = Workdir(str(copy), resume=True).read_jsonl("attacks.jsonl")
  assert len(records) == 30  # 15 kept + 15 redone, none twice


def test_trained_victims_are_reused_from_another_run(first_run, tmp_path):
  workdir, _ = first_run
  results = json.loads((workdir / "results.json").read_text())
  config = charmer_study.Config(**TINY, victim_dir=str(workdir / "victims"),
                                attacks=("charmer",))
  reused = charmer_study.run(config, str(tmp_path / "c"))
  assert _deterministic(reused) == _deterministic(results, ["charmer"])
  assert not (tmp_path / "c" / "victims").exists()
  assert reused["victims"]["cnn"]["dir"] == str(workdir / "victims" / "cnn")
  other = dataclasses.replace(config, cnn_filters=16)
  with pytest.raises(ConfigError, match="victim_dir: the cnn victim .* another config "
                     "\\(filters: 8 != 16\\)"):
    charmer_study.run(other, str(tmp_path / "d"))


@pytest.mark.parametrize("change, message", [
    (dict(victims=("lstm",)), "victims: got 'lstm', expected one of: cnn, transformer"),
    (dict(k=(2, 1)), "k: must be increasing budgets >= 1"),
    (dict(attacks=("charmer", "textfooler")), "attacks: got 'textfooler'"),
    (dict(alphabet="greek"), "alphabet: got 'greek', expected one of: letters, printable, split"),
    (dict(query_batch_size=1000), "query_batch_size: must be a power of two"),
    (dict(victim_dir="/nonexistent"), "victim_dir: /nonexistent is not a directory"),
    (dict(defence=True, victims=("transformer",)), "defence: adversarial training is run on "
     "the cnn victim"),
    (dict(embedding_model="/nonexistent"), "embedding_model:"),
])
def test_bad_config_values_name_the_field(change, message):
  with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace(")", "\\)")):
    charmer_study.Config(**{**TINY, **change})


def test_cli_bad_flag_fails_before_any_work(tmp_path):
  proc = run_module("experiments.charmer", *TINY_FLAGS, "--k=0,1", f"--workdir={tmp_path / 'w'}",
                    timeout=120)
  assert proc.returncode == 2 and "--k: must be increasing budgets >= 1" in proc.stderr
  assert not (tmp_path / "w" / "config.json").exists()
