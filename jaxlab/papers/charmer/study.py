"""The Charmer study: train character-level victims on real tweets, attack them with Charmer and
the baselines at several budgets, and write the experiment's outputs.

  from jaxlab.papers import charmer
  results = charmer.run(charmer.smoke(), "/tmp/charmer")
  results["attacks"]["charmer"]["asr"]          # ASR of the first victim at the largest k

`prepare` loads the tweets, draws the training subset and the attacked sentences, and makes
every check that needs them (batch sizes, sample sizes, `--victim_dir` victims trained with
this config, seed and data, the offline embedding model); `execute` trains (or reuses) the
victims, attacks, and summarises. Every attacked sentence is appended to DIR/attacks.jsonl as
soon as it is done, so `--resume` skips finished sentences; trained victims live in
DIR/victims/<name> and are reused by `--resume` or, from an earlier run, `--victim_dir`.

Keys: `key(seed)` is split once into the sentence sample, the attacks, the defence's training
sentences and the training subset; the attack key into one key per victim (cnn, transformer,
cnn_defended), each into one key per attack (`attacks.attack_keys`); sentence i of an attack
uses `fold_in(attack key, i)`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import string
import time
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np
from absl import logging

from jaxlab import data as data_lib
from jaxlab.experiment import Study, Workdir, progress
from jaxlab.experiment import run as run_study
from jaxlab.experiment.config import require
from jaxlab.experiment.workdir import to_jsonable
from jaxlab.papers.charmer import plots, targets
from jaxlab.papers.charmer.attacks import BY_NAME, Attack, Setting, attack_keys, sentence_key
from jaxlab.papers.charmer.config import Config, default, defence, smoke
from jaxlab.text import metrics
from jaxlab.text import victim as victim_lib
from jaxlab.text.attack import AttackResult
from jaxlab.text.models import MODELS
from jaxlab.text.vocab import PRINTABLE

RECORDS = "attacks.jsonl"
VICTIMS = "victims"
DEFENDED = "cnn_defended"
ROLES = MODELS + (DEFENDED,)  # the victims attacked, each with its own attack keys


class Keys(NamedTuple):
  """The study's keys, one per purpose (split once from `key(seed)`)."""

  sample: jax.Array
  attack: jax.Array
  defence: jax.Array
  subset: jax.Array


def study_keys(seed: int) -> Keys:
  return Keys(*jax.random.split(jax.random.key(seed), 4))


class Trained(NamedTuple):
  """A victim ready to attack: the victim, its training results and its directory."""

  victim: victim_lib.Victim
  results: dict[str, Any]
  path: str


class Inputs(NamedTuple):
  """What `prepare` loaded and checked."""

  data: data_lib.Dataset           # the tweets, training split subset to `train_examples`
  texts: np.ndarray                # (num_examples,) attacked test sentences
  labels: np.ndarray               # (num_examples,) their labels
  alphabet: str
  reused: dict[str, Trained]       # victims from --victim_dir
  embed_fn: Callable[[list[str]], np.ndarray] | None


# --- prepare: data, sample, every data-dependent check --------------------------------------

def make_alphabet(name: str, texts: Sequence[str]) -> str:
  """letters (a-z), printable (printable ASCII) or split (every character of `texts`)."""
  if name == "letters":
    return string.ascii_lowercase
  if name == "printable":
    return PRINTABLE
  return "".join(sorted(set("".join(texts))))


def _training_subset(ds: data_lib.Dataset, size: int, key: jax.Array) -> data_lib.Dataset:
  """`ds` with a seeded subset of `size` training examples (0 or more than the split: all)."""
  if not size or size >= len(ds.train):
    return ds
  keep = np.sort(np.asarray(jax.random.permutation(key, len(ds.train)))[:size])
  return dataclasses.replace(ds, train=data_lib.Split(ds.train.x[keep], ds.train.y[keep]))


def _check_sizes(config: Config, ds: data_lib.Dataset) -> None:
  for name in config.victims:
    batch = getattr(config, name).batch_size
    require(batch <= len(ds.train), f"{name}.batch_size",
            f"must be <= the {len(ds.train)} training sentences, got {batch}")
  require(config.num_examples <= len(ds.test), "num_examples",
          f"must be <= the {len(ds.test)} test sentences, got {config.num_examples}")
  require(not config.defence or config.defence_examples <= len(ds.train), "defence_examples",
          f"must be <= the {len(ds.train)} training sentences, got {config.defence_examples}")


def _embedding_fn(path: str) -> Callable[[list[str]], np.ndarray] | None:
  """The `encode` of the offline sentence-transformers model at `path` (None if empty)."""
  if not path:
    return None
  require(importlib.util.find_spec("sentence_transformers") is not None, "embedding_model",
          "needs the sentence-transformers package (pip install sentence-transformers)")
  require(os.path.isdir(path), "embedding_model",
          f"{path} is not a directory holding an offline model")
  from sentence_transformers import SentenceTransformer  # pylint: disable=g-import-not-at-top
  return SentenceTransformer(path, device="cpu").encode


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
  if not isinstance(tree, dict):
    return {prefix: tree}
  return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def reuse_victim(config: Config, name: str, ds: data_lib.Dataset) -> Trained:
  """The victim `name` of `--victim_dir`; `ConfigError` unless it was trained with this
  run's victim config, seed and data."""
  path = os.path.abspath(os.path.join(config.victim_dir, name))
  require(victim_lib.is_trained(path), "victim_dir", f"no trained {name} victim in {path}")
  found, results = victim_lib.load(path)
  stored = _flat({**dataclasses.asdict(found.config), "seed": results.get("seed"),
                  "data": results.get("provenance", {}).get("data")})
  wanted = _flat({**dataclasses.asdict(getattr(config, name)), "seed": config.seed,
                  "data": to_jsonable(ds.summary())})
  diff = [f"{k.rstrip('.')}: {stored.get(k)!r} != {wanted[k]!r}" for k in wanted
          if stored.get(k) != wanted[k]]
  require(not diff, "victim_dir", f"the {name} victim in {path} was trained with another "
          f"config ({', '.join(diff)})")
  return Trained(found, results, path)


def prepare(config: Config) -> Inputs:
  """Loads the tweets, the training subset and the attacked sentences, and checks everything
  that depends on them or on the file system; raises `ConfigError` naming the field."""
  require(not config.victim_dir or os.path.isdir(config.victim_dir), "victim_dir",
          f"{config.victim_dir} is not a directory (pass DIR/victims of an earlier run)")
  embed_fn = _embedding_fn(config.embedding_model)
  keys = study_keys(config.seed)
  ds = data_lib.load("tweets", seed=config.seed, task=config.task)
  ds = _training_subset(ds, config.train_examples, keys.subset)
  _check_sizes(config, ds)
  sample = np.asarray(jax.random.permutation(keys.sample, len(ds.test)))[:config.num_examples]
  texts, labels = ds.test.x[sample], ds.test.y[sample]
  reused = ({name: reuse_victim(config, name, ds) for name in config.victims}
            if config.victim_dir else {})
  return Inputs(ds, texts, labels, make_alphabet(config.alphabet, texts), reused, embed_fn)


# --- attacks -----------------------------------------------------------------------------------

def attack_all(attack: Attack, setting: Setting, texts, labels, *, key: jax.Array | None,
               victim_name: str, record_name: str, budget: int, wd: Workdir, done: dict,
               log_every: int = 25) -> list[AttackResult]:
  """Runs `attack` at `budget` on every sentence (sentence i with `sentence_key(key, i)`),
  reusing the records of `done` and appending new ones to attacks.jsonl (and to `done`) at
  once; logs progress to metrics.jsonl."""
  out, t0, new = [], time.perf_counter(), 0
  rows = progress.bar(enumerate(zip(texts, labels)), total=len(texts),
                      desc=f"{victim_name} {record_name} k={budget}")
  for i, (text, label) in rows:
    record = (victim_name, record_name, budget, i)
    result = done.get(record)
    if result is None or result.original != text:
      result = attack.run(setting, str(text), int(label), budget, sentence_key(key, i))
      wd.append_jsonl(RECORDS, {"victim": victim_name, "attack": record_name, "budget": budget,
                                "index": i, "result": result.to_json()})
      done[record] = result
      new += 1
    out.append(result)
    if (i + 1) % log_every == 0 or i + 1 == len(texts):
      s = metrics.summarize(out, budget)
      wd.log(i + 1, {"phase": "attack", "victim": victim_name, "attack": record_name,
                     "budget": budget, "done": i + 1, "asr": s["asr"],
                     "mean_queries": s["mean_queries"], "elapsed_s": time.perf_counter() - t0})
      logging.info("%s / %s k=%d: %d/%d (%d new), asr %.3f, mean queries %.0f, %.0fs",
                   victim_name, record_name, budget, i + 1, len(texts), new, s["asr"],
                   s["mean_queries"], time.perf_counter() - t0)
  return out


def run_attacks(config: Config, names: Sequence[str], setting: Setting, inputs: Inputs,
                key: jax.Array, victim_name: str, wd: Workdir, done: dict
                ) -> dict[int, dict[str, dict[str, float]]]:
  """`{k: {attack: summary}}` of the attacks `names` on one victim (`key`: the victim's)."""
  keys = attack_keys(key)
  by_k: dict[int, dict[str, dict[str, float]]] = {k: {} for k in config.k}
  for name in names:
    attack = BY_NAME[name]
    for budget in [max(config.k)] if attack.anytime else list(config.k):
      results = attack_all(attack, setting, inputs.texts, inputs.labels,
                           key=keys[name] if attack.uses_key else None,
                           victim_name=victim_name, record_name=name, budget=budget, wd=wd,
                           done=done)
      for k in config.k:
        if attack.anytime:
          at_k = [r.at_budget(k) for r in results]
        elif k == budget:
          at_k = results
        else:
          continue
        by_k[k][name] = metrics.summarize(at_k, k, embed_fn=inputs.embed_fn)
  return by_k


def setting_of(config: Config, victim: victim_lib.Victim, alphabet: str) -> Setting:
  return Setting(victim_lib.make_score_fn(victim, config.query_batch_size), alphabet, config.n,
                 config.loss)


def clean_correct(setting: Setting, inputs: Inputs) -> np.ndarray:
  """(num_examples,) whether the victim is right on each attacked sentence."""
  return np.argmax(setting.score_fn(list(inputs.texts)), axis=-1) == inputs.labels


# --- victims -----------------------------------------------------------------------------------

def obtain_victim(config: Config, name: str, inputs: Inputs, wd: Workdir) -> Trained:
  """The trained victim `name`: from --victim_dir, from this workdir (resume), or trained."""
  if name in inputs.reused:
    logging.info("reusing the %s victim in %s", name, inputs.reused[name].path)
    return inputs.reused[name]
  path = wd.file(os.path.join(VICTIMS, name))
  if victim_lib.is_trained(path):
    logging.info("reusing the %s victim trained in %s", name, path)
    return Trained(*victim_lib.load(path), path)
  trained = victim_lib.train(getattr(config, name), inputs.data, Workdir(path, resume=True),
                             seed=config.seed)
  return Trained(*trained, path)


def attack_victim(config: Config, inputs: Inputs, name: str, trained: Trained, key: jax.Array,
                  wd: Workdir, done: dict) -> tuple[list[dict[str, Any]], dict[str, Any]]:
  """Every attack on victim `name`: one run entry per k, and the victim's info."""
  setting = setting_of(config, trained.victim, inputs.alphabet)
  clean = clean_correct(setting, inputs)
  info = {"test_acc": trained.results["test_acc"], "val_acc": trained.results["val_acc"],
          "num_params": trained.results["num_params"], "dir": trained.path}
  logging.info("%s: test accuracy %.4f (full test split), %.4f on the %d attacked sentences",
               name, info["test_acc"], clean.mean(), len(inputs.texts))
  by_k = run_attacks(config, config.attacks, setting, inputs, key, name, wd, done)
  runs = []
  for k in config.k:
    counts = {s["num_attacked"] for s in by_k[k].values()}
    if counts != {int(clean.sum())}:
      raise AssertionError(f"attacks disagree on the originally-correct sentences: {counts}")
    runs.append({"victim": name, "k": k, "clean_acc": float(clean.mean()),
                 "num_attacked": int(clean.sum()), "attacks": by_k[k]})
  return runs, info


def log_examples(name: str, results: list[AttackResult], count: int) -> list[dict[str, Any]]:
  """The first `count` successful adversarial sentences, logged."""
  shown = [r for r in results if r.success][:count]
  for r in shown:
    logging.info("%s adversarial example (label %d, %d edits, %d queries):\n  original:    %r\n"
                 "  adversarial: %r", name, r.label, r.lev, r.queries, r.original, r.text)
  return [{"label": r.label, "original": r.original, "adversarial": r.text, "lev": r.lev,
           "queries": r.queries} for r in shown]


# --- defence: adversarial fine-tuning of the char-CNN -----------------------------------------

def defend(config: Config, inputs: Inputs, base: victim_lib.Victim, key: jax.Array,
           wd: Workdir, done: dict) -> tuple[victim_lib.Victim, dict[str, Any]]:
  """Fine-tunes the cnn victim on the training set plus the successful Charmer examples
  (budget max k) of `defence_examples` training sentences drawn with `key`."""
  k, train = max(config.k), inputs.data.train
  order = np.asarray(jax.random.permutation(key, len(train)))[:config.defence_examples]
  results = attack_all(BY_NAME["charmer"], setting_of(config, base, inputs.alphabet),
                       train.x[order], train.y[order], key=None, victim_name="cnn",
                       record_name="defence_train", budget=k, wd=wd, done=done)
  adv = [r for r in results if r.success]
  logging.info("defence: %d adversarial training sentences from %d attacked", len(adv),
               sum(r.attacked for r in results))
  path = wd.file(os.path.join(VICTIMS, DEFENDED))
  if victim_lib.is_trained(path):
    return victim_lib.load(path)
  provenance = {"adversarial": {"attack": "charmer", "k": k, "n": config.n,
                                "alphabet": config.alphabet, "examples": len(adv),
                                "finetuned_from": "cnn"}}
  return victim_lib.train(
      dataclasses.replace(base.config, num_epochs=config.defence_epochs), inputs.data,
      Workdir(path, resume=True), seed=config.seed, init_params=base.params,
      extra_train=([r.text for r in adv], [r.label for r in adv]), provenance=provenance)


def run_defence(config: Config, inputs: Inputs, base: Trained, runs: list[dict[str, Any]],
                keys: Keys, victim_key: jax.Array, wd: Workdir, done: dict) -> dict[str, Any]:
  """ASR of Charmer on the cnn victim before and after adversarial fine-tuning."""
  defended, defended_results = defend(config, inputs, base.victim, keys.defence, wd, done)
  setting = setting_of(config, defended, inputs.alphabet)
  clean = clean_correct(setting, inputs)
  after = run_attacks(config, ("charmer",), setting, inputs, victim_key, DEFENDED, wd, done)
  before = {r["k"]: r for r in runs if r["victim"] == "cnn"}
  out = {
      "victim": "cnn",
      "adversarial_examples": defended_results["provenance"]["adversarial"]["examples"],
      "test_acc_before": base.results["test_acc"],
      "test_acc_after": defended_results["test_acc"],
      "clean_acc_before": before[max(config.k)]["clean_acc"],
      "clean_acc_after": float(clean.mean()),
      "asr_before": {str(k): before[k]["attacks"]["charmer"]["asr"] for k in config.k
                     if "charmer" in before[k]["attacks"]},
      "asr_after": {str(k): after[k]["charmer"]["asr"] for k in config.k},
      "mean_queries_after": {str(k): after[k]["charmer"]["mean_queries"] for k in config.k},
  }
  logging.info("defence: charmer ASR before %s, after %s", out["asr_before"], out["asr_after"])
  return out


# --- execute -----------------------------------------------------------------------------------

def _finite_or_none(value: Any) -> Any:
  """`value` with every NaN / inf float replaced by None (strict JSON)."""
  if isinstance(value, dict):
    return {k: _finite_or_none(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite_or_none(v) for v in value]
  if isinstance(value, float) and not np.isfinite(value):
    return None
  return value


def summarize(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
  """The headline (first victim at the largest k), every run, the targets and their checks."""
  headline = [r for r in runs if r["k"] == max(config.k)][0]
  rows = [t for t in (targets.target_row(r["victim"], r["k"], r["attacks"]) for r in runs)
          if t is not None]
  for t in rows:
    logging.info("targets %s k=%d: %s", t["victim"], t["k"],
                 {k: v for k, v in t.items() if k not in ("victim", "k")})
  return {**{key: headline[key] for key in ("clean_acc", "num_attacked", "k", "attacks")},
          "victim": headline["victim"], "runs": runs, "targets": rows,
          "checks": targets.checks(rows)}


def execute(config: Config, inputs: Inputs, wd: Workdir) -> dict[str, Any]:
  """Trains (or reuses) the victims and attacks `num_examples` test sentences with every
  attack at every budget (and, with `defence`, the fine-tuned cnn again).

  Returns:
    results.json: clean_acc, num_attacked, k and attacks (per attack: asr, mean_lev, max_lev,
    mean_queries, mean_similarity, wall_s, ...) of the first victim at the largest k; every
    (victim, k) in `runs`; `targets` and their `checks`; the victims' accuracies; the alphabet;
    adversarial examples; and, with `defence`, the ASR before and after fine-tuning.
  """
  keys = study_keys(config.seed)
  victim_keys = dict(zip(ROLES, jax.random.split(keys.attack, len(ROLES))))
  done = {(r["victim"], r["attack"], r["budget"], r["index"]): AttackResult.from_json(r["result"])
          for r in wd.read_jsonl(RECORDS)}
  if done:
    logging.info("resuming: %d attacked sentences already recorded", len(done))
  logging.info("attacking %d test sentences; alphabet (%d symbols): %r", len(inputs.texts),
               len(inputs.alphabet), inputs.alphabet)
  victims = {name: obtain_victim(config, name, inputs, wd) for name in config.victims}
  runs, info, examples = [], {}, {}
  for name in config.victims:
    victim_runs, info[name] = attack_victim(config, inputs, name, victims[name],
                                            victim_keys[name], wd, done)
    runs += victim_runs
    if "charmer" in config.attacks:
      charmer_results = [done[(name, "charmer", max(config.k), i)]
                         for i in range(len(inputs.texts))]
      examples[name] = log_examples(name, charmer_results, config.show_examples)
  results = summarize(config, runs)
  results.update(victims=info, alphabet=inputs.alphabet, examples=examples)
  if config.defence:
    results["defence"] = run_defence(config, inputs, victims["cnn"], runs, keys,
                                     victim_keys[DEFENDED], wd, done)
  return _finite_or_none(results)


STUDY = Study(name="charmer", presets={"default": default, "smoke": smoke, "defence": defence},
              prepare=prepare, execute=execute, plots=plots.plots, resumable=True)


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the study (see `jaxlab.experiment.run`): config.json, metrics.jsonl (attack
  progress), attacks.jsonl (one record per attacked sentence), victims/<name>/,
  results.json and plots/asr_vs_k."""
  return run_study(STUDY, config, workdir, overwrite=overwrite, resume=resume)


__all__ = ["Config", "STUDY", "default", "defence", "execute", "prepare", "run",
           "smoke"]
