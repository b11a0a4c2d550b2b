"""The ablation grid end to end at a tiny size (one seed, two learning-rate ranges, no and one
epoch of pre-training; the soups that need no coefficient compile): one start per
(pre-training, seed) shared by the learning-rate ranges, the cell tables agree with the
records, and the figure is written."""

import dataclasses
import json

import numpy as np
import pytest

from jaxlab.models.config import ModelConfig
from jaxlab.papers import mehl_soup
from jaxlab.soups.ingredients import SearchSpace

TINY = dataclasses.replace(
    mehl_soup.ablation(), model=ModelConfig(name="mlp", width=16, depth=1), num_ingredients=3,
    label_fraction=0.25, probe_epochs=1, search_space=SearchSpace(epochs=(1, 1)), seeds=(0,),
    methods=("best_individual", "uniform", "greedy"),
    ablation=mehl_soup.Ablation(lr_max=(1e-3, 1e-2), pretrain_epochs=(0, 1)))


def test_ablation_cells_share_starts_and_agree_with_records(tmp_path):
  results = mehl_soup.run(TINY, str(tmp_path))
  records = [json.loads(line) for line in (tmp_path / "ablation.jsonl").read_text().splitlines()]
  assert [(r["pretrain_epochs"], r["lr_max"]) for r in records] == [
      (0, 1e-3), (0, 1e-2), (1, 1e-3), (1, 1e-2)]
  # One start per pre-training strength, shared by both learning-rate ranges; one epoch of
  # pre-training gives another start than none.
  assert records[0]["start"] == records[1]["start"] and records[2]["start"] == records[3]["start"]
  assert records[0]["start"] != records[2]["start"]
  assert (results["default_lr_max"], results["default_pretrain_epochs"]) == (3e-3, 20)
  cells = results["ablation"]
  assert [(c["pretrain_epochs"], c["lr_max"], c["lr_min"]) for c in cells] == [
      (0, 1e-3, 1e-4), (0, 1e-2, 1e-3), (1, 1e-3, 1e-4), (1, 1e-2, 1e-3)]
  for cell, r in zip(cells, records):
    ms = r["methods"]
    assert cell["test_acc"]["greedy"] == ms["greedy"]["test_acc"]
    assert cell["diff_best"]["uniform"]["mean"] == pytest.approx(
        ms["uniform"]["test_acc"] - ms["best_individual"]["test_acc"])
    assert cell["premise"]["gain_val"] == pytest.approx(
        r["ingredients"]["val_acc_mean"] - r["start"]["val"])
    assert cell["greedy_size"] == len(ms["greedy"]["selected"])
  assert np.isfinite(results["cpu_s"])
  assert (tmp_path / "plots" / "ablation.png").exists()
  assert (tmp_path / "starts" / "pretrain_1_seed_0").is_dir()
