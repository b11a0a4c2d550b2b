"""The ViT case of benchmarks/soup_memory.py: its rows put Learned-Soup+ (built once) against
MEHL-Soup+ at each block size, as MiB, seconds and ratios (recorded fake costs, no build)."""

import pytest

from benchmarks import soup_memory

MIB = 2**20


def _cost(peak_mib, rss_mib, epoch_s, wall_s, passes):
  return {"peak_bytes": peak_mib * MIB, "peak_rss_bytes": rss_mib * MIB, "epoch_s": epoch_s,
          "s_per_pass": wall_s / passes, "wall_s": wall_s, "val_passes": passes}


def test_vit_rows_are_learned_plus_over_mehl_plus_per_block_size():
  costs = {("learned_plus", 18): _cost(160.0, 900.0, 4.0, 30.0, 5.0),
           ("mehl_plus", 18): _cost(40.0, 600.0, 2.0, 80.0, 20.0),
           ("mehl_plus", 2): _cost(10.0, 500.0, None, 90.0, 180.0)}
  built = []

  def build(method, b):
    built.append((method, b))
    return dict(costs[method, b])

  rows = soup_memory.vit_rows([18, 2], build)
  assert built == [("learned_plus", 18), ("mehl_plus", 18), ("mehl_plus", 2)]  # L+ once
  assert rows[0] == pytest.approx([18, 160, 40, 4, 900, 600, 1.5, 4, 2, 2, 30, 80, 0.375, 5, 20])
  # No steady-state epoch (one block): wall_s / val_passes = 0.5 s stands in.
  assert rows[1] == pytest.approx([2, 160, 10, 16, 900, 500, 1.8, 4, 0.5, 8, 30, 90, 1 / 3, 5, 180])
