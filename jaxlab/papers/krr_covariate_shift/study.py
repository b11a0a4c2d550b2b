"""The krr_covariate_shift study: the sweeps and gates of `krr_covariate_shift.md` section 5 as
named parts.

  from jaxlab.papers import krr_covariate_shift
  results = krr_covariate_shift.run(krr_covariate_shift.smoke(), "/tmp/cs")
  results["checks"]["E2.3a variance ordering (d = 400): ..."]   # {"value", "target", "pass"}

Parts (`Config.studies`), run in this order:
  linearization  E2.1: ||K - K_lin||_op (population and empirical diagonal) and the test-vector
                 error against d, with slopes.
  identities     E2.2: IW-KRR = KRR at lambda = 0; IW-KRR = KRR when mu = 0; linearised
                 IW-KRR = weighted ridge on the features with weights omega (relative 1e-8).
  bias_variance  E2.3: exact bias^2 and variance under q against n lambda, KRR vs IW-KRR;
                 orderings, the linearised surrogate, levels, the variance flip.
  exploration    E2.4: shift size and aspect ratio (the mu = 0 identity gated); the flip
                 against gamma_imp for three inner-product functions h.
  spectra        E2.5: eigenvalues of K and of W^{1/2} K W^{1/2} (figure).

The study runs in float64 (`Study(float64=True)`: a scope, the process's setting is restored).
"""

from __future__ import annotations

from typing import Any

from absl import logging

from jaxlab.experiment import Part, Study, Workdir, run_parts
from jaxlab.experiment import run as run_study
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift import plots
from jaxlab.papers.krr_covariate_shift.bias_variance import bias_variance
from jaxlab.papers.krr_covariate_shift.config import Config, default, smoke
from jaxlab.papers.krr_covariate_shift.context import Context, Keys, Record, study_keys
from jaxlab.papers.krr_covariate_shift.exploration import exploration, spectra
from jaxlab.papers.krr_covariate_shift.identities import identities
from jaxlab.papers.krr_covariate_shift.linearization import linearization

PARTS = (Part("linearization", linearization), Part("identities", identities),
         Part("bias_variance", bias_variance), Part("exploration", exploration),
         Part("spectra", spectra))


def prepare(config: Config) -> Keys:
  """Nothing to load (every check is the config's own): the run's keys."""
  return study_keys(config.seed)


def execute(config: Config, keys: Keys, wd: Workdir) -> dict[str, Any]:
  """Runs the parts of `config.studies`; returns results.json: curves, slopes, checks,
  observations, failed. metrics.jsonl gets one line per design (and the E2.5 spectra)."""
  record = Record(wd)
  h = cs.inner_product_fn(cs.INNER_PRODUCT_FNS[config.h])
  run_parts(PARTS, config.studies, Context(config, keys, h, record))
  results = record.results()
  logging.info("%d slopes, %d checks, %d failed%s", len(results["slopes"]),
               len(results["checks"]), len(results["failed"]),
               (": " + "; ".join(results["failed"])) if results["failed"] else "")
  return results


STUDY = Study(name="krr_covariate_shift", presets={"default": default, "smoke": smoke},
              prepare=prepare, execute=execute, plots=plots.plots, float64=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`) in float64: config.json, metrics.jsonl,
  results.json {"curves", "slopes", "checks", "observations", "failed", "wall_s"} and
  plots/{bias_variance, linearization_spectra}.{png,pdf}."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)
