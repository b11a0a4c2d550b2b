"""P1-D of the mean-field ResNet study (arXiv 2403.09889): the generalisation gap against the
training-set size n, with beta = beta_scale sqrt(n) and the same learning rate (so the same
training time) for every n.

  rows = generalisation_sweep(config, key, x_test, y_test, sweep_dir)
  rows[0]["gap"], rows[0]["proxy"]      # test - train MSE, beta sqrt(KL / n)

Points over n run through `jaxlab.experiment.sweep.run_sweep`; seeds are vmapped.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxlab.data import synthetic
from jaxlab.experiment import sweep
from jaxlab.kernels import spectral
from jaxlab.papers.meanfield_resnet import resnet
from jaxlab.papers.meanfield_resnet.beta_sweep import particle_stats
from jaxlab.papers.meanfield_resnet.config import Config
from jaxlab.papers.meanfield_resnet.data import target


@functools.partial(jax.jit, static_argnames=("num_steps",))
def generalisation_point(x, y, params0: resnet.Params, x_test, y_test, *, alpha, beta,
                         learning_rate, num_steps: int):
  """Trains one model per seed (leading axis S of `x (S, n, d)`, `y (S, n)`, `params0`); returns
  `{name: (S,)}`: train/test MSE, the total KL proxy (head + mean per-layer ResNet,
  moment-matched vs init) and (eta beta^2 / n) lambda_max(G(0)) (stable GD needs < 2)."""
  n = x.shape[1]

  def summary(args):  # lax.map over seeds: see `beta_sweep.track` on batched LAPACK kernels
    x, y, params0, params = args
    g1, g2 = resnet.gram(params0, x, alpha=alpha)
    stats = particle_stats(params, params0)
    return {"train_mse": 2.0 * resnet.risk(params, x, y, alpha=alpha, beta=beta),
            "test_mse": 2.0 * resnet.risk(params, x_test, y_test, alpha=alpha, beta=beta),
            "kl": stats["kl_head"] + stats["kl_resnet"],
            "step_times_lambda_max": learning_rate * beta ** 2 / n *
                                     spectral.lambda_max(g1 + g2)}

  params = jax.vmap(functools.partial(resnet.train, alpha=alpha, beta=beta,
                                      learning_rate=learning_rate, num_steps=num_steps)
                    )(params0, x, y)
  return jax.lax.map(summary, (x, y, params0, params))


def generalisation_sweep(config: Config, key, x_test, y_test, sweep_dir: str
                         ) -> list[dict[str, Any]]:
  """Rows `{"n", "beta", "train_mse", "test_mse", "gap", "kl", "proxy", ...}` (seed means).
  Training sets are nested (the first n of max(sizes) points per seed) and every n starts
  from the same initialisation, so the curve over n is not confounded by fresh draws."""
  gen = config.generalisation
  k_data, k_init = jax.random.split(key)
  x_all = jax.vmap(lambda k: synthetic.sphere(k, max(gen.sizes), config.dim,
                                              dtype=jnp.float64)
                   )(jax.random.split(k_data, gen.num_seeds))
  init = functools.partial(resnet.init, dim=config.dim, depth=config.depth, width=config.width,
                           head_width=config.head_width, dtype=jnp.float64)
  params0 = jax.jit(jax.vmap(init))(jax.random.split(k_init, gen.num_seeds))

  def point_fn(point):
    n = point["n"]
    beta = gen.beta_scale * math.sqrt(n)
    x = x_all[:, :n]
    out = generalisation_point(x, jax.vmap(target)(x), params0, x_test, y_test,
                               alpha=config.alpha, beta=beta, learning_rate=gen.learning_rate,
                               num_steps=gen.num_steps)
    out = {k: float(jnp.mean(v)) for k, v in out.items()}
    return {"beta": beta, **out, "gap": out["test_mse"] - out["train_mse"],
            "proxy": beta * math.sqrt(max(out["kl"], 0.0) / n)}

  records = sweep.run_sweep(point_fn, [{"n": n} for n in gen.sizes], sweep_dir)
  return [{**r["point"], **r["result"]} for r in records]
