"""The ablation preset: the study once per cell of a grid of fine-tuning learning-rate ranges
(`lr_max`: log-uniform over (lr_max / 10, lr_max)) and pre-training strengths
(`pretrain_epochs`), every seed in each cell. It shows where soups beat the best single model
and where they do not, against the paper's premise (fine-tuning from a strong start helps on
average).

  results = mehl_soup.run(mehl_soup.ablation(), "/tmp/ablation")
  results["ablation"][0]      # {"lr_max", "pretrain_epochs", "premise", "diff_best", ...}

One start per (pre-training strength, seed), shared by the learning-rate ranges and saved in
`starts/pretrain_<e>_seed_<s>`; the ingredients stay in memory (`robustness.MemoryStore`) and
the soups are not saved. Each finished (cell, seed) is a line of ablation.jsonl, which
`resume` keeps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab.experiment import Workdir, progress
from jaxlab.papers.mehl_soup import summary
from jaxlab.papers.mehl_soup.config import Config
from jaxlab.papers.mehl_soup.pipeline import (Paths, SeedData, StepLog, load_seed, replace_lr,
                                              run_seed)

RECORDS = "ablation.jsonl"


def _cell(record: dict[str, Any]) -> tuple[int, float, int]:
  return (int(record["pretrain_epochs"]), float(record["lr_max"]), int(record["seed"]))


def execute(config: Config, first: SeedData, wd: Workdir) -> dict[str, Any]:
  """Every (pre-training strength, seed, lr range) in that order (one start per pair of the
  first two); returns `{"ablation": [cell summaries], "seeds", "num_ingredients",
  "default_lr_max", "default_pretrain_epochs"}` (the last two: the regime of `config` itself,
  marked in the plot)."""
  grid = config.ablation
  done = {_cell(r): r for r in wd.read_jsonl(RECORDS)} if wd.resumed else {}
  if wd.resumed:
    wd.truncate_metrics(max((r["last_step"] for r in done.values()), default=None))
  log = StepLog(wd, max((r["last_step"] + 1 for r in done.values()), default=0))
  records = list(done.values())
  jobs = [(e, s) for e in grid.pretrain_epochs for s in config.seeds]
  for epochs, seed in progress.bar(jobs, desc="ablation"):
    todo = [lr for lr in grid.lr_max if (epochs, float(lr), seed) not in done]
    if not todo:
      continue
    data = first if seed == config.seeds[0] else load_seed(config, seed)
    start = wd.file(f"starts/pretrain_{epochs}_seed_{seed}")
    for lr in todo:
      log.tags = {"seed": seed, "pretrain_epochs": epochs, "lr_max": lr}
      record = run_seed(replace_lr(config, lr, epochs), seed, data, Paths(start, None, None),
                        log)
      record.update(pretrain_epochs=epochs, lr_max=lr, last_step=log.step - 1)
      wd.append_jsonl(RECORDS, record)
      records.append(record)
  return {"seeds": list(config.seeds), "num_ingredients": config.num_ingredients,
          "default_lr_max": config.search_space.learning_rate[1],
          "default_pretrain_epochs": config.pretrain_epochs,
          "ablation": cells(records, grid.pretrain_epochs, grid.lr_max),
          "cpu_s": float(sum(r["cpu_s"] for r in records))}


def cells(records: list[dict[str, Any]], pretrain_epochs, lr_max) -> list[dict[str, Any]]:
  """One summary per grid cell (pre-training outer, lr inner): the premise (start, mean
  ingredient, gain), the best single model, and every soup's paired difference against it
  (mean, se) and mean test accuracy."""
  out = []
  for epochs in pretrain_epochs:
    for lr in lr_max:
      rs = sorted((r for r in records if _cell(r)[:2] == (int(epochs), float(lr))),
                  key=lambda r: r["seed"])
      table = summary.method_table(rs)
      out.append({
          "pretrain_epochs": int(epochs), "lr_max": float(lr), "lr_min": float(lr) / 10,
          "seeds": [r["seed"] for r in rs], "premise": summary.premise(rs),
          "test_acc": {m: e["test_acc"] for m, e in table.items()},
          "diff_best": {m: {"mean": e["diff_best"]["mean"], "se": e["diff_best"]["se"]}
                        for m, e in table.items() if "diff_best" in e},
          "weights_abs_max": {m: e["weights_abs_max"] for m, e in table.items()
                              if "weights_abs_max" in e},
          "greedy_size": float(np.mean([len(r["methods"]["greedy"]["selected"]) for r in rs]))
          if "greedy" in table else None,
      })
  return out
