"""Multi-host: two local CPU processes (2 host devices each) joined by
`jaxlab.experiment.distributed.initialize` compute one kernel matrix and one kernel-vector
product sharded over the 4 global devices (`jaxlab.kernels.tiled`); both processes get the
single-process result."""

import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np

from jaxlab.kernels import kernel_fns

WORKER = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    import numpy as np
    from jaxlab.experiment import distributed
    address, rank, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    distributed.initialize(address, num_processes=2, process_id=rank)
    from jax.experimental import multihost_utils
    from jaxlab.kernels import kernel_fns, tiled
    with jax.enable_x64(True):
      rng = np.random.default_rng(0)
      x, v = rng.normal(size=(48, 3)), rng.normal(size=(45, 2))
      k = kernel_fns.matern(1.5, 1.0)
      mesh = tiled.row_mesh()
      g = tiled.gram(k, x, tile_size=5, mesh=mesh)
      kv = tiled.matvec(k, x[:45], v, tile_size=5, mesh=mesh)     # 45 rows: uneven over 4
      np.savez(f"{out}/rank{rank}.npz", gram=multihost_utils.process_allgather(g, tiled=True),
               kv=multihost_utils.process_allgather(kv, tiled=True),
               local_rows=[s.data.shape[0] for s in g.addressable_shards],
               counts=[jax.process_count(), jax.device_count(), jax.local_device_count()])
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_compute_one_sharded_kernel_matrix(tmp_path, repo_root):
  address = f"127.0.0.1:{_free_port()}"
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  env["PYTHONPATH"] = repo_root + os.pathsep + env.get("PYTHONPATH", "")
  procs = [subprocess.Popen([sys.executable, "-c", WORKER, address, str(rank), str(tmp_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True) for rank in (0, 1)]
  try:
    logs = [p.communicate(timeout=240)[0] for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for rank, (p, log) in enumerate(zip(procs, logs)):
    assert p.returncode == 0, f"rank {rank} failed:\n{log[-3000:]}"

  rng = np.random.default_rng(0)
  x, v = rng.normal(size=(48, 3)), rng.normal(size=(45, 2))
  with jax.enable_x64(True):
    k = kernel_fns.matern(1.5, 1.0)
    gram, kv = np.asarray(k(x)), np.asarray(k(x[:45]) @ v)
  for rank in (0, 1):
    got = np.load(tmp_path / f"rank{rank}.npz")
    assert list(got["counts"]) == [2, 4, 2]            # 2 processes, 4 global devices
    assert list(got["local_rows"]) == [12, 12]         # each process holds half of the rows
    np.testing.assert_allclose(got["gram"], gram, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["kv"], kv, rtol=0, atol=1e-11)
