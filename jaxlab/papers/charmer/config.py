"""Configs of the Charmer study: the victims as nested `VictimConfig`s, the attacks, budgets.

  config = default()                        # the study of experiments/flags/charmer.flags
  config = smoke()                          # one small char-CNN, 8 sentences, k = 1, 2
  config = dataclasses.replace(smoke(), k=(1, 2, 5))

On the command line a victim is a flag group: `--cnn.filters=32`, `--cnn.num_epochs=1`,
`--transformer.optim.learning_rate=1e-3`.
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require, require_choice, require_choices
from jaxlab.papers.charmer.attacks import NAMES as ATTACKS
from jaxlab.text.attack import LOSSES
from jaxlab.text.models import MODELS
from jaxlab.text.victim import VictimConfig
from jaxlab.training.optim import OptimConfig

ALPHABETS = ("letters", "printable", "split")
TASKS = ("binary", "three_class")

CNN = VictimConfig(model="cnn", embed_dim=32, filters=64, hidden=128, num_epochs=8,
                   optim=OptimConfig(optimizer="adamw", learning_rate=2e-3, schedule="cosine",
                                     weight_decay=1e-2))
TRANSFORMER = VictimConfig(model="transformer", width=64, depth=2, num_heads=4, patch_size=4,
                           num_epochs=4,
                           optim=OptimConfig(optimizer="adamw", learning_rate=1e-3,
                                             schedule="cosine", weight_decay=1e-2))


@dataclasses.dataclass(frozen=True)
class Config:
  """Charmer attacks on character-level tweet classifiers.

  Attributes:
    task: tweets task: binary (negative vs positive, balanced) or three_class.
    victims: victims to train (or reuse) and attack: cnn, transformer.
    victim_dir: reuse the victims an earlier run trained (its DIR/victims) instead of training;
      their configs, seed and data must match this run's.
    train_examples: train the victims on a seeded subset of this many training sentences (0,
      or more than the split: all).
    cnn: the char-CNN victim (model cnn).
    transformer: the char-Transformer victim (model transformer).
    attacks: attacks to run: charmer, exhaustive (greedy over all slots), random (random
      single-character edits), random_search (n(|alphabet|+1) random edits per step, as many as
      Charmer's symbol search), deepwordbug.
    k: Levenshtein budgets to report.
    n: Charmer's number of top slots per step (20 in the paper's scripts).
    alphabet: symbols that may be inserted or substituted: letters (a-z, the reference's
      --only_letters), printable (printable ASCII), split (every character of the attacked
      sentences, as the reference).
    loss: attack loss: margin (the paper's) or ce.
    num_examples: test sentences attacked (a seeded sample of the test split).
    query_batch_size: most strings per forward pass of the victim (a power of two).
    defence: adversarially fine-tune the cnn victim on Charmer examples of training sentences
      and attack it again (ASR before / after).
    defence_examples: training sentences attacked to build the adversarial training set.
    defence_epochs: fine-tuning epochs on training + adversarial sentences.
    show_examples: adversarial sentences per victim written to the log and results.
    embedding_model: path of an offline sentence-transformers model for an extra embedding
      similarity (empty: character n-gram cosine only).
    seed: seed of the data subset, sentence sample, victims and random attacks.
  """

  task: str = "binary"
  victims: tuple[str, ...] = ("cnn", "transformer")
  victim_dir: str = ""
  train_examples: int = 0
  cnn: VictimConfig = CNN
  transformer: VictimConfig = TRANSFORMER
  attacks: tuple[str, ...] = ("charmer", "exhaustive", "random", "deepwordbug")
  k: tuple[int, ...] = (1, 2, 5, 10)
  n: int = 20
  alphabet: str = "letters"
  loss: str = "margin"
  num_examples: int = 300
  query_batch_size: int = 1024
  defence: bool = False
  defence_examples: int = 500
  defence_epochs: int = 2
  show_examples: int = 3
  embedding_model: str = ""
  seed: int = 0

  def __post_init__(self):
    require_choice(self.task, "task", TASKS)
    require_choices(self.victims, "victims", MODELS)
    require(len(set(self.victims)) == len(self.victims), "victims",
            f"must name distinct victims, got {self.victims}")
    for name in MODELS:
      require(getattr(self, name).model == name, f"{name}.model",
              f"the {name} victim is a {name}, got {getattr(self, name).model!r}")
    require(self.train_examples >= 0, "train_examples",
            f"must be >= 0 (0: all), got {self.train_examples}")
    require_choices(self.attacks, "attacks", ATTACKS)
    require(len(set(self.attacks)) == len(self.attacks), "attacks",
            f"must name distinct attacks, got {self.attacks}")
    require(len(self.k) >= 1 and all(k >= 1 for k in self.k) and list(self.k) == sorted(
        set(self.k)), "k", f"must be increasing budgets >= 1, got {self.k}")
    for name in ("n", "num_examples", "query_batch_size", "defence_examples", "defence_epochs"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.query_batch_size & (self.query_batch_size - 1) == 0, "query_batch_size",
            f"must be a power of two, got {self.query_batch_size}")
    require_choice(self.alphabet, "alphabet", ALPHABETS)
    require_choice(self.loss, "loss", LOSSES)
    require(not self.defence or "cnn" in self.victims, "defence",
            "adversarial training is run on the cnn victim; add cnn to --victims")
    require(self.show_examples >= 0, "show_examples", f"must be >= 0, got {self.show_examples}")


def default() -> Config:
  """Both victims on the binary tweets, 300 test sentences, k in {1, 2, 5, 10}, n = 20 top
  slots, margin loss, Gamma = a-z (the reference's --only_letters): with 27 symbols exhaustive
  greedy costs (2m + 1) 27 ~ 6k queries per step on a 110-character tweet, which keeps the
  study within tens of minutes on 2 CPU cores."""
  return Config()


def smoke() -> Config:
  """A small char-CNN (32 filters) trained for one epoch, 8 test sentences, k in {1, 2}, all
  four attacks: about a minute on 2 CPU cores."""
  return Config(victims=("cnn",), cnn=dataclasses.replace(CNN, filters=32, num_epochs=1),
                k=(1, 2), num_examples=8)


def defence() -> Config:
  """The default study's char-CNN, adversarially fine-tuned for 2 epochs on Charmer examples
  (k = 10) of 500 training tweets, then attacked with Charmer again. Reuse the default run's
  victims with `--victim_dir=DEFAULT_RUN/victims`."""
  return dataclasses.replace(default(), victims=("cnn",), attacks=("charmer",), defence=True,
                             defence_examples=500, defence_epochs=2)
