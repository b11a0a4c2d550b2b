"""Paper 1: MEHL-Soup. T. Li, W. Jiang, F. Liu, X. Huang, J. T. Kwok, *Learning Scalable Model
Soup on a Single GPU: An Efficient Subspace Training Strategy*, ECCV 2024, arXiv 2407.03641;
against the model soups of Wortsman et al., ICML 2022, arXiv 2203.05482.

  from jaxlab.papers import mehl_soup
  results = mehl_soup.run(mehl_soup.smoke(), "/tmp/soup")      # about a minute of CPU
  results["methods"]["mehl_plus"]["diff_best"]                 # paired by seed: mean, se
  results["methods"]["mehl_plus"]["peak_bytes"]                # < Learned-Soup+'s

Modules: `config` (`Config`, presets `default`, `smoke`, `ablation`, `cifar10`), `study`
(`prepare`, `execute`, `STUDY`, `run`), `pipeline` (one seed: start, ingredients, soups,
robustness), `methods` (the soups as typed `Method` records), `ingredients` (the shared start
and the K fine-tunes, resumable), `robustness` (remove the top-k ingredients, rebuild),
`summary` (the tables over seeds and the checks), `ablation_grid` (the learning-rate x
pre-training grid), `evaluation`, `memory_vs_k`, `plots`.

Uses the soups core `jaxlab.soups` (`uniform`, `greedy`, `learned`, `mehl`, `ingredients`,
`combine`, `memory`), `jaxlab.training.supervised.fit_classifier` (through the soups core),
`jaxlab.data` (`DataConfig`), `jaxlab.models` (`ModelConfig`) and the skeleton
`jaxlab.experiment`. Entry point: `python -m experiments.mehl_soup`.
"""

from jaxlab.papers.mehl_soup.config import Ablation, Config, ablation, cifar10, default, smoke
from jaxlab.papers.mehl_soup.methods import METHOD_NAMES, METHODS, Method
from jaxlab.papers.mehl_soup.study import STUDY, prepare, run

__all__ = ["Ablation", "Config", "METHODS", "METHOD_NAMES", "Method", "STUDY", "ablation",
           "cifar10", "default", "prepare", "run", "smoke"]
