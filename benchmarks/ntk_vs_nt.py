"""jaxlab's STRUCTURED_DERIVATIVES empirical NTK against neural-tangents 0.6.5's, same nets.

  python -m benchmarks.ntk_vs_nt                      # MLP 3 x 256 and a small CNN, N = 128
  python -m benchmarks.ntk_vs_nt --nt_python=/path/to/python --rounds=3
  python -m benchmarks.ntk_vs_nt --keep_outputs       # trace_axes=(): (N, N, O, O) kernels

The nets are plain JAX (`mlp`, `cnn` below: dense / conv layers, ReLU, 2x2 average pooling,
no flax), so the very same code runs in jaxlab's environment and in a pinned environment with
neural-tangents 0.6.5 on its older JAX (`--nt_python`; the NT side is skipped when that
interpreter is absent: neural-tangents is never a jaxlab dependency). The NT side runs this
file as `python ntk_vs_nt.py --worker` in a subprocess and prints JSON. Rounds alternate NT
and jaxlab and each side keeps its best round. Both: `vmap_axes=0`, `trace_axes=(-1,)` (or
`()` with `--keep_outputs`), float32, jitted, time of a call after compiling (median of
`--repeats`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

NT_PYTHON = "/work/nt_env_old/bin/python"


def mlp(params, x):
  """x (N, D) -> (N, O): ReLU dense layers."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  for w, b in params[:-1]:
    x = jnp.maximum(x @ w + b[None], 0.0)
  w, b = params[-1]
  return x @ w + b[None]


def cnn(params, x):
  """x (N, 16, 16, 1) -> (N, O): two 3x3 SAME convolutions (16, 32 channels), each with ReLU
  and 2x2 average pooling, then a dense layer."""
  from jax import lax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  for w, b in params[:-1]:
    x = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO",
                                                                         "NHWC"))
    x = jnp.maximum(x + b[None, None, None], 0.0)
    n, h, wd, c = x.shape
    x = x.reshape(n, h // 2, 2, wd // 2, 2, c).mean(axis=(2, 4))
  w, b = params[-1]
  return x.reshape(x.shape[0], -1) @ w + b[None]


def make_case(net: str, n: int, outputs: int):
  """(f, params, x) as numpy float32 (fixed seed), identical in both environments."""
  rng = np.random.default_rng(0)
  normal = lambda *shape: (rng.standard_normal(shape) / np.sqrt(shape[-2] if len(shape) > 1
                                                              else 1)).astype(np.float32)
  if net == "mlp":
    sizes = [64, 256, 256, 256, outputs]
    params = [(normal(a, b), normal(b)) for a, b in zip(sizes[:-1], sizes[1:])]
    return mlp, params, rng.standard_normal((n, 64)).astype(np.float32)
  params = [(normal(3, 3, 1, 16), normal(16)), (normal(3, 3, 16, 32), normal(32)),
            (normal(4 * 4 * 32, outputs), normal(outputs))]
  return cnn, params, rng.uniform(size=(n, 16, 16, 1)).astype(np.float32)


CASES = [(f"mlp 3x256, O={o}", "mlp", o) for o in (1, 10)] + [
    (f"cnn 16-32 (16x16x1), O={o}", "cnn", o) for o in (1, 10)]


def time_cases(empirical_ntk_fn, n: int, repeats: int, trace_axes=(-1,)) -> dict[str, float]:
  """Seconds per jitted call of `empirical_ntk_fn(f, trace_axes, vmap_axes=0,
  implementation=3)`."""
  import jax  # pylint: disable=import-outside-toplevel
  out = {}
  for label, net, outputs in CASES:
    f, params, x = make_case(net, n, outputs)
    fn = jax.jit(empirical_ntk_fn(f, trace_axes, vmap_axes=0, implementation=3))
    jax.block_until_ready(fn(x, None, params))
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      jax.block_until_ready(fn(x, None, params))
      times.append(time.perf_counter() - start)
    out[label] = statistics.median(times)
  return out


def nt_times(nt_python: str, n: int, repeats: int, keep: bool) -> dict[str, float] | None:
  """The NT side in a subprocess, or None if `nt_python` is absent."""
  if not os.path.exists(nt_python):
    return None
  cmd = [nt_python, os.path.abspath(__file__), "--worker", f"--n={n}", f"--repeats={repeats}"]
  cmd += ["--keep_outputs"] if keep else []
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  result = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
  return json.loads(result.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n", type=int, default=128)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--nt_python", default=NT_PYTHON)
  parser.add_argument("--keep_outputs", action="store_true",
                      help="trace_axes=() (keep the O x O output block) instead of (-1,)")
  parser.add_argument("--worker", action="store_true", help="the NT side (internal)")
  args = parser.parse_args()
  trace_axes = () if args.keep_outputs else (-1,)
  if args.worker:
    import neural_tangents as nt  # pylint: disable=import-outside-toplevel
    print(json.dumps(time_cases(nt.empirical_ntk_fn, args.n, args.repeats, trace_axes)))
    return
  from jaxlab import ntk  # pylint: disable=import-outside-toplevel
  ours, theirs = {}, {}
  for _ in range(args.rounds):
    nt_round = nt_times(args.nt_python, args.n, args.repeats, args.keep_outputs)
    for k, v in (nt_round or {}).items():
      theirs[k] = min(v, theirs.get(k, v))
    for k, v in time_cases(ntk.empirical_ntk_fn, args.n, args.repeats, trace_axes).items():
      ours[k] = min(v, ours.get(k, v))
  from benchmarks.timing import print_table  # pylint: disable=import-outside-toplevel
  print(f"STRUCTURED_DERIVATIVES, N={args.n}, vmap_axes=0, trace_axes={trace_axes}, float32, "
        f"best of {args.rounds} alternating rounds" + ("" if theirs else
                                               f" (no NT: {args.nt_python} absent)"))
  rows = [[label, ours[label] * 1e3, theirs[label] * 1e3 if theirs else None,
           ours[label] / theirs[label] if theirs else None] for label, _, _ in CASES]
  print_table(["case", "jaxlab ms", "NT 0.6.5 ms", "jaxlab / NT"], rows)


if __name__ == "__main__":
  sys.exit(main())
