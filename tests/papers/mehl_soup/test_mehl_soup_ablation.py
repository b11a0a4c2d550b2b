"""The ablation grid: its cell tables from recorded runs and its figure in the figure style
(fast), and end to end at a tiny size (slow: one seed, two learning-rate ranges, no
pre-training, two ingredients; the soups that need no coefficient compile): one start per
(pre-training, seed) shared by the learning-rate ranges, the cells agree with the records."""

import dataclasses
import json

import numpy as np
import pytest

from jaxlab.models.config import ModelConfig
from jaxlab.papers import mehl_soup
from jaxlab.papers.mehl_soup import ablation_grid, plots, study
from jaxlab.soups.ingredients import SearchSpace

TINY = dataclasses.replace(
    mehl_soup.ablation(), model=ModelConfig(name="mlp", width=16, depth=1), num_ingredients=2,
    label_fraction=0.25, probe_epochs=1, search_space=SearchSpace(epochs=(1, 1)), seeds=(0,),
    methods=("best_individual", "uniform", "greedy"),
    ablation=mehl_soup.Ablation(lr_max=(1e-3, 1e-2), pretrain_epochs=(0,)))


def _record(epochs, lr, seed, best, greedy, mehl_plus):
  accs = {"best_individual": best, "greedy": greedy, "mehl_plus": mehl_plus}
  return {"pretrain_epochs": epochs, "lr_max": lr, "seed": seed,
          "start": {"val": 0.5, "test": 0.5},
          "ingredients": {"val_acc_mean": 0.6 + lr, "test_acc_mean": 0.6, "test_acc_min": 0.4},
          "methods": {m: {"test_acc": a, "val_acc": a, "peak_rss_bytes": 1, "coef_wall_s": 1.0}
                      for m, a in accs.items()}}


def test_cells_pair_each_soup_with_the_best_single_model_per_seed(figure_sink, paper_style):
  assert study.ablation_grid is ablation_grid  # not shadowed by the preset `ablation()`
  records = [_record(e, lr, s, 0.80 + 0.01 * s, 0.81 + 0.01 * s, 0.80 + 0.02 * s)
             for e in (0, 20) for lr in (1e-3, 1e-2) for s in (0, 1)]
  for r in records[2:4]:  # lr 1e-2 without pre-training: greedy keeps a single ingredient
    r["methods"]["greedy"]["selected"] = [0]
  for r in records[:2] + records[4:]:
    r["methods"]["greedy"]["selected"] = [0, 1]
  cells = ablation_grid.cells(records[::-1], (0, 20), (1e-3, 1e-2))  # any record order
  assert [(c["pretrain_epochs"], c["lr_max"]) for c in cells] == [
      (0, 1e-3), (0, 1e-2), (20, 1e-3), (20, 1e-2)]
  assert all(c["seeds"] == [0, 1] for c in cells)
  greedy, mehl = cells[0]["diff_best"]["greedy"], cells[0]["diff_best"]["mehl_plus"]
  assert greedy["mean"] == pytest.approx(0.01) and greedy["se"] == pytest.approx(0.0)
  assert mehl["mean"] == pytest.approx(0.005) and mehl["se"] == pytest.approx(0.005)
  assert cells[0]["premise"]["gain_val"] == pytest.approx(0.1 + 1e-3)
  assert [c["greedy_size"] for c in cells] == [2, 1, 2, 2]
  wd = figure_sink
  plots.plot_ablation({"ablation": cells, "seeds": [0, 1], "num_ingredients": 2,
                       "default_lr_max": 1e-3}, wd)
  paper_style(wd.figures["ablation"], "ablation", needs_legend=True)


@pytest.mark.slow
def test_ablation_cells_share_starts_and_agree_with_records(tmp_path, figure_sink, paper_style):
  results = mehl_soup.run(TINY, str(tmp_path))
  records = [json.loads(line) for line in (tmp_path / "ablation.jsonl").read_text().splitlines()]
  assert [(r["pretrain_epochs"], r["lr_max"]) for r in records] == [(0, 1e-3), (0, 1e-2)]
  # One start per (pre-training strength, seed), shared by both learning-rate ranges, whose
  # ingredients differ.
  assert records[0]["start"] == records[1]["start"]
  assert records[0]["ingredients"] != records[1]["ingredients"]
  # The regime of the config itself (marked in the figure): the default's, for the preset.
  assert (results["default_lr_max"], results["default_pretrain_epochs"]) == (
      TINY.search_space.learning_rate[1], TINY.pretrain_epochs)
  assert mehl_soup.ablation().search_space.learning_rate == (3e-4, 3e-3)
  cells = results["ablation"]
  assert [(c["pretrain_epochs"], c["lr_max"], c["lr_min"]) for c in cells] == [
      (0, 1e-3, 1e-4), (0, 1e-2, 1e-3)]
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
  wd = figure_sink
  plots.plot_ablation(results, wd)
  paper_style(wd.figures["ablation"], "ablation", needs_legend=True)
  assert (tmp_path / "starts" / "pretrain_0_seed_0").is_dir()


