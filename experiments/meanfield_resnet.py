r"""Scaled deep ResNet in the mean-field regime (Chen et al., ICLR 2024): beta sweep (Gram
stability, linear rate vs the bound, displacement and KL vs beta), approach to the mean-field
limit over depth and width, generalisation gap vs n.

  python -m experiments.meanfield_resnet \
      --flagfile=experiments/flags/meanfield_resnet_smoke.flags --workdir=/tmp/mf_resnet

Writes config.json, metrics.jsonl, sweeps/{limit,generalisation}/sweep.jsonl, results.json
(`beta_sweep`, `displacement_exponent_head`, `displacement_exponent_resnet`, `limit_sweep`,
`gen_gap_slope`, `checks`) and plots/{beta_sweep,limit_and_generalisation}.png. The library
function is `jaxlab.meanfield.resnet_study.run(config, workdir)`.
"""

from experiments import common
from jaxlab.meanfield import resnet_study

main = common.make_main(resnet_study.Config, resnet_study.run)

if __name__ == "__main__":
  common.run(main)
