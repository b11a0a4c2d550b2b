r"""MEHL-Soup versus the model-soup baselines (uniform, greedy, Learned-Soup(+), best single).

  python -m experiments.mehl_soup --flagfile=experiments/flags/mehl_soup.flags \
      --workdir=runs/mehl_soup
  python -m experiments.mehl_soup --config=smoke --num_ingredients=8 --workdir=/tmp/soup

For every seed of --seeds (each re-draws the split, the shared start and the recipes):
pre-trains a shared start, fine-tunes --num_ingredients ingredients from it with random
recipes (one checkpoint each), builds every soup of --methods on val, and rebuilds greedy and
MEHL-Soup+ without the top --drop_top ingredients. Writes config.json, metrics.jsonl,
seeds.jsonl, results.json (per method: test_acc mean / std over seeds, diff_best = the
difference against the val-picked best single model paired by seed with its standard error,
val_acc, peak_bytes, peak_rss_bytes, coef_wall_s; robustness; effective_weights; checks),
plots/accuracy.{png,pdf}, plots/memory_vs_k.{png,pdf} and seed_<s>/{ingredients,soups}/.
--config=ablation runs the study over a grid of fine-tuning learning-rate ranges and
pre-training strengths instead (plots/ablation). --resume keeps finished seeds and
ingredients. A coefficient fit that diverges (e.g. --coef_lr=1e30) stops with exit code 3.
The library function is `jaxlab.papers.mehl_soup.run(config, workdir)`, with the presets
`mehl_soup.default()` / `smoke()` / `ablation()` / `cifar10()`. Results: docs/papers/mehl_soup.md.
"""

from experiments import common
from jaxlab.papers import mehl_soup

main = common.make_main(mehl_soup.STUDY)

if __name__ == "__main__":
  common.run(main)
