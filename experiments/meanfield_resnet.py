r"""Scaled deep ResNet in the mean-field regime (paper 7, arXiv 2403.09889): beta sweep (Gram
stability, linear rate vs the bound, displacement and KL vs beta), approach to the mean-field
limit over depth and width, generalisation gap vs n. Runs in float64.

  python -m experiments.meanfield_resnet \
      --flagfile=experiments/flags/meanfield_resnet_smoke.flags --workdir=/tmp/mf_resnet
  python -m experiments.meanfield_resnet --config=smoke --limit.num_seeds=2 --workdir=/tmp/mf

Writes config.json, metrics.jsonl, sweeps/{limit,generalisation}/sweep.jsonl, results.json
(`beta_sweep`, `displacement_exponent_head`, `displacement_exponent_resnet`, `limit_sweep`,
`gen_gap_slope`, `checks`) and plots/{beta_sweep,limit_and_generalisation}.{png,pdf}. The
library function is `jaxlab.papers.meanfield_resnet.run(config, workdir)`, with the presets
`jaxlab.papers.meanfield_resnet.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import meanfield_resnet

main = common.make_main(meanfield_resnet.STUDY)

if __name__ == "__main__":
  common.run(main)
