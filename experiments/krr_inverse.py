r"""Kernel ridge(less) learning curves for an elliptic inverse problem on the 1D torus
(Wong et al. 2024): ridgeless variance phase diagram, inductive-bias independence, oracle-ridge
rates, saturation, bias-variance against the ridge.

  python -m experiments.krr_inverse --flagfile=experiments/flags/krr_inverse_smoke.flags \
      --workdir=/tmp/krr_inverse

Writes config.json, metrics.jsonl, results.json ({"curves", "slopes", "checks", ...}) and
plots/{phase_diagram, learning_curves, bias_variance}.png. The library function is
`jaxlab.kernels.krr_inverse.run(config, workdir)`.
"""

from experiments import common
from jaxlab.kernels import krr_inverse

main = common.make_main(krr_inverse.Config, krr_inverse.run)

if __name__ == "__main__":
  common.run(main)
