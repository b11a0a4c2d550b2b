"""The mini-benchmark study's logic on a stub trainer (no compilation): records in the
released format, tau tables equal to the analytics module's on the recorded values, the
P3 gates, search regrets, plots, and resume retraining no cell."""

import dataclasses
import json
import os

import pytest

from jaxlab.nas import analytics, benchmark, robust_ntk, search_space as ss
from jaxlab.papers import robust_nas
from jaxlab.papers.robust_nas import study


def _quality(cell):
  """A made-up architecture quality in (0, 1): 3x3 convolutions help, ties broken by id."""
  return (sum(op == "nor_conv_3x3" for op in cell.ops) + ss.index(cell) / 15625) / 7


class StubPrograms:
  """`cells.Programs` without networks: accuracies and scores are functions of the cell."""

  trained: list = []

  def __init__(self, config, *args):
    self.config = config

  def train(self, cell, train, key):
    StubPrograms.trained.append(cell)
    return None

  def evaluate(self, cell, variables, x, y, key):
    q = _quality(cell)
    out = {"val_acc": 0.5 + 0.4 * q}
    for e in self.config.eval_eps:
      out[benchmark.metric_name("fgsm", e)] = 0.4 * q - 0.001 * e
      out[benchmark.metric_name("pgd", e)] = 0.3 * q - 0.002 * e
    return out

  def ntk(self, cell, key, x, y, dtype="float64"):
    q = _quality(cell)
    scores = {robust_ntk.score_name(k, b, s): q * (1 + b) + (k == "Kt_all")
              for k in ("K_all", "Kt_all") for b in self.config.ntk_betas
              for s in robust_ntk.STATS}
    checks = {"asymmetry": 0.0, "min_eig_ratio": 1e-3, "k_all0_minus_k": 0.0,
              "k_all1_minus_k_tilde": 0.0, "kt_all0_minus_k_tilde": 0.0, "expanded_rel": 1e-14}
    return scores, checks


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory):
  patch = pytest.MonkeyPatch()
  patch.setattr(study.cells, "Programs", StubPrograms)
  config = dataclasses.replace(
      robust_nas.smoke(), num_cells=10, train_seeds=(0, 1), p3b_cells=1, ntk_dtype="float32",
      search=robust_nas.SearchConfig(budget=4, seeds=(0, 1, 2), population=3, sample_size=2))
  workdir = str(tmp_path_factory.mktemp("robust_nas_stub") / "run")
  StubPrograms.trained = []
  results = robust_nas.run(config, workdir)
  yield config, workdir, results, patch
  patch.undo()


def test_records_tables_and_gates(stub_run):
  config, workdir, results, _ = stub_run
  assert results["num_cells"] == 10 and len(StubPrograms.trained) == 20  # 10 cells x 2 seeds
  bench = benchmark.load(os.path.join(workdir, results["benchmark_file"]))
  pgd = benchmark.metric_name("pgd", 32.0)
  for c in results["per_cell"]:
    cell = ss.parse(c["cell"])
    assert c["id"] == ss.canonical_id(cell) == ss.index(cell)
    assert c["clean"] == pytest.approx(0.5 + 0.4 * _quality(cell))
    assert bench.value("digits", c["index"], pgd, seed="1") == pytest.approx(c["pgd"]["32.0"])
  scores = [c["scores"]["Kt_all_b1_lambda_min"] for c in results["per_cell"]]
  accs = [c["pgd"]["32.0"] for c in results["per_cell"]]
  assert results["kendall"]["scores"]["Kt_all_b1_lambda_min"][pgd] == pytest.approx(
      analytics.kendall_tau(scores, accs)) == pytest.approx(1.0)
  assert results["spearman"]["metrics"]["val_acc"][pgd] == pytest.approx(1.0)
  checks = results["checks"]
  assert all(c["pass"] for c in checks.values()), [n for n, c in checks.items() if not c["pass"]]
  assert sum(n.startswith("P3-C") for n in checks) == 6
  assert checks["P3-B mixed-feature Gram = expanded formula (max relative error)"]["cells"] == 1
  assert results["score_gap"]["gap"]["K_all_b0_lambda_min"] == 0.0
  for algorithm in ("random_search", "regularized_evolution", "local_search"):
    curve = results["search"][algorithm]["robust"]["regret_robust"]["mean"]
    assert len(curve) == 4 and all(a >= b for a, b in zip(curve, curve[1:]))
  plots = set(os.listdir(os.path.join(workdir, "plots")))
  assert {"scores_vs_accuracy.png", "tau_scores.png", "accuracy_boxes.png"} <= plots


def test_resume_retrains_no_cell(stub_run):
  config, workdir, results, _ = stub_run
  os.remove(os.path.join(workdir, "results.json"))       # as if killed before the end
  with open(os.path.join(workdir, "cells.jsonl")) as f:
    first = [json.loads(line) for line in f]
  with open(os.path.join(workdir, "cells.jsonl"), "w") as f:   # and after 7 of 20 records
    f.writelines(json.dumps(r) + "\n" for r in first[:7])
  StubPrograms.trained = []
  again = robust_nas.run(config, workdir, resume=True)
  assert len(StubPrograms.trained) == 13
  assert again["kendall"] == results["kendall"] and again["checks"] == results["checks"]
