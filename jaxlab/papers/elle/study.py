"""The ELLE study: does local-linearity regularisation (ELLE, ELLE-A; arXiv 2401.11618) avoid
the catastrophic overfitting (CO) of single-step adversarial training? Methods x eps x seeds.

  from jaxlab.papers import elle
  results = elle.run(elle.smoke(), "/tmp/elle")
  results["summary"]["fgsm"]["0.2"]            # {"pgd_acc_mean": 0.03, "co_rate": 1.0, ...}
  results["checks"]["fgsm_co"]["pass"]         # True: FGSM AT shows CO on the grid

Every (eps, method, seed) run (`runs.train_and_evaluate`) trains the model from scratch with
the method's one-update-per-batch train step, is probed after every epoch and evaluated at
the end. Each finished run is appended to sweep.jsonl at once, so `resume=True` continues an
interrupted grid without repeating finished runs.
"""

from __future__ import annotations

import functools
import os
from typing import Any, NamedTuple

from absl import logging

from jaxlab.data import Dataset
from jaxlab.data import config as data_config
from jaxlab.experiment import Study, Workdir, progress, sweep
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import require
from jaxlab.models import config as model_config
from jaxlab.papers.elle import plots, runs as runs_lib, summary as summary_lib
from jaxlab.papers.elle.config import (Config, cifar10, co_study, co_study_resnet, default,
                                       smoke)


class Inputs(NamedTuple):
  """What `prepare` loaded and checked."""

  data: Dataset


def prepare(config: Config) -> Inputs:
  """Loads the data and makes every check that needs it: a classification set whose inputs
  fit the model, a batch no larger than the training split, and fixed per-epoch subsets no
  larger than the splits they are taken from."""
  ds = runs_lib.load_data(config)
  data_config.require_classification(ds, config.dataset)
  model_config.check_inputs(config.model, ds.input_shape, dataset=config.dataset.name)
  require(config.batch_size <= len(ds.train), "batch_size",
          f"must be <= the {len(ds.train)} training examples, got {config.batch_size}")
  smallest = min(len(ds.train), len(ds.test))
  require(config.curves.examples <= smallest, "curves.examples",
          f"must be <= {smallest} (the smaller of the training and test splits), got "
          f"{config.curves.examples}")
  require(config.curves.probe_examples <= len(ds.val), "curves.probe_examples",
          f"must be <= the {len(ds.val)} val examples, got {config.curves.probe_examples}")
  return Inputs(ds)


class _WithProgress(NamedTuple):
  """A sweep runner whose finished runs advance a progress bar."""

  runner: Any

  def map(self, fn, points):
    return progress.bar(self.runner.map(fn, points), desc="runs", total=len(points))


def run_grid(config: Config, inputs: Inputs, wd: Workdir) -> list[dict[str, Any]]:
  """Runs every (eps, method, seed) point not yet in the workdir's sweep.jsonl, seed by seed
  (every seed covers the whole eps x method grid before the next starts, so an interrupted
  study has every cell); returns the records of all points in grid order (eps, then method,
  then seed)."""
  points = sweep.expand_grid({"seed": list(config.seeds), "eps": list(config.eps),
                              "method": list(config.methods)})
  if config.workers > 1:  # each worker process loads the data and compiles its own steps
    fn = functools.partial(runs_lib.train_and_evaluate, config=config)
    runner = sweep.ProcessPoolRunner(config.workers)
  else:
    ctx = runs_lib.Context(config, inputs.data)
    fn = functools.partial(runs_lib.train_and_evaluate, config=config, ctx=ctx)
    runner = sweep.SerialRunner()
  sweep_dir = os.path.dirname(wd.file(sweep.SWEEP_LOG))
  records = sweep.run_sweep(fn, points, sweep_dir, runner=_WithProgress(runner))
  order = {(p["eps"], p["method"], p["seed"]): i for i, p in enumerate(sweep.expand_grid(
      {"eps": list(config.eps), "method": list(config.methods), "seed": list(config.seeds)}))}
  return sorted((r["result"] for r in records),
                key=lambda r: order[(r["eps"], r["method"], r["seed"])])


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Runs the grid; writes metrics.jsonl (one line per run and epoch, rewritten from the
  records so a resumed run has no duplicates) and returns results.json:

    eps; runs (`runs.record` without the history); summary[method][eps] (pgd_acc_mean,
    co_rate, ...); step_cost_ratio (elle/fgsm, gradalign/elle, pgd<k>/elle from the median
    step times); co_example (method, eps, seed, co of the run plotted); data; checks.
  """
  logging.info("data: %s", inputs.data.summary())
  runs = run_grid(config, inputs, wd)
  wd.truncate_metrics(None)
  for r in runs:
    for h in r["history"]:
      wd.log(h["epoch"], {"method": r["method"], "eps": r["eps"], "seed": r["seed"],
                          **{k: v for k, v in h.items() if k != "epoch"}})
  summary = summary_lib.summarize(config, runs)
  example = summary_lib.co_example(runs)
  for name in config.methods:
    logging.info("%-14s %s", name, "  ".join(
        f"eps={e}: pgd {c['pgd_acc_mean']:.3f} co {c['co_rate']:.2f}"
        for e, c in summary[name].items()))
  return {
      "eps": sorted(config.eps),
      "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs],
      "summary": summary,
      "step_cost_ratio": summary_lib.step_cost_ratios(config, runs),
      "co_example": None if example is None else {k: example[k]
                                                  for k in ("method", "eps", "seed", "co")},
      "data": inputs.data.summary(),
      "checks": summary_lib.checks(config, runs, summary),
  }


STUDY = Study(name="elle", presets={"default": default, "smoke": smoke, "study": co_study,
                                        "study_resnet": co_study_resnet, "cifar10": cifar10},
              prepare=prepare,
              execute=execute, plots=plots.plots, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, sweep.jsonl (one record per
  finished run), metrics.jsonl, results.json (`execute`) and plots/pgd_acc_vs_eps,
  plots/co_run (`plots`)."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
