r"""Convergence of an encoder-only shallow Transformer (Wu et al., NeurIPS 2023): NTK at init vs
width per (initialisation, softmax scaling), attention degeneration, GD dynamics (contraction vs
the linearised bound, weight and NTK change vs width), a fixed-step comparison of
initialisations and the width needed vs the number of sequences.

  python -m experiments.shallow_transformer \
      --flagfile=experiments/flags/shallow_transformer_smoke.flags --workdir=/tmp/transformer

Writes config.json, metrics.jsonl, sweeps/{ntk_init,gd,width}/sweep.jsonl, results.json
(`ntk_init`, `attention_slope`, `gd`, `weight_change_slope`, `ntk_change_slope`, `checks`) and
plots/{ntk_init,gd_dynamics,init_and_width}.png. The library function is
`jaxlab.meanfield.transformer_study.run(config, workdir)`.
"""

from experiments import common
from jaxlab.meanfield import transformer_study

main = common.make_main(transformer_study.Config, transformer_study.run)

if __name__ == "__main__":
  common.run(main)
