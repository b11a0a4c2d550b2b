"""Charmer (paper 4): E. Abad Rocamora, Y. Wu, F. Liu, G. G. Chrysos, V. Cevher, "Revisiting
Character-level Adversarial Attacks for Language Models", ICML 2024, arXiv:2405.04346.

  from jaxlab.papers import charmer
  results = charmer.run(charmer.smoke(), "/tmp/charmer")
  results["attacks"]["charmer"]["asr"], results["runs"], results["checks"]

Trains a char-CNN and a char-Transformer on real tweets and attacks test sentences with Charmer,
exhaustive greedy search, random edits and a DeepWordBug-style attack at several Levenshtein
budgets; optionally fine-tunes the char-CNN on Charmer examples and attacks it again.

Modules: `config` (`Config`, presets `default` / `smoke` / `defence`), `attacks` (the attacks
as typed records), `study` (`prepare`, `execute`, `STUDY`, `run`), `targets` (Charmer vs
exhaustive greedy and the baselines, as checks), `plots`. Uses the text core `jaxlab.text`
(`vocab`, `models`, `victim`, `slots`, `attack`, `charmer`, `baselines`, `metrics`), the
supervised pipeline `jaxlab.training.supervised` (through `text.victim`), `jaxlab.data`
(tweets) and the skeleton `jaxlab.experiment`.
"""

from jaxlab.papers.charmer.config import Config, default, defence, smoke
from jaxlab.papers.charmer.study import STUDY, execute, prepare, run

__all__ = ["Config", "STUDY", "default", "defence", "execute", "prepare", "run", "smoke"]
