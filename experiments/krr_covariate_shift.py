r"""Kernel ridge regression vs importance-weighted KRR under covariate shift in high dimension
(Chen et al., ICML 2024): linearisation error, exact identities, bias and variance against
n lambda, shift size and aspect ratio, spectra.

  python -m experiments.krr_covariate_shift \
      --flagfile=experiments/flags/krr_covariate_shift_smoke.flags --workdir=/tmp/krr_cs

Writes config.json, metrics.jsonl, results.json ({"curves", "slopes", "checks", ...}) and
plots/{bias_variance, linearization_spectra}.png. The library function is
`jaxlab.kernels.krr_covariate_shift.run(config, workdir)`.
"""

from experiments import common
from jaxlab.kernels import krr_covariate_shift

main = common.make_main(krr_covariate_shift.Config, krr_covariate_shift.run)

if __name__ == "__main__":
  common.run(main)
