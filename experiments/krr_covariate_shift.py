r"""Kernel ridge regression vs importance-weighted KRR under covariate shift in high dimension
(paper 3, Chen et al., ICML 2024, arXiv 2406.03171): linearisation error, exact identities,
bias and variance against n lambda, shift size and aspect ratio, spectra.

  python -m experiments.krr_covariate_shift \
      --flagfile=experiments/flags/krr_covariate_shift_smoke.flags --workdir=/tmp/krr_cs
  python -m experiments.krr_covariate_shift --config=smoke --studies=identities --workdir=/tmp/id

Writes config.json, metrics.jsonl, results.json ({"curves", "slopes", "checks",
"observations", "failed", "wall_s"}) and plots/{bias_variance,
linearization_spectra}.{png,pdf}. The library function is
`jaxlab.papers.krr_covariate_shift.run(config, workdir)`, with the presets
`jaxlab.papers.krr_covariate_shift.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import krr_covariate_shift

main = common.make_main(krr_covariate_shift.STUDY)

if __name__ == "__main__":
  common.run(main)
