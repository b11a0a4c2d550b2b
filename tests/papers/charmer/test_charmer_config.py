"""The Charmer study's config (presets as code, nested victim flag groups, errors naming the
field) and its attacks as typed records with one key per purpose."""

import dataclasses
import pathlib

import jax
import numpy as np
import pytest

from experiments import common
from jaxlab.experiment.config import ConfigError
from jaxlab.experiment.workdir import Workdir
from jaxlab.papers import charmer
from jaxlab.papers.charmer import attacks, study
from jaxlab.text.victim import VictimConfig

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_presets_are_the_studies_of_the_flagfiles_and_the_readme():
  default, smoke, defence = charmer.default(), charmer.smoke(), charmer.defence()
  assert default == charmer.Config()
  assert (default.victims, default.k, default.n, default.num_examples) == (
      ("cnn", "transformer"), (1, 2, 5, 10), 20, 300)
  assert (default.cnn.filters, default.cnn.num_epochs, default.cnn.optim.learning_rate) == (
      64, 8, 2e-3)
  assert (default.transformer.width, default.transformer.num_epochs,
          default.transformer.optim.learning_rate) == (64, 4, 1e-3)
  assert smoke == dataclasses.replace(
      default, victims=("cnn",), cnn=dataclasses.replace(default.cnn, filters=32, num_epochs=1),
      k=(1, 2), num_examples=8)
  assert defence == dataclasses.replace(default, victims=("cnn",), attacks=("charmer",),
                                        defence=True)
  flags = REPO / "experiments" / "flags" / "charmer_defence.flags"
  assert common.config_from_args(charmer.STUDY, [f"--flagfile={flags}"]) == defence


def test_victims_are_flag_groups():
  config = common.config_from_args(charmer.STUDY, [
      "--config=smoke", "--cnn.filters=16", "--transformer.optim.learning_rate=3e-3",
      "--victims=cnn,transformer", "--k=1,3"])
  assert config.cnn.filters == 16 and config.cnn.num_epochs == 1
  assert config.transformer.optim.learning_rate == 3e-3 and config.k == (1, 3)
  with pytest.raises(ConfigError, match="transformer.num_heads: must divide width"):
    common.config_from_args(charmer.STUDY, ["--transformer.num_heads=5"])


@pytest.mark.parametrize("change, message", [
    (dict(victims=("lstm",)), "victims: got 'lstm', expected one of: cnn, transformer"),
    (dict(k=(2, 1)), "k: must be increasing budgets >= 1"),
    (dict(attacks=("charmer", "textfooler")), "attacks: got 'textfooler'"),
    (dict(alphabet="greek"), "alphabet: got 'greek', expected one of: letters, printable, split"),
    (dict(query_batch_size=1000), "query_batch_size: must be a power of two"),
    (dict(defence=True, victims=("transformer",)), "defence: adversarial training is run on "
     "the cnn victim"),
    (dict(cnn=VictimConfig(model="transformer")), "cnn.model: the cnn victim is a cnn"),
])
def test_bad_config_values_name_the_field(change, message):
  with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace(")", "\\)")):
    charmer.Config(**change)


@pytest.mark.parametrize("change, message", [
    (dict(victim_dir="/nonexistent"), "victim_dir: /nonexistent is not a directory"),
    (dict(embedding_model="/nonexistent"), "embedding_model:"),
])
def test_file_system_values_are_refused_by_prepare(change, message):
  with pytest.raises(ConfigError, match=message):
    charmer.prepare(dataclasses.replace(charmer.smoke(), **change))


def test_attacks_are_typed_records():
  assert attacks.NAMES == ("charmer", "exhaustive", "random", "random_search", "deepwordbug")
  assert [a.name for a in attacks.ATTACKS if a.uses_key] == ["random", "random_search",
                                                              "deepwordbug"]
  assert [a.name for a in attacks.ATTACKS if not a.anytime] == ["deepwordbug"]
  keys = attacks.attack_keys(jax.random.key(0))
  data = [tuple(np.asarray(jax.random.key_data(k)).ravel()) for k in keys.values()]
  assert len(set(data)) == len(attacks.ATTACKS)  # one distinct key per attack
  assert attacks.sentence_key(None, 3) is None


def _linear_score_fn(texts):
  """A bag-of-characters classifier (fixed weights)."""
  weights = np.random.default_rng(0).normal(size=(128, 2))
  out = np.zeros((len(texts), 2))
  for i, t in enumerate(texts):
    for c in t:
      out[i] += weights[ord(c) % 128]
  return out


def test_an_attacks_draws_do_not_depend_on_the_other_attacks(tmp_path):
  texts = np.array(["zz xy zyx abc", "xxxx yyy z", "zyx zyx zyx"], dtype=object)
  labels = np.argmax(_linear_score_fn(list(texts)), axis=-1)
  inputs = study.Inputs(None, texts, labels, "xyz", {}, None)
  setting = attacks.Setting(_linear_score_fn, "xyz", 2, "margin")
  config = dataclasses.replace(charmer.smoke(), k=(1, 3))

  def records(names, path, key=jax.random.key(5)):
    wd = Workdir(str(tmp_path / path))
    study.run_attacks(config, names, setting, inputs, key, "cnn", wd, {})
    return {(r["attack"], r["budget"], r["index"]): r["result"]["text"]
            for r in wd.read_jsonl(study.RECORDS)}

  alone = records(("deepwordbug", "random"), "a")
  together = records(("charmer", "random_search", "random", "deepwordbug"), "b")
  assert alone == {k: v for k, v in together.items() if k[0] in ("random", "deepwordbug")}
  assert len(alone) == 3 * 3  # random once at k = 3, deepwordbug at k = 1 and 3
  assert records(("random",), "c", jax.random.key(6)) != {
      k: v for k, v in alone.items() if k[0] == "random"}  # the draws come from the key
