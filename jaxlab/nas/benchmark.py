"""Benchmark files in NAS-RobBench-201's released format: read, write, query.

  bench = benchmark.load("/data/NAS-RobBench-201_all.json")      # meta.json beside it
  bench.datasets                        # ('cifar10', 'cifar100', 'imagenet')
  bench.value("cifar10", "1000", "val_pgd_3.0_acc")               # the 'threeseed' mean
  table = bench.table("cifar10", "val_pgd_8.0_acc")   # {canonical id: value}, one per class
  bench.cell("1000")                    # the search_space.Cell of an arch id

The format (Wu et al., arXiv 2403.13134; the meta file follows Jung et al., ICLR 2023):
  results file: `res[dataset][arch_id][metric][seed]`, seeds '0', '1', ... and 'threeseed'
    (the mean over the seeds); a metric may also be a plain number (e.g. 'autoattack').
    Metrics: val_acc, val_fgsm_<e>_acc, val_pgd_<e>_acc with e the radius in 1/255 units
    ('3.0', '8.0').
  meta.json: `{"ids": {arch_id: {"nb201-string": ..., "isomorph": arch_id}}}`: the
    representative whose results are stored for each isomorphism class.

jaxlab never downloads the released files (from the Google Drive folder linked in the README
of github.com/TT2408/nasrobbench201); `load` reads a path the user gives and says where to get
the files when it is missing. `write` produces the same format (jaxlab's mini benchmark uses
`search_space.index` as arch ids).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Mapping

from jaxlab.nas import search_space
from jaxlab.nas.search_space import Cell

MEAN_SEED = "threeseed"
META = "meta.json"
WHERE = ("the released NAS-RobBench-201 files (NAS-RobBench-201_all.json and meta.json) are "
         "in the Google Drive folder linked from the README of "
         "https://github.com/TT2408/nasrobbench201; jaxlab does not download them: put them "
         "in a local folder and pass their path")


class BenchmarkFormatError(ValueError):
  """A benchmark or meta file that does not follow the released format."""


def metric_name(attack: str | None, eps_255: float | None = None) -> str:
  """The released metric name: 'val_acc', or 'val_<attack>_<eps>_acc' with the radius in
  1/255 units written as Python writes the float (e.g. 'val_pgd_8.0_acc')."""
  return "val_acc" if attack is None else f"val_{attack}_{float(eps_255)!r}_acc"


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A loaded benchmark.

  Attributes:
    results: `res[dataset][arch_id][metric][seed]` as read.
    meta: `{arch_id: {"nb201-string", "isomorph"}}`.
    path: where the results were read from ('' if built in memory).
  """

  results: Mapping[str, Any]
  meta: Mapping[str, Mapping[str, str]]
  path: str = ""

  @property
  def datasets(self) -> tuple[str, ...]:
    return tuple(self.results)

  def arch_ids(self, dataset: str) -> tuple[str, ...]:
    """The arch ids with results for `dataset`."""
    return tuple(self._dataset(dataset))

  def metrics(self, dataset: str) -> tuple[str, ...]:
    """The metric names of `dataset` (those of its first architecture)."""
    first = next(iter(self._dataset(dataset).values()))
    return tuple(first)

  def _dataset(self, dataset: str) -> Mapping[str, Any]:
    if dataset not in self.results:
      raise KeyError(f"no dataset {dataset!r} in {self.path or 'the benchmark'}; it has "
                     f"{', '.join(self.results)}")
    return self.results[dataset]

  def representative(self, arch_id: str | int) -> str:
    """The arch id whose results stand for `arch_id`'s isomorphism class (meta 'isomorph')."""
    arch_id = str(arch_id)
    if arch_id not in self.meta:
      raise KeyError(f"arch id {arch_id} is not in the meta file")
    return str(self.meta[arch_id]["isomorph"])

  def cell(self, arch_id: str | int) -> Cell:
    """The cell of `arch_id`, from its meta 'nb201-string'."""
    return search_space.parse(self.meta[str(arch_id)]["nb201-string"])

  def value(self, dataset: str, arch_id: str | int, metric: str, seed: str = MEAN_SEED
            ) -> float | None:
    """The metric of `arch_id` (via its representative) for `seed`; None if not recorded."""
    entry = self._dataset(dataset).get(self.representative(arch_id), {}).get(metric)
    if isinstance(entry, Mapping):
      entry = entry.get(str(seed))
    return None if entry is None else float(entry)

  def table(self, dataset: str, metric: str, seed: str = MEAN_SEED) -> dict[int, float]:
    """`{canonical id: value}` over the architectures of `dataset` with a finite value,
    keyed by jaxlab's canonical class id (`search_space.canonical_id` of the cell)."""
    out: dict[int, float] = {}
    for arch_id in self.arch_ids(dataset):
      v = self.value(dataset, arch_id, metric, seed)
      if v is not None and math.isfinite(v):
        out.setdefault(search_space.canonical_id(self.cell(arch_id)), v)
    return out


def _read_json(path: str, what: str) -> Any:
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{what} {path!r} does not exist; {WHERE}")
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise BenchmarkFormatError(f"{what} {path!r} is not valid JSON ({e})") from e


def _check_meta(meta: Any, path: str) -> dict[str, dict[str, str]]:
  ids = meta.get("ids") if isinstance(meta, Mapping) else None
  if not isinstance(ids, Mapping) or not ids:
    raise BenchmarkFormatError(f"meta file {path!r} must be {{'ids': {{arch_id: "
                               "{'nb201-string': ..., 'isomorph': arch_id}}}}")
  for arch_id, entry in ids.items():
    if not isinstance(entry, Mapping) or not {"nb201-string", "isomorph"} <= set(entry):
      raise BenchmarkFormatError(f"meta file {path!r}: id {arch_id} needs 'nb201-string' and "
                                 f"'isomorph', got {entry!r}")
    try:
      search_space.parse(entry["nb201-string"])
    except ValueError as e:
      raise BenchmarkFormatError(f"meta file {path!r}: id {arch_id}: {e}") from None
    if str(entry["isomorph"]) not in ids:
      raise BenchmarkFormatError(f"meta file {path!r}: id {arch_id} names isomorph "
                                 f"{entry['isomorph']!r}, which is not an id")
  return {str(k): dict(v) for k, v in ids.items()}


def _check_results(results: Any, meta: Mapping[str, Any], path: str) -> None:
  shape = "res[dataset][arch_id][metric][seed]"
  if not isinstance(results, Mapping) or not results:
    raise BenchmarkFormatError(f"benchmark file {path!r} must be {shape}")
  for dataset, archs in results.items():
    if not isinstance(archs, Mapping) or not archs:
      raise BenchmarkFormatError(f"benchmark file {path!r}: {dataset!r} must map arch ids to "
                                 f"metrics ({shape})")
    for arch_id, metrics in archs.items():
      if str(arch_id) not in meta:
        raise BenchmarkFormatError(f"benchmark file {path!r}: {dataset}/{arch_id} is not an id "
                                   "of the meta file")
      if not isinstance(metrics, Mapping):
        raise BenchmarkFormatError(f"benchmark file {path!r}: {dataset}/{arch_id} must map "
                                   f"metric names to {{seed: value}} ({shape})")
      for metric, seeds in metrics.items():
        values = seeds.values() if isinstance(seeds, Mapping) else [seeds]
        if not all(v is None or isinstance(v, (int, float)) for v in values):
          raise BenchmarkFormatError(f"benchmark file {path!r}: {dataset}/{arch_id}/{metric} "
                                     f"must hold numbers, got {seeds!r}")


def load(path: str, meta_path: str | None = None) -> Benchmark:
  """Reads a benchmark file and its meta file (default: meta.json in the same folder).

  Raises:
    FileNotFoundError: a file is missing (the message names it and where to get it).
    BenchmarkFormatError: a file does not follow the released format (the message says
      which entry and what was expected).
  """
  path = os.path.expanduser(path)
  meta_path = os.path.expanduser(meta_path) if meta_path else os.path.join(
      os.path.dirname(os.path.abspath(path)), META)
  results = _read_json(path, "benchmark file")
  meta = _check_meta(_read_json(meta_path, "meta file"), meta_path)
  _check_results(results, meta, path)
  return Benchmark(results, meta, path)


def build(records: Mapping[str, Mapping[Cell, Mapping[str, Mapping[str, float]]]]
          ) -> Benchmark:
  """A benchmark in memory from `{dataset: {cell: {metric: {seed: value}}}}`: arch ids are
  `search_space.index` of the cells given, every cell is its own isomorph, and the
  'threeseed' entry is added as the mean over the seeds given (whatever their number)."""
  results: dict[str, Any] = {}
  meta: dict[str, dict[str, str]] = {}
  for dataset, cells in records.items():
    results[dataset] = {}
    for cell, metrics in cells.items():
      arch_id = str(search_space.index(cell))
      meta[arch_id] = {"nb201-string": search_space.to_string(cell), "isomorph": arch_id}
      results[dataset][arch_id] = {
          metric: {**{str(s): float(v) for s, v in seeds.items()},
                   MEAN_SEED: float(sum(seeds.values()) / len(seeds))}
          for metric, seeds in metrics.items()}
  return Benchmark(results, meta)


def write(bench: Benchmark, path: str, meta_path: str | None = None) -> tuple[str, str]:
  """Writes `bench` as a results file at `path` and its meta file (default: meta.json beside
  it); returns both paths."""
  meta_path = meta_path or os.path.join(os.path.dirname(os.path.abspath(path)), META)
  for p in (path, meta_path):
    os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(bench.results, f)
  with open(meta_path, "w") as f:
    json.dump({"ids": bench.meta}, f)
  return path, meta_path
