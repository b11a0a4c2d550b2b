r"""MEHL-Soup versus the model-soup baselines (uniform, greedy, Learned-Soup(+), best single).

  python -m experiments.mehl_soup --flagfile=experiments/flags/mehl_soup.flags \
      --workdir=runs/mehl_soup
  python -m experiments.mehl_soup --config=smoke --num_ingredients=8 --workdir=/tmp/soup

Pre-trains a shared start, fine-tunes --num_ingredients ingredients from it with random
recipes (one checkpoint each), builds every soup of --methods on val, and writes
config.json, metrics.jsonl, results.json (per method: test_acc, val_acc, peak_bytes,
peak_rss_bytes, coef_wall_s), plots/accuracy.{png,pdf}, plots/memory_vs_k.{png,pdf},
ingredients/ and soups/. --resume continues an interrupted run without re-training finished
ingredients. The library function is `jaxlab.papers.mehl_soup.run(config, workdir)`, with the
presets `mehl_soup.default()` / `smoke()` / `cifar10()`.
"""

from experiments import common
from jaxlab.papers import mehl_soup

main = common.make_main(mehl_soup.STUDY)

if __name__ == "__main__":
  common.run(main)
