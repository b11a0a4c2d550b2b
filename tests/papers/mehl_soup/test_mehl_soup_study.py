"""The MEHL-Soup study end to end from the command line: every method, the memory ordering the
paper claims, the outputs, resume without retraining, and bad flags refused before any work."""

import json
import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
SMOKE = REPO / "experiments" / "flags" / "mehl_soup_smoke.flags"
METHODS = ["best_individual", "uniform", "greedy", "mehl", "mehl_plus", "learned",
           "learned_plus"]


def run_module(*args, timeout=600):
  return subprocess.run([sys.executable, "-m", "experiments.mehl_soup", *map(str, args)],
                        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def _lines(path):
  return [json.loads(line) for line in path.read_text().splitlines()]


def test_smoke_run_writes_every_method_and_resumes_without_retraining(tmp_path):
  a = tmp_path / "a"
  proc = run_module(f"--flagfile={SMOKE}", f"--workdir={a}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((a / "results.json").read_text())
  assert results["num_ingredients"] == 6 and results["block_size"] == 2
  assert list(results["methods"]) == METHODS
  for m in results["methods"].values():
    assert {"test_acc", "val_acc", "peak_bytes", "peak_rss_bytes", "coef_wall_s"} <= set(m)
    assert 0 <= m["test_acc"] <= 1 and 0 <= m["val_acc"] <= 1
    assert m["peak_bytes"] > 0 and m["peak_rss_bytes"] > 0 and m["coef_wall_s"] >= 0
  methods = results["methods"]
  assert methods["mehl_plus"]["peak_bytes"] < methods["learned_plus"]["peak_bytes"]
  curve = results["memory_vs_k"]
  gaps = [curve["learned_plus"][k] - curve["mehl_plus"][k] for k in ("6", "12")]
  assert 0 < gaps[0] < gaps[1]
  assert curve["mehl_plus"]["6"] == curve["mehl_plus"]["12"]  # flat in K once K >= b
  for name in ("mehl", "mehl_plus", "learned", "learned_plus"):
    assert abs(methods[name]["weights_column_sum_max_error"]) < 1e-6, name
  assert methods["learned_plus"]["weights_min"] >= 0  # the simplex
  # The greedy soup starts from the best individual; the ingredients' summary is theirs.
  assert methods["greedy"]["selected"][0] == methods["best_individual"]["index"]
  assert methods["best_individual"]["test_acc"] <= results["ingredients"]["test_acc_max"]
  assert methods["best_individual"]["val_acc"] == results["ingredients"]["val_acc_max"]
  for name in ("plots/accuracy.png", "plots/memory_vs_k.pdf", "ingredients/start",
               "ingredients/ingredient_005", "soups/mehl_plus", "soups/learned_plus",
               "soups/mehl_plus_coefficients", "soups/learned_plus_coefficients"):
    assert (a / name).exists(), name
  lines = _lines(a / "metrics.jsonl")
  assert [m["phase"] for m in lines[:7]] == ["start"] + ["ingredient"] * 6
  assert [m["method"] for m in lines if m["phase"] == "soup"] == METHODS
  assert [m["step"] for m in lines] == list(range(len(lines)))

  # An interrupted run: ingredient 5, the soups and the results are missing.
  b = tmp_path / "b"
  shutil.copytree(a, b)
  for name in ("results.json", "soups", "ingredients/ingredient_005"):
    path = b / name
    if path.is_dir():
      shutil.rmtree(path)
    else:
      path.unlink()
  kept = {p.name: p.stat().st_mtime_ns for p in (b / "ingredients").iterdir()}
  refused = run_module(f"--flagfile={SMOKE}", f"--workdir={b}")
  assert refused.returncode != 0 and "is not empty" in refused.stderr
  other = run_module(f"--flagfile={SMOKE}", "--coef_lr=0.02", f"--workdir={b}", "--resume")
  assert other.returncode != 0 and "different config" in other.stderr
  resumed = run_module(f"--flagfile={SMOKE}", f"--workdir={b}", "--resume")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "ingredient 6/6: reused" not in resumed.stderr  # ingredient 5 was trained again
  assert resumed.stderr.count("reused from its checkpoint") == 5
  assert "reusing the shared start" in resumed.stderr
  assert {p.name: p.stat().st_mtime_ns for p in (b / "ingredients").iterdir()
          if p.name in kept} == kept  # finished ingredients untouched
  again = json.loads((b / "results.json").read_text())
  for name in METHODS:  # same seed, same results
    assert again["methods"][name]["test_acc"] == methods[name]["test_acc"], name
    assert again["methods"][name]["val_loss"] == methods[name]["val_loss"], name
  assert [m["phase"] for m in _lines(b / "metrics.jsonl")] == [m["phase"] for m in lines]


def test_bad_flags_fail_fast_naming_the_flag(tmp_path):
  for flag, message in (
      ("--methods=mehl,soup", "--methods: got 'soup', expected one of: best_individual"),
      ("--learning_rate=1e-2,1e-4", "--search_space.learning_rate: expected two values"),
      ("--config=imagenet", "--config"),
  ):
    proc = run_module(f"--flagfile={SMOKE}", flag, f"--workdir={tmp_path / 'w'}", timeout=180)
    assert proc.returncode != 0, flag
    assert message in proc.stderr, (flag, proc.stderr[-2000:])
    assert not (tmp_path / "w").exists()
