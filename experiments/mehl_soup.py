r"""MEHL-Soup versus the model-soup baselines (uniform, greedy, Learned-Soup(+), best single).

  python -m experiments.mehl_soup --flagfile=experiments/flags/mehl_soup.flags \
      --workdir=runs/mehl_soup

Pre-trains a shared start, fine-tunes --num_ingredients ingredients from it with random
recipes (one checkpoint each), builds every soup of --methods on val, and writes
config.json, metrics.jsonl, results.json (per method: test_acc, val_acc, peak_bytes,
peak_rss_bytes, coef_wall_s), plots/accuracy.png, plots/memory_vs_k.png, ingredients/ and
soups/. --resume continues an interrupted run without re-training finished ingredients. The
library function is `jaxlab.soups.experiment.run(config, workdir)`.
"""

from experiments import common
from jaxlab.soups import experiment

main = common.make_main(experiment.Config, experiment.run, resumable=True)

if __name__ == "__main__":
  common.run(main)
