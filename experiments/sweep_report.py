r"""Rebuild the report of a sweep (finished or not): mean +- std over seeds per setting.

  python -m experiments.sweep_report runs/sweep

Reads DIR/sweep.jsonl and DIR/config.json and writes DIR/report.json, DIR/report.md and
DIR/plots/sweep.{png,pdf}; prints the markdown table.
"""

from __future__ import annotations

import os
import sys

from absl import app

from experiments import common
from jaxlab.experiment import Workdir, WorkdirError, sweep_report
from jaxlab.experiment.workdir import is_jaxlab_workdir


def main(argv):
  if len(argv) != 2:
    common.fail("usage: python -m experiments.sweep_report SWEEP_DIR")
  path = argv[1]
  if not os.path.isdir(path) or not is_jaxlab_workdir(path):
    common.fail(f"{path} is not a sweep directory written by experiments.sweep")
  try:
    rows = sweep_report.write_report(Workdir(path, resume=True))
  except (WorkdirError, KeyError) as e:
    common.fail(f"cannot read the sweep in {path}: {e}")
  sys.stdout.write(sweep_report.markdown(rows))


if __name__ == "__main__":
  app.run(main)
