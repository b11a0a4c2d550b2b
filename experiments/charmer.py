r"""Charmer (Abad Rocamora et al., ICML 2024): character-level attacks on tweet classifiers.

  python -m experiments.charmer --flagfile=experiments/flags/charmer_smoke.flags \
      --workdir=/tmp/charmer
  python -m experiments.charmer --config=smoke --cnn.filters=64 --k=1,2,5 --workdir=/tmp/c2
  python -m experiments.charmer --config=defence --victim_dir=DEFAULT_RUN/victims \
      --workdir=/tmp/charmer_defence

Trains (or reuses, `--victim_dir`) a character CNN and a character Transformer on the embedded
tweets (victim flag groups `--cnn.*`, `--transformer.*`), attacks a sample of test sentences
with Charmer, exhaustive greedy search, random edits and a DeepWordBug-style attack at budgets
k, and writes config.json, metrics.jsonl, attacks.jsonl (per sentence; `--resume` skips
finished ones), victims/<name>/, results.json and plots/asr_vs_k.{png,pdf}. The library
function is `jaxlab.papers.charmer.run(config, workdir)`, with the presets
`jaxlab.papers.charmer.default()` / `smoke()` / `defence()`.
"""

from experiments import common
from jaxlab.papers import charmer

main = common.make_main(charmer.STUDY)

if __name__ == "__main__":
  common.run(main)
