r"""Norm-constrained two-layer ReLU networks (paper 5, arXiv 2404.18769): the Rademacher
complexity of the path-norm ball (E3.1), the gap against the width at a fixed path-norm budget
(E3.2), the network's learning curve against n^-(d+2)/(2d+2) (E3.3) and arc-cosine KRR on the
same teachers (E3.4), in float64.

  python -m experiments.path_norm --flagfile=experiments/flags/path_norm_smoke.flags \
      --workdir=/tmp/path_norm
  python -m experiments.path_norm --flagfile=experiments/flags/path_norm.flags \
      --workdir=runs/path_norm            # add --resume to continue a killed run

Writes config.json, points.jsonl (one line per finished (part, d, n, seed, ...) point; read
back by --resume), results.json (`rademacher`, `width_sweep`, `learning_curve`,
`krr_baseline`, `checks`, `timing`) and plots/{rademacher,width_sweep,learning_curve}.{png,pdf}.
The library function is `jaxlab.papers.path_norm.run(config, workdir)`, with the presets
`path_norm.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import path_norm

main = common.make_main(path_norm.STUDY)

if __name__ == "__main__":
  common.run(main)
