"""Determinism: two runs of a smoke study with the same seed write identical results.json
(every key except wall-clock ones). The cheapest studies run in CI; all of them with
`-m slow`."""

import glob
import json
import os

import pytest

from experiments import common
from jaxlab.experiment import run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUDIES = sorted(os.path.basename(p)[:-len("_smoke.flags")] for p in glob.glob(
    os.path.join(REPO, "experiments", "flags", "*_smoke.flags")))
CHEAP = ("train_classifier", "krr_covariate_shift")


def _strip(value):
  if isinstance(value, dict):
    return {k: _strip(v) for k, v in value.items()
            if not (k.endswith(("_s", "_ms")) or k in ("wall_s", "seconds", "dir", "peak_rss_bytes",
                                              "rss_start_bytes"))}
  if isinstance(value, list):
    return [_strip(v) for v in value]
  return value


@pytest.mark.parametrize("name", [n if n in CHEAP else pytest.param(n, marks=pytest.mark.slow)
                                  for n in STUDIES])
def test_same_seed_same_results(tmp_path, name):
  study = common.study_for(name)
  config = study.preset("smoke")
  run(study, config, str(tmp_path / "a"))
  run(study, config, str(tmp_path / "b"))
  first, second = ((tmp_path / d / "results.json").read_text() for d in "ab")
  assert _strip(json.loads(first)) == _strip(json.loads(second))
