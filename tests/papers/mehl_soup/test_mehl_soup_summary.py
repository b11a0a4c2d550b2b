"""The MEHL-Soup study's tables over seeds: differences paired by seed with their standard
error, the robustness table, the premise, the checks, and which ingredients drop-top-k keeps."""

import math

import numpy as np
import pytest

from jaxlab.papers.mehl_soup import robustness, summary


def _record(seed, accs, start=0.5, ingr=0.6):
  return {"seed": seed, "start": {"val": start, "test": start},
          "ingredients": {"val_acc_mean": ingr, "test_acc_mean": ingr, "test_acc_min": ingr - 0.1},
          "methods": {m: {"test_acc": a, "val_acc": a + 0.01, "peak_bytes": 10,
                          "peak_rss_bytes": 100 + seed, "coef_wall_s": 1.0 + seed}
                      for m, a in accs.items()},
          "robustness": {"0": {"greedy": {"val_acc": 0.7, "test_acc": accs["greedy"]}},
                         "2": {"greedy": {"val_acc": 0.6, "test_acc": 0.5 + 0.1 * seed}}}}


RECORDS = [_record(0, {"best_individual": 0.80, "uniform": 0.70, "greedy": 0.82}),
           _record(1, {"best_individual": 0.90, "uniform": 0.85, "greedy": 0.91}),
           _record(2, {"best_individual": 0.70, "uniform": 0.72, "greedy": 0.70})]


def test_paired_difference_and_its_standard_error():
  d = summary.paired(RECORDS, "greedy", "best_individual")
  diffs = np.array([0.02, 0.01, 0.0])
  assert d["mean"] == pytest.approx(0.01)
  assert d["se"] == pytest.approx(diffs.std(ddof=1) / math.sqrt(3))  # 0.00577
  assert (d["wins"], d["ties"], d["losses"]) == (2, 1, 0)
  # Unpaired, the seed-to-seed spread (0.1) would hide a 1-point gain; paired, it is 1.7 se.
  table = summary.method_table(RECORDS)
  assert table["greedy"]["test_std"] > 5 * d["se"]
  assert table["greedy"]["test_acc"] == pytest.approx(np.mean([0.82, 0.91, 0.70]))
  assert "diff_best" not in table["best_individual"]
  assert table["uniform"]["diff_best"]["mean"] == pytest.approx(-0.13 / 3)
  assert table["uniform"]["peak_rss_bytes"] == 102 and table["uniform"]["coef_wall_s"] == 2.0
  assert summary.paired(RECORDS[:1], "greedy", "uniform")["se"] is None  # one seed


def test_robustness_premise_and_checks():
  rob = summary.robustness_table(RECORDS)
  assert rob["2"]["greedy"]["test_acc"] == pytest.approx(0.6)
  assert rob["2"]["greedy"]["test_std"] == pytest.approx(0.1)
  assert rob["0"]["greedy"]["val_acc"] == pytest.approx(0.7)
  premise = summary.premise(RECORDS)
  assert premise["gain_val"] == pytest.approx(0.1) and premise["ingredient_test_min"] == 0.5
  checks = summary.study_checks(RECORDS, summary.method_table(RECORDS))
  assert checks["greedy_above_best_single"]["pass"]
  assert checks["greedy_above_best_single"]["value"] == pytest.approx(0.01)
  assert checks["uniform_below_greedy"]["pass"] and checks["premise_finetuning_helps_on_val"]["pass"]
  assert set(checks) == {"premise_finetuning_helps_on_val", "greedy_above_best_single",
                         "uniform_below_greedy"}  # the methods that ran


def test_drop_top_keeps_all_but_the_k_best_by_val():
  scores = [0.5, 0.9, 0.7, 0.9, 0.1]
  assert robustness.kept_after_dropping(scores, 0) == [0, 1, 2, 3, 4]
  assert robustness.kept_after_dropping(scores, 1) == [0, 2, 3, 4]  # tie: the lower id first
  assert robustness.kept_after_dropping(scores, 3) == [0, 4]
  sub = robustness.Subset(["a", "b", "c", "d", "e"], [0, 4])
  assert (len(sub), sub[1], list(sub)) == (2, "e", ["a", "e"])
