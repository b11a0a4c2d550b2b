"""The krr_inverse study: the sweeps and gates of `krr_inverse.md` section 5 as named parts.

  from jaxlab.papers import krr_inverse
  results = krr_inverse.run(krr_inverse.smoke(), "/tmp/krr_inverse")
  results["slopes"]     # [{"name", "predicted", "measured", "tol", "pass", "ci"}, ...]
  results["checks"]     # {name: {"value", "target", "pass", ...}}

Parts (`Config.studies`), run in this order:
  phase             E1.0 / E1.1: ridgeless variance phase diagram over (rho, gamma), b = 1.
  bias_independence E1.2: ridgeless variance slopes do not depend on the inductive bias b.
  oracle            E1.3: oracle-ridge error rate, oracle ridge rate, DE levels.
  saturation        E1.4: slope of the noise-free bias in lambda, saturation and threshold.
  smoothing         E1.5: smoothing operator (rho = -1), rate ordering b = 2 vs b = 1.
  bias_variance     E1.6: bias and variance against lambda for rho in {0, 0.25, 1} (figure).
  cross_checks      doubling the modes moves the errors < 1%; the kernel-matrix path equals
                    the spectral simulator.

Every error is exact in Fourier-coefficient space (`inverse.simulate`); variances are means
over noise columns; the ridge lambda enters as K + n lambda I throughout. The study runs in
float64 (`Study(float64=True)`: a scope, the process's setting is restored).
"""

from __future__ import annotations

from typing import Any

from absl import logging

from jaxlab.experiment import Part, Study, Workdir, run_parts
from jaxlab.experiment import run as run_study
from jaxlab.papers.krr_inverse import plots
from jaxlab.papers.krr_inverse.bias_variance import bias_variance
from jaxlab.papers.krr_inverse.config import Config, default, smoke
from jaxlab.papers.krr_inverse.context import Context, Keys, Record, study_keys
from jaxlab.papers.krr_inverse.cross_checks import cross_checks
from jaxlab.papers.krr_inverse.oracle import oracle, smoothing
from jaxlab.papers.krr_inverse.saturation import saturation
from jaxlab.papers.krr_inverse.variance import bias_independence, phase

PARTS = (Part("phase", phase), Part("bias_independence", bias_independence),
         Part("oracle", oracle), Part("saturation", saturation), Part("smoothing", smoothing),
         Part("bias_variance", bias_variance), Part("cross_checks", cross_checks))


def prepare(config: Config) -> Keys:
  """Nothing to load (every check is the config's own): the run's keys."""
  return study_keys(config.seed)


def execute(config: Config, keys: Keys, wd: Workdir) -> dict[str, Any]:
  """Runs the parts of `config.studies`; returns results.json: curves, slopes, checks,
  observations, failed. metrics.jsonl gets one line per (grid, n) with every design."""
  record = Record(wd)
  run_parts(PARTS, config.studies, Context(config, keys, record))
  results = record.results()
  logging.info("%d slopes, %d checks, %d failed%s", len(results["slopes"]),
               len(results["checks"]), len(results["failed"]),
               (": " + "; ".join(results["failed"])) if results["failed"] else "")
  return results


STUDY = Study(name="krr_inverse", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plots, float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`) in float64: config.json, metrics.jsonl,
  results.json {"curves", "slopes", "checks", "observations", "failed", "wall_s"} and
  plots/{phase_diagram, learning_curves, bias_variance}.{png,pdf}."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
