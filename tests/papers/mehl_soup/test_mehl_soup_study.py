"""The MEHL-Soup study end to end at a tiny size (two seeds of four ingredients, six methods):
the paired table agrees with the per-seed records, the robustness table, the memory ordering
the paper claims, the outputs, and resume after a killed seed without retraining."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from jaxlab.models.config import ModelConfig
from jaxlab.papers import mehl_soup
from jaxlab.papers.mehl_soup import plots
from jaxlab.soups.ingredients import SearchSpace

TINY = dataclasses.replace(
    mehl_soup.smoke(), model=ModelConfig(name="mlp", width=16, depth=1), num_ingredients=4,
    probe_epochs=1, search_space=SearchSpace(epochs=(1, 1)), memory_ks=(4, 8),
    methods=("best_individual", "uniform", "greedy", "mehl_plus", "learned_plus",
             "mehl_plus_raw"))  # mehl and learned: the notebook runs them (smoke)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  path = tmp_path_factory.mktemp("mehl") / "a"
  return path, mehl_soup.run(TINY, str(path))


def _lines(path):
  return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_study_tables_agree_with_the_seeds(run, figure_sink, paper_style):
  path, results = run
  methods, seeds = results["methods"], results["per_seed"]
  assert list(methods) == list(TINY.methods) and results["seeds"] == [0, 1]
  for name, m in methods.items():
    per_seed = [s["methods"][name]["test_acc"] for s in seeds]
    assert m["test_per_seed"] == per_seed and m["test_acc"] == pytest.approx(np.mean(per_seed))
    if name != "best_individual":
      best = [s["methods"]["best_individual"]["test_acc"] for s in seeds]
      np.testing.assert_allclose(m["diff_best"]["per_seed"], np.subtract(per_seed, best))
      assert m["diff_best"]["se"] == pytest.approx(
          np.std(np.subtract(per_seed, best), ddof=1) / np.sqrt(2))
  for s in seeds:  # greedy starts from the val-picked best ingredient of its own seed
    ms = s["methods"]
    assert ms["greedy"]["selected"][0] == ms["best_individual"]["index"]
    assert ms["best_individual"]["val_acc"] == s["ingredients"]["val_acc_max"]
  rob = results["robustness"]
  assert set(rob) == {"0", "2"} and set(rob["2"]) == {"greedy", "mehl_plus"}
  assert rob["0"]["greedy"]["test_acc"] == methods["greedy"]["test_acc"]
  for name in ("mehl_plus", "learned_plus", "mehl_plus_raw"):
    assert abs(methods[name]["weights_column_sum_max_error"]) < 1e-5, name
    assert results["effective_weights"][name]["abs_max"] == max(
        methods[name]["weights_abs_max_per_seed"])
  assert methods["learned_plus"]["weights_min"] >= 0  # the simplex
  assert methods["mehl_plus"]["peak_bytes"] < methods["learned_plus"]["peak_bytes"]
  curve = results["memory_vs_k"]
  gaps = [curve["learned_plus"][k] - curve["mehl_plus"][k] for k in ("4", "8")]
  assert 0 < gaps[0] < gaps[1] and curve["mehl_plus"]["4"] == curve["mehl_plus"]["8"]
  assert set(results["checks"]) >= {"greedy_above_best_single", "mehl_plus_at_least_learned_plus"}
  for name in ("plots/accuracy.png", "plots/memory_vs_k.pdf", "seed_0/ingredients/start",
               "seed_1/ingredients/ingredient_003", "seed_1/soups/mehl_plus_coefficients"):
    assert (path / name).exists(), name
  plots.plot_accuracy(results, figure_sink)
  plots.plot_memory(results, figure_sink)
  assert set(figure_sink.figures) == {"accuracy", "memory_vs_k"}
  for name, fig in figure_sink.figures.items():  # axis labels; paper names in legends
    paper_style(fig, name, needs_legend=True)
  lines = _lines(path / "metrics.jsonl")
  assert [m["step"] for m in lines] == list(range(len(lines)))
  assert [m["seed"] for m in lines if m["phase"] == "start"] == [0, 1]


def test_resume_keeps_finished_seeds_and_checkpoints(run):
  path, results = run
  b = path.parent / "b"
  shutil.copytree(path, b)
  records = (b / "seeds.jsonl").read_text().splitlines()
  (b / "seeds.jsonl").write_text(records[0] + "\n")  # seed 1 was killed in its soups
  (b / "results.json").unlink()
  shutil.rmtree(b / "seed_1" / "soups")
  again = mehl_soup.run(TINY, str(b), resume=True)
  assert again["per_seed"][0]["wall_s"] == results["per_seed"][0]["wall_s"]  # read back
  for name, m in results["methods"].items():  # same seeds, same results
    assert again["methods"][name]["test_per_seed"] == m["test_per_seed"], name
  phases = lambda p: [(m["step"], m["seed"], m["phase"]) for m in _lines(p / "metrics.jsonl")]  # pylint: disable=unnecessary-lambda-assignment
  assert phases(b) == phases(path)  # seed 1's lines rewritten, seed 0's kept
  assert len(_lines(b / "seeds.jsonl")) == 2
