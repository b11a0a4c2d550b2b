"""The Charmer study: train character-level victims on real tweets, attack them with Charmer and
the baselines at several budgets, and write the experiment contract outputs.

  from jaxlab.text import charmer_study
  results = charmer_study.run(charmer_study.Config(victims=("cnn",), num_examples=20,
                                                   k=(1, 2), cnn_epochs=1), "/tmp/charmer")
  results["attacks"]["charmer"]["asr"]          # ASR of the first victim at the largest k

The library function behind `python -m experiments.charmer`. Every attacked example is appended
to DIR/attacks.jsonl as soon as it is done, so `--resume` skips finished examples; trained victims
live in DIR/victims/<name> and are reused by `--resume` or, from an earlier run, `--victim_dir`.
Greedy attacks whose trajectory does not depend on the budget (Charmer, exhaustive greedy and the
random ones) run once at the largest k; the smaller budgets are read off their trajectories
(`AttackResult.at_budget`). DeepWordBug's last move depends on the budget (a swap costs 2
edits), so it runs once per k.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import string
import time
from typing import Any, Callable

import jax
import numpy as np
from absl import logging

from jaxlab import data as data_lib
from jaxlab import plotting
from jaxlab.config import ConfigError, require, require_choice, to_dict
from jaxlab.text import baselines, charmer, metrics, victim
from jaxlab.text.attack import LOSSES, AttackResult
from jaxlab.text.models import MODELS
from jaxlab.text.vocab import BUCKETS, PRINTABLE
from jaxlab.workdir import Workdir, to_jsonable

RECORDS = "attacks.jsonl"
VICTIMS = "victims"
ATTACKS = ("charmer", "exhaustive", "random", "random_search", "deepwordbug")
ANYTIME = ("charmer", "exhaustive", "random", "random_search")
ALPHABETS = ("letters", "printable", "split")
DEFENDED = "cnn_defended"


@dataclasses.dataclass(frozen=True)
class Config:
  """Charmer attacks on character-level tweet classifiers.

  Attributes:
    task: tweets task: binary (negative vs positive, balanced) or three_class.
    victims: victims to train (or reuse) and attack: cnn, transformer.
    victim_dir: reuse the victims an earlier run trained (its DIR/victims) instead of training;
      their configs must match this one.
    train_examples: train the victims on a seeded subset of this many training sentences (0: all).
    embed_dim: CharCNN character embedding width.
    cnn_filters: CharCNN filters per kernel size (3, 5, 7).
    cnn_hidden: CharCNN hidden dense width.
    cnn_epochs: CharCNN training epochs.
    cnn_learning_rate: CharCNN peak learning rate (adamw, cosine).
    transformer_width: CharTransformer token width.
    transformer_depth: CharTransformer encoder blocks.
    transformer_heads: CharTransformer attention heads.
    transformer_patch: characters per CharTransformer token.
    transformer_epochs: CharTransformer training epochs.
    transformer_learning_rate: CharTransformer peak learning rate (adamw, cosine).
    weight_decay: adamw weight decay of both victims.
    batch_size: training batch size.
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
    defence: adversarially fine-tune the cnn victim on Charmer examples of training sentences and
      attack it again (ASR before / after).
    defence_examples: training sentences attacked to build the adversarial training set.
    defence_epochs: fine-tuning epochs on training + adversarial sentences.
    show_examples: adversarial sentences per victim written to the log.
    embedding_model: path of an offline sentence-transformers model for an extra embedding
      similarity (empty: character n-gram cosine only).
    seed: seed of the data split, victims, sentence sample and random attacks.
  """

  task: str = "binary"
  victims: tuple[str, ...] = ("cnn", "transformer")
  victim_dir: str = ""
  train_examples: int = 0
  embed_dim: int = 32
  cnn_filters: int = 64
  cnn_hidden: int = 128
  cnn_epochs: int = 8
  cnn_learning_rate: float = 2e-3
  transformer_width: int = 64
  transformer_depth: int = 2
  transformer_heads: int = 4
  transformer_patch: int = 4
  transformer_epochs: int = 4
  transformer_learning_rate: float = 1e-3
  weight_decay: float = 1e-2
  batch_size: int = 64
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
    require_choice(self.task, "task", ("binary", "three_class"))
    require(len(self.victims) >= 1 and len(set(self.victims)) == len(self.victims), "victims",
            f"must name distinct victims, got {self.victims}")
    for name in self.victims:
      require_choice(name, "victims", MODELS)
    require(not self.victim_dir or os.path.isdir(self.victim_dir), "victim_dir",
            f"{self.victim_dir} is not a directory (pass DIR/victims of an earlier run)")
    for name in ("embed_dim", "cnn_filters", "cnn_hidden", "cnn_epochs", "transformer_width",
                 "transformer_depth", "transformer_heads", "transformer_patch",
                 "transformer_epochs", "batch_size", "n", "num_examples", "query_batch_size",
                 "defence_examples", "defence_epochs"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.train_examples >= 0, "train_examples",
            f"must be >= 0 (0: all), got {self.train_examples}")
    require(self.query_batch_size & (self.query_batch_size - 1) == 0, "query_batch_size",
            f"must be a power of two, got {self.query_batch_size}")
    require(self.transformer_width % self.transformer_heads == 0, "transformer_heads",
            f"must divide transformer_width ({self.transformer_width})")
    require(all(b % self.transformer_patch == 0 for b in BUCKETS), "transformer_patch",
            f"must divide the length buckets {BUCKETS}")
    for name in ("cnn_learning_rate", "transformer_learning_rate"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
    require(len(self.attacks) >= 1 and len(set(self.attacks)) == len(self.attacks), "attacks",
            f"must name distinct attacks, got {self.attacks}")
    for name in self.attacks:
      require_choice(name, "attacks", ATTACKS)
    require(len(self.k) >= 1 and all(k >= 1 for k in self.k) and list(self.k) == sorted(
        set(self.k)), "k", f"must be increasing budgets >= 1, got {self.k}")
    require_choice(self.alphabet, "alphabet", ALPHABETS)
    require_choice(self.loss, "loss", LOSSES)
    require(not self.defence or "cnn" in self.victims, "defence",
            "adversarial training is run on the cnn victim; add cnn to --victims")
    require(self.show_examples >= 0, "show_examples", f"must be >= 0, got {self.show_examples}")
    if self.embedding_model:
      require(importlib.util.find_spec("sentence_transformers") is not None, "embedding_model",
              "needs the sentence-transformers package (pip install sentence-transformers)")
      require(os.path.isdir(self.embedding_model), "embedding_model",
              f"{self.embedding_model} is not a directory holding an offline model")


def victim_spec(config: Config, name: str, ds: data_lib.Dataset) -> victim.VictimSpec:
  """The spec of victim `name` under `config`."""
  common = dict(model=name, num_classes=ds.num_classes, weight_decay=config.weight_decay,
                batch_size=config.batch_size, seed=config.seed, data=ds.summary())
  if name == "cnn":
    return victim.VictimSpec(embed_dim=config.embed_dim, filters=config.cnn_filters,
                             hidden=config.cnn_hidden, num_epochs=config.cnn_epochs,
                             learning_rate=config.cnn_learning_rate, **common)
  return victim.VictimSpec(width=config.transformer_width, depth=config.transformer_depth,
                           num_heads=config.transformer_heads,
                           patch_size=config.transformer_patch,
                           num_epochs=config.transformer_epochs,
                           learning_rate=config.transformer_learning_rate, **common)


def obtain_victim(config: Config, name: str, ds: data_lib.Dataset, wd: Workdir
                  ) -> tuple[victim.Victim, dict[str, Any], str]:
  """The trained victim `name`: from --victim_dir, from this workdir (resume), or trained now.
  Returns the victim, its training results and its directory."""
  spec = victim_spec(config, name, ds)
  if config.victim_dir:
    path = os.path.abspath(os.path.join(config.victim_dir, name))
    if not victim.is_trained(path):
      raise ConfigError("victim_dir", f"no trained {name} victim in {path}")
    found, results = victim.load(path)
    stored, wanted = to_jsonable(found.spec.to_json()), to_jsonable(spec.to_json())
    diff = sorted(k for k in wanted if stored.get(k) != wanted.get(k))
    require(not diff, "victim_dir", f"the {name} victim in {path} was trained with another "
            f"config ({', '.join(f'{k}: {stored.get(k)!r} != {wanted.get(k)!r}' for k in diff)})")
    logging.info("reusing the %s victim in %s", name, path)
    return found, results, path
  path = wd.file(os.path.join(VICTIMS, name))
  if victim.is_trained(path):
    found, results = victim.load(path)
    logging.info("reusing the %s victim trained in %s", name, path)
    return found, results, path
  trained, results = victim.train(spec, ds, Workdir(path, resume=True))
  return trained, results, path


def make_alphabet(name: str, texts) -> str:
  if name == "letters":
    return string.ascii_lowercase
  if name == "printable":
    return PRINTABLE
  return "".join(sorted(set("".join(texts))))


def make_attack(name: str, config: Config, score_fn, alphabet: str, key: jax.Array
                ) -> Callable[[str, int, int, int], AttackResult]:
  """`attack(text, label, k, index) -> AttackResult` for the attack `name`; random draws use
  `fold_in(key, index)`."""
  common = dict(alphabet=alphabet, loss=config.loss)
  if name == "charmer":
    return lambda t, y, k, i: charmer.charmer(score_fn, t, y, k=k, n=config.n, **common)
  if name == "exhaustive":
    return lambda t, y, k, i: charmer.exhaustive_greedy(score_fn, t, y, k=k, **common)
  if name in ("random", "random_search"):
    q = 1 if name == "random" else config.n * (len(alphabet) + 1)
    return lambda t, y, k, i: baselines.random_edits(
        score_fn, t, y, k=k, key=jax.random.fold_in(key, i), num_candidates=q, **common)
  if name == "deepwordbug":
    return lambda t, y, k, i: baselines.deepwordbug(
        score_fn, t, y, k=k, key=jax.random.fold_in(key, i), **common)
  raise ValueError(f"unknown attack {name!r}; valid attacks: {', '.join(ATTACKS)}")


def attack_all(attack, texts, labels, *, victim_name: str, attack_name: str, budget: int,
               wd: Workdir, done: dict, log_every: int = 25) -> list[AttackResult]:
  """Runs `attack` on every sentence, reusing finished records from `done` and appending new
  ones to attacks.jsonl at once; logs progress."""
  out, t0, new = [], time.perf_counter(), 0
  for i, (text, label) in enumerate(zip(texts, labels)):
    key = (victim_name, attack_name, budget, i)
    result = done.get(key)
    if result is None or result.original != text:
      result = attack(str(text), int(label), budget, i)
      wd.append_jsonl(RECORDS, {"victim": victim_name, "attack": attack_name, "budget": budget,
                                "index": i, "result": result.to_json()})
      done[key] = result
      new += 1
    out.append(result)
    if (i + 1) % log_every == 0 or i + 1 == len(texts):
      s = metrics.summarize(out, budget)
      progress = {"phase": "attack", "victim": victim_name, "attack": attack_name,
                  "budget": budget, "done": i + 1, "asr": s["asr"],
                  "mean_queries": s["mean_queries"], "elapsed_s": time.perf_counter() - t0}
      wd.log(i + 1, progress)
      logging.info("%s / %s k=%d: %d/%d (%d new), asr %.3f, mean queries %.0f, %.0fs",
                   victim_name, attack_name, budget, i + 1, len(texts), new, s["asr"],
                   s["mean_queries"], progress["elapsed_s"])
  return out


def run_attacks(config: Config, names, score_fn, texts, labels, alphabet: str, key: jax.Array,
                victim_name: str, wd: Workdir, done: dict, embed_fn=None
                ) -> dict[int, dict[str, dict[str, float]]]:
  """`{k: {attack: summary}}` of the attacks `names` on one victim."""
  by_k: dict[int, dict[str, dict[str, float]]] = {k: {} for k in config.k}
  for name in names:
    attack = make_attack(name, config, score_fn, alphabet,
                         jax.random.fold_in(key, ATTACKS.index(name)))
    budgets = [max(config.k)] if name in ANYTIME else list(config.k)
    for budget in budgets:
      results = attack_all(attack, texts, labels, victim_name=victim_name, attack_name=name,
                           budget=budget, wd=wd, done=done)
      for k in config.k:
        if name in ANYTIME:
          at_k = [r.at_budget(k) for r in results]
        elif k == budget:
          at_k = results
        else:
          continue
        by_k[k][name] = metrics.summarize(at_k, k, embed_fn=embed_fn)
  return by_k


def check_targets(victim_name: str, k: int, attacks: dict[str, dict[str, float]]
                  ) -> dict[str, Any] | None:
  """The issue's targets at one (victim, k): Charmer's ASR >= 95% of exhaustive greedy's with
  >= 5x fewer mean queries, and higher than random's and DeepWordBug's."""
  if "charmer" not in attacks or "exhaustive" not in attacks:
    return None
  c, e = attacks["charmer"], attacks["exhaustive"]
  row = {"victim": victim_name, "k": k,
         "asr_ratio_vs_exhaustive": c["asr"] / e["asr"] if e["asr"] else float("nan"),
         "query_ratio_exhaustive_over_charmer": e["mean_queries"] / c["mean_queries"]}
  met = row["asr_ratio_vs_exhaustive"] >= 0.95 and row["query_ratio_exhaustive_over_charmer"] >= 5
  for other in ("random", "deepwordbug"):
    if other in attacks:
      row[f"asr_minus_{other}"] = c["asr"] - attacks[other]["asr"]
      met = met and row[f"asr_minus_{other}"] > 0
  row["met"] = bool(met)
  return row


def plot_asr_vs_k(runs: list[dict[str, Any]], wd: Workdir) -> str:
  names = list(dict.fromkeys(r["victim"] for r in runs))
  fig, axes = plotting.figure(2, len(names))
  axes = np.reshape(axes, (2, len(names)))
  for col, name in enumerate(names):
    rows = [r for r in runs if r["victim"] == name]
    attacks = list(dict.fromkeys(a for r in rows for a in r["attacks"]))
    for attack in attacks:
      ks = [r["k"] for r in rows if attack in r["attacks"]]
      axes[0, col].plot(ks, [r["attacks"][attack]["asr"] for r in rows if attack in r["attacks"]],
                        marker="o", label=attack)
      axes[1, col].plot(ks, [r["attacks"][attack]["mean_queries"] for r in rows
                             if attack in r["attacks"]], marker="o", label=attack)
    axes[0, col].set(xlabel="budget k (Levenshtein)", ylabel="attack success rate",
                     title=f"{name} (clean acc {rows[0]['clean_acc']:.2f})", ylim=(-0.02, 1.02),
                     xscale="log")
    axes[1, col].set(xlabel="budget k (Levenshtein)", ylabel="mean queries per sentence",
                     xscale="log", yscale="log")
    for ax in axes[:, col]:
      ax.set_xticks([r["k"] for r in rows], [str(r["k"]) for r in rows])
      ax.grid(alpha=0.3)
      ax.legend(fontsize=8)
  return wd.save_figure(fig, "asr_vs_k")


def log_examples(name: str, results: list[AttackResult], count: int) -> list[dict[str, Any]]:
  shown = [r for r in results if r.success][:count]
  for r in shown:
    logging.info("%s adversarial example (label %d, %d edits, %d queries):\n  original:    %r\n"
                 "  adversarial: %r", name, r.label, r.lev, r.queries, r.original, r.text)
  return [{"label": r.label, "original": r.original, "adversarial": r.text, "lev": r.lev,
           "queries": r.queries} for r in shown]


def defend(config: Config, ds: data_lib.Dataset, base: victim.Victim, score_fn, alphabet: str,
           key: jax.Array, wd: Workdir, done: dict) -> tuple[victim.Victim, dict[str, Any]]:
  """Adversarial fine-tuning of the cnn victim: Charmer examples (budget max k) of
  `defence_examples` training sentences, added to the training set with their true labels."""
  k = max(config.k)
  order = np.asarray(jax.random.permutation(key, len(ds.train)))[:config.defence_examples]
  attack = make_attack("charmer", config, score_fn, alphabet, key)
  results = attack_all(attack, ds.train.x[order], ds.train.y[order], victim_name="cnn",
                       attack_name="defence_train", budget=k, wd=wd, done=done)
  adv = [r for r in results if r.success]
  logging.info("defence: %d adversarial training sentences from %d attacked", len(adv),
               sum(r.attacked for r in results))
  path = wd.file(os.path.join(VICTIMS, DEFENDED))
  if victim.is_trained(path):
    return victim.load(path)
  spec = dataclasses.replace(
      base.spec, num_epochs=config.defence_epochs,
      data={**base.spec.data, "adversarial": {"attack": "charmer", "k": k, "n": config.n,
                                              "alphabet": config.alphabet,
                                              "examples": len(adv), "finetuned_from": "cnn"}})
  return victim.train(spec, ds, Workdir(path, resume=True),
                      extra_train=([r.text for r in adv], [r.label for r in adv]),
                      init_params=base.params)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Trains (or reuses) the victims, attacks `num_examples` test sentences with every attack at
  every budget, and writes config.json, metrics.jsonl (attack progress), attacks.jsonl (one
  record per attacked sentence), results.json and plots/asr_vs_k.png.

  Returns:
    The results dict: clean_acc, num_attacked, k and attacks (per attack: asr, mean_lev,
    max_lev, mean_queries, mean_similarity, wall_s) of the first victim at the largest k; every
    (victim, k) in `runs`; the targets check in `targets`; victims' test accuracies; examples;
    and, with `defence`, the ASR before and after adversarial fine-tuning.
  """
  t_start = time.perf_counter()
  ds = data_lib.load("tweets", seed=config.seed, task=config.task)
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite,
                                                            resume=resume)
  wd.write_config(to_dict(config))
  key = jax.random.key(config.seed)
  sample_key, attack_key, defence_key, subset_key = jax.random.split(key, 4)
  del key
  if config.train_examples and config.train_examples < len(ds.train):
    keep = np.sort(np.asarray(jax.random.permutation(subset_key, len(ds.train)))[
        :config.train_examples])
    ds = dataclasses.replace(ds, train=data_lib.Split(ds.train.x[keep], ds.train.y[keep]))
  sample = np.asarray(jax.random.permutation(sample_key, len(ds.test)))[:config.num_examples]
  texts, labels = ds.test.x[sample], ds.test.y[sample]
  alphabet = make_alphabet(config.alphabet, texts)
  logging.info("attacking %d test sentences; alphabet (%d symbols): %r", len(texts),
               len(alphabet), alphabet)
  embed_fn = None
  if config.embedding_model:
    from sentence_transformers import SentenceTransformer  # pylint: disable=g-import-not-at-top
    embed_fn = SentenceTransformer(config.embedding_model, device="cpu").encode
  done = {(r["victim"], r["attack"], r["budget"], r["index"]): AttackResult.from_json(r["result"])
          for r in wd.read_jsonl(RECORDS)}
  if done:
    logging.info("resuming: %d attacked sentences already recorded", len(done))

  victims = {name: obtain_victim(config, name, ds, wd) for name in config.victims}
  runs, examples, info = [], {}, {}
  for vi, name in enumerate(config.victims):
    model, train_results, path = victims[name]
    score_fn = victim.make_score_fn(model, config.query_batch_size)
    clean = np.argmax(score_fn(list(texts)), axis=-1) == labels
    info[name] = {"test_acc": train_results["test_acc"], "val_acc": train_results["val_acc"],
                  "num_params": train_results["num_params"], "dir": path}
    logging.info("%s: test accuracy %.4f (full test split), %.4f on the %d attacked sentences",
                 name, train_results["test_acc"], clean.mean(), len(texts))
    by_k = run_attacks(config, config.attacks, score_fn, texts, labels, alphabet,
                       jax.random.fold_in(attack_key, vi), name, wd, done, embed_fn)
    for k in config.k:
      counts = {s["num_attacked"] for s in by_k[k].values()}
      if counts != {int(clean.sum())}:
        raise AssertionError(f"attacks disagree on the originally-correct sentences: {counts}")
      runs.append({"victim": name, "k": k, "clean_acc": float(clean.mean()),
                   "num_attacked": int(clean.sum()), "attacks": by_k[k]})
    if "charmer" in config.attacks:
      key_ = (name, "charmer", max(config.k))
      examples[name] = log_examples(name, [done[key_ + (i,)] for i in range(len(texts))],
                                    config.show_examples)

  results: dict[str, Any] = {}
  headline = [r for r in runs if r["k"] == max(config.k)][0]
  results.update({key: headline[key] for key in ("clean_acc", "num_attacked", "k", "attacks")})
  results["victim"] = headline["victim"]
  results["runs"] = runs
  results["targets"] = [t for t in (check_targets(r["victim"], r["k"], r["attacks"])
                                    for r in runs) if t is not None]
  results["victims"] = info
  results["alphabet"] = alphabet
  results["examples"] = examples

  if config.defence:
    base = victims["cnn"][0]
    defended, defended_results = defend(config, ds, base, victim.make_score_fn(base, config.query_batch_size),
                      alphabet, defence_key, wd, done)
    score_fn = victim.make_score_fn(defended, config.query_batch_size)
    clean = np.argmax(score_fn(list(texts)), axis=-1) == labels
    after = run_attacks(config, ("charmer",), score_fn, texts, labels, alphabet,
                        jax.random.fold_in(attack_key, len(config.victims)), DEFENDED, wd, done)
    before = {r["k"]: r for r in runs if r["victim"] == "cnn"}
    results["defence"] = {
        "victim": "cnn", "adversarial_examples": defended.spec.data["adversarial"]["examples"],
        "test_acc_before": info["cnn"]["test_acc"],
        "test_acc_after": defended_results["test_acc"],
        "clean_acc_before": before[max(config.k)]["clean_acc"],
        "clean_acc_after": float(clean.mean()),
        "asr_before": {str(k): before[k]["attacks"]["charmer"]["asr"] for k in config.k
                       if "charmer" in before[k]["attacks"]},
        "asr_after": {str(k): after[k]["charmer"]["asr"] for k in config.k},
        "mean_queries_after": {str(k): after[k]["charmer"]["mean_queries"] for k in config.k},
    }
    logging.info("defence: charmer ASR before %s, after %s", results["defence"]["asr_before"],
                 results["defence"]["asr_after"])

  results["wall_s"] = time.perf_counter() - t_start
  wd.write_results(results)
  plot_asr_vs_k(runs, wd)
  for t in results["targets"]:
    logging.info("targets %s k=%d: %s", t["victim"], t["k"],
                 {k: v for k, v in t.items() if k not in ("victim", "k")})
  return results
