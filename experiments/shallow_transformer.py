r"""Shallow encoder-only Transformer (paper 10, arXiv 2311.01575), an NTK-regime study: the
empirical NTK at init against width per (init, tau0), attention degeneration, GD against the
linearised bound, weight / NTK change against width, the initialisations at one step size and
the width needed against N. Runs in float64.

  python -m experiments.shallow_transformer \
      --flagfile=experiments/flags/shallow_transformer_smoke.flags --workdir=/tmp/st
  python -m experiments.shallow_transformer --config=smoke --gd.compare_init=he --workdir=/tmp/st2

Writes config.json, metrics.jsonl, sweeps/{ntk_init,gd,width}/sweep.jsonl, results.json
(`ntk_init`, `attention_slope`, `gd`, `weight_change_slope`, `ntk_change_slope`, `checks`) and
plots/{ntk_init,gd_dynamics,init_and_width}.{png,pdf}. The library function is
`jaxlab.papers.shallow_transformer.run(config, workdir)`, with the presets
`jaxlab.papers.shallow_transformer.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import shallow_transformer

main = common.make_main(shallow_transformer.STUDY)

if __name__ == "__main__":
  common.run(main)
