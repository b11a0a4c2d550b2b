"""Benchmark files in the released format: a hand-made file read back, clear errors on
malformed or missing files, and the build / write / load round trip."""

import json
import os

import pytest

from jaxlab.nas import benchmark, search_space as ss

S0 = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"
S1 = "|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|"
# Isomorphic to S0 (node 1 is zero, so the op on edge 1->2 does not matter).
S2 = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"


def _files(tmp_path, results=None, meta=None):
  meta = meta or {"ids": {"10": {"nb201-string": S0, "isomorph": "10"},
                          "11": {"nb201-string": S1, "isomorph": "11"},
                          "12": {"nb201-string": S2, "isomorph": "10"}}}
  results = results or {
      "cifar10": {"10": {"val_acc": {"1": 0.8, "2": 0.7, "threeseed": 0.75},
                         "val_pgd_8.0_acc": {"1": 0.4, "threeseed": 0.45},
                         "autoattack": 0.3},
                  "11": {"val_acc": {"1": 0.6, "threeseed": 0.65},
                         "val_pgd_8.0_acc": {"1": 0.2, "threeseed": 0.25},
                         "autoattack": 0.1}},
      "cifar100": {"10": {"val_acc": {"threeseed": 0.5}}, "11": {"val_acc": {"threeseed": 0.3}}}}
  path = tmp_path / "NAS-RobBench-201_all.json"
  path.write_text(json.dumps(results))
  (tmp_path / "meta.json").write_text(json.dumps(meta))
  return str(path)


def test_loader_reads_the_released_format(tmp_path):
  bench = benchmark.load(_files(tmp_path))
  assert bench.datasets == ("cifar10", "cifar100")
  assert bench.metrics("cifar10") == ("val_acc", "val_pgd_8.0_acc", "autoattack")
  assert bench.value("cifar10", "10", "val_acc") == 0.75            # threeseed by default
  assert bench.value("cifar10", 10, "val_acc", seed="2") == 0.7
  assert bench.value("cifar10", "12", "val_pgd_8.0_acc") == 0.45   # through its isomorph
  assert bench.value("cifar10", "11", "autoattack") == 0.1          # a scalar metric
  assert bench.value("cifar10", "11", "val_acc", seed="2") is None
  assert bench.cell("12") == ss.parse(S2)
  assert ss.canonical_id(ss.parse(S0)) == ss.canonical_id(ss.parse(S2))
  table = bench.table("cifar10", "val_pgd_8.0_acc")
  assert table == {ss.canonical_id(ss.parse(S0)): 0.45, ss.canonical_id(ss.parse(S1)): 0.25}


def test_missing_files_name_the_path_and_where_to_get_them(tmp_path):
  missing = tmp_path / "nope.json"
  with pytest.raises(FileNotFoundError, match="nope.json.*TT2408/nasrobbench201"):
    benchmark.load(str(missing))
  path = _files(tmp_path)
  os.remove(tmp_path / "meta.json")
  with pytest.raises(FileNotFoundError, match="meta file .*meta.json"):
    benchmark.load(path)


@pytest.mark.parametrize("results,meta,match", [
    ("not json", None, "not valid JSON"),
    (None, {"archs": {}}, "must be {'ids'"),
    (None, {"ids": {"10": {"nb201-string": S0}}}, "needs 'nb201-string' and 'isomorph'"),
    (None, {"ids": {"10": {"nb201-string": "|x~0|", "isomorph": "10"}}}, "malformed NB201"),
    (None, {"ids": {"10": {"nb201-string": S0, "isomorph": "99"}}}, "names isomorph '99'"),
    ({"cifar10": {"10": {"val_acc": {"1": 0.5}}, "77": {"val_acc": {"1": 0.5}}}}, None,
     "cifar10/77 is not an id"),
    ({"cifar10": {"10": {"val_acc": {"1": "high"}}}}, None, "must hold numbers"),
    ({"cifar10": {"10": [0.5]}}, None, "must map metric names"),
])
def test_malformed_files_are_refused_with_the_entry_named(tmp_path, results, meta, match):
  if results == "not json":
    path = _files(tmp_path)
    (tmp_path / "NAS-RobBench-201_all.json").write_text("{oops")
  else:
    path = _files(tmp_path, results, meta)
  with pytest.raises(benchmark.BenchmarkFormatError, match=match):
    benchmark.load(path)


def test_build_write_load_round_trip(tmp_path):
  a, b = ss.parse(S0), ss.parse(S1)
  bench = benchmark.build({"digits": {a: {"val_acc": {0: 0.9, 1: 0.7}},
                                      b: {"val_acc": {0: 0.5, 1: 0.6}}}})
  path, meta = benchmark.write(bench, str(tmp_path / "digits.json"))
  assert os.path.basename(meta) == "meta.json"
  back = benchmark.load(path)
  ia = str(ss.index(a))
  assert back.results["digits"][ia]["val_acc"] == {"0": 0.9, "1": 0.7, "threeseed": 0.8}
  assert back.meta[ia] == {"nb201-string": S0, "isomorph": ia}
  assert back.table("digits", "val_acc") == pytest.approx(
      {ss.canonical_id(a): 0.8, ss.canonical_id(b): 0.55})


def test_metric_names_follow_the_release():
  assert benchmark.metric_name(None) == "val_acc"
  assert benchmark.metric_name("pgd", 8.0) == "val_pgd_8.0_acc"
  assert benchmark.metric_name("fgsm", 3) == "val_fgsm_3.0_acc"
  assert benchmark.metric_name("pgd", 8 / 255 * 255) == "val_pgd_8.0_acc"
