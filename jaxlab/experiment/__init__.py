"""The experiment skeleton every study uses: configs as code, the workdir, the run skeleton,
gates, sweeps and progress bars.

  from jaxlab.experiment import Study, run
  STUDY = Study(name="my_study", presets={"default": default, "smoke": smoke},
                prepare=prepare, execute=execute, plots=plots)
  results = run(STUDY, smoke(), "/tmp/run")

Modules:
  config    nested frozen configs, `ConfigError`, `require`, the shared seed / finite rules,
            overrides by dotted path
  workdir   `Workdir`: config.json, metrics.jsonl, results.json, plots/, safe --overwrite
  study     `Study` and `run` (the order of events), `Part` / `run_parts`
  gates     the slope fitter, checks (`interval`, `below`, `slope_gate`), `Gates`
  sweep     grids that survive interruption (`expand_grid`, `run_sweep`, runners)
  progress  tqdm bars on a terminal, silent elsewhere

A paper's package (`jaxlab.papers.<slug>`) holds `config.py` (its `Config` and the `default`
/ `smoke` presets), `study.py` (`prepare`, `execute`, `STUDY`, `run`), `plots.py` and the
models only it uses; `experiments/<slug>.py` is `common.make_main(STUDY)`.
"""

from jaxlab.experiment import config, gates, progress
from jaxlab.experiment.config import ConfigError, require, require_choice
from jaxlab.experiment.study import Part, Study, run, run_parts
from jaxlab.experiment.workdir import Workdir, WorkdirError

__all__ = ["ConfigError", "Part", "Study", "Workdir", "WorkdirError", "config", "gates",
           "progress", "require", "require_choice", "run", "run_parts"]
