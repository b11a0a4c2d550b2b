r"""Charmer (Abad Rocamora et al., ICML 2024): character-level attacks on tweet classifiers.

  python -m experiments.charmer --flagfile=experiments/flags/charmer_smoke.flags \
      --workdir=/tmp/charmer

Trains (or reuses, `--victim_dir`) a character CNN and a character Transformer on the embedded
tweets, attacks a sample of test sentences with Charmer, exhaustive greedy search, random edits
and a DeepWordBug-style attack at budgets k, and writes config.json, metrics.jsonl,
attacks.jsonl (per sentence; `--resume` skips finished ones), results.json and
plots/asr_vs_k.png. The library function is `jaxlab.text.charmer_study.run(config, workdir)`.
"""

from experiments import common
from jaxlab.text import charmer_study

main = common.make_main(charmer_study.Config, charmer_study.run, resumable=True)

if __name__ == "__main__":
  common.run(main)
