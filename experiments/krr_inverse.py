r"""Kernel ridge(less) learning curves for an elliptic inverse problem on the 1D torus
(paper 2, Wong et al., arXiv 2406.09194): ridgeless variance phase diagram, inductive-bias
independence, oracle-ridge rates, saturation, bias-variance against the ridge.

  python -m experiments.krr_inverse --flagfile=experiments/flags/krr_inverse_smoke.flags \
      --workdir=/tmp/krr_inverse
  python -m experiments.krr_inverse --config=smoke --studies=phase,saturation --workdir=/tmp/inv

Writes config.json, metrics.jsonl, results.json ({"curves", "slopes", "checks",
"observations", "failed", "wall_s"}) and plots/{phase_diagram, learning_curves,
bias_variance}.{png,pdf}. The library function is `jaxlab.papers.krr_inverse.run(config,
workdir)`, with the presets `jaxlab.papers.krr_inverse.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import krr_inverse

main = common.make_main(krr_inverse.STUDY)

if __name__ == "__main__":
  common.run(main)
