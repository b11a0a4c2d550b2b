"""The mini benchmark end to end at smoke size (slow: it compiles the adversarial train step,
the attacks and a float64 NTK of the NB201 network; test_robust_nas_bookkeeping.py covers the
study's logic on a stub trainer by default): results in the released format, per-cell values
consistent with the benchmark file, the exact P3-A / P3-B gates, and resume losing no trained
cell."""

import dataclasses
import json
import os

import pytest

from jaxlab.nas import analytics, benchmark
from jaxlab.papers import robust_nas


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("robust_nas") / "run")
  config = dataclasses.replace(       # the smoke preset, smaller still: the test is compile-bound
      robust_nas.smoke(), num_cells=2, attack_steps=1, eval_eps=(32.0,), eval_pgd_steps=2,
      eval_examples=40, ntk_examples=4,
      search=robust_nas.SearchConfig(budget=2, seeds=(0, 1), population=2, sample_size=2))
  return config, workdir, robust_nas.run(config, workdir)


@pytest.mark.slow
def test_results_and_benchmark_file(smoke_run):
  config, workdir, results = smoke_run
  assert results["num_cells"] == 2 == len(results["per_cell"])
  bench = benchmark.load(os.path.join(workdir, results["benchmark_file"]))
  assert bench.datasets == ("digits",)
  assert set(bench.metrics("digits")) == set(results["metrics"]) == {
      "val_acc", "val_fgsm_32.0_acc", "val_pgd_32.0_acc"}
  for cell in results["per_cell"]:
    assert bench.value("digits", cell["index"], "val_acc", "0") == cell["clean"]
    assert bench.value("digits", cell["index"], "val_pgd_32.0_acc") == cell["pgd"]["32.0"]
    assert 0.0 <= cell["pgd"]["32.0"] <= cell["fgsm"]["32.0"] + 2 / 40 + 1e-9
    assert len(cell["scores"]) == 18 and cell["params"] > 0
  names = list(results["per_cell"][0]["scores"])
  score = [c["scores"][names[0]] for c in results["per_cell"]]
  clean = [c["clean"] for c in results["per_cell"]]
  assert results["kendall"]["scores"][names[0]]["val_acc"] == analytics.kendall_tau(score, clean)
  checks = results["checks"]
  for name, check in checks.items():
    if name.startswith(("P3-A", "P3-B")):
      assert check["pass"], (name, check)
  assert not any(n.startswith("P3-C") for n in checks)     # 2 cells: not gated
  assert set(results["search"]) == {"random_search", "regularized_evolution", "local_search"}
  plots = set(os.listdir(os.path.join(workdir, "plots")))
  assert {f"{p}.{e}" for p in ("scores_vs_accuracy", "tau_scores", "search_regret",
                               "accuracy_boxes") for e in ("png", "pdf")} <= plots


@pytest.mark.slow
def test_resume_keeps_every_trained_cell(smoke_run):
  config, workdir, results = smoke_run
  records = os.path.join(workdir, "cells.jsonl")
  with open(records) as f:
    before = f.read()
  os.remove(os.path.join(workdir, "results.json"))        # as if killed before the end
  again = robust_nas.run(config, workdir, resume=True)
  with open(records) as f:
    assert f.read() == before                            # nothing retrained
  strip = lambda r: {k: v for k, v in r.items() if k not in ("timing", "wall_s")}  # noqa
  assert json.loads(json.dumps(strip(again), default=str)) == json.loads(
      json.dumps(strip(results), default=str))
