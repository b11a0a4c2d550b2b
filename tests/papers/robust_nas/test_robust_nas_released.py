"""The study on a benchmark file in the released format (no training): analytics and search
with values checked against the analytics module, cross-dataset agreement, and plots."""

import dataclasses
import json
import os

import numpy as np
import pytest

from jaxlab.nas import analytics, search_space as ss
from jaxlab.papers import robust_nas


def _released(tmp_path, n=30):
  """A file in the released format: two datasets, per-seed entries and 'threeseed'."""
  rng = np.random.default_rng(0)
  cells = ss.canonical_cells()[::200][:n]
  meta, res = {}, {"cifar10": {}, "cifar100": {}}
  quality = rng.uniform(size=n)
  for i, cell in enumerate(cells):
    arch_id = str(1000 + i)
    meta[arch_id] = {"nb201-string": ss.to_string(cell), "isomorph": arch_id}
    for d, scale in (("cifar10", 0.9), ("cifar100", 0.6)):
      clean = scale * quality[i] + 0.02 * rng.standard_normal()
      res[d][arch_id] = {
          "val_acc": {"1": clean, "threeseed": clean},
          "val_fgsm_8.0_acc": {"threeseed": 0.5 * clean + 0.01},
          "val_pgd_8.0_acc": {"threeseed": 0.45 * clean + 0.01 * rng.standard_normal()},
          "autoattack": 0.4 * clean}
  (tmp_path / "meta.json").write_text(json.dumps({"ids": meta}))
  path = tmp_path / "bench.json"
  path.write_text(json.dumps(res))
  return str(path), res


def test_analytics_and_search_on_a_released_file(tmp_path):
  path, res = _released(tmp_path)
  config = dataclasses.replace(
      robust_nas.default(), benchmark_file=path, benchmark_dataset="cifar10",
      search=robust_nas.SearchConfig(budget=30, seeds=(0, 1), population=5, sample_size=2))
  results = robust_nas.run(config, str(tmp_path / "run"))
  assert results["num_cells"] == 30 and results["per_cell"] == []
  assert results["metrics"] == ["val_acc", "val_fgsm_8.0_acc", "val_pgd_8.0_acc"]
  ids = sorted(res["cifar10"])
  clean = [res["cifar10"][i]["val_acc"]["threeseed"] for i in ids]
  pgd = [res["cifar10"][i]["val_pgd_8.0_acc"]["threeseed"] for i in ids]
  assert results["kendall"]["metrics"]["val_acc"]["val_pgd_8.0_acc"] == pytest.approx(
      analytics.kendall_tau(clean, pgd))
  assert results["spearman"]["metrics"]["val_acc"]["val_fgsm_8.0_acc"] == pytest.approx(1.0)
  cross = results["cross_dataset"]["val_acc"]["cifar10/cifar100"]
  assert cross["n"] == 30 and cross["kendall"] > 0.5
  for algorithm in ("random_search", "regularized_evolution", "local_search"):
    for objective in ("clean", "robust"):     # regret on the objective never rises
      curve = results["search"][algorithm][objective][f"regret_{objective}"]["mean"]
      assert np.all(np.diff(curve) <= 1e-12)
  # Random search with a budget of every cell ends on the best one.
  assert results["search"]["random_search"]["robust"]["regret_robust"]["final_mean"] == 0.0
  assert results["checks"]["P3-A non-isomorphic cells"]["pass"]
  plots = set(os.listdir(tmp_path / "run" / "plots"))
  assert {"tau_metrics.png", "search_regret.png", "accuracy_boxes.pdf"} <= plots
