"""Numerical cross-checks of the simulator (`krr_inverse.md` pitfall 6 and the kernel-matrix
path): doubling the modes moves the errors by < 1%, and predictions through kernel matrices
(`inverse.kernel_path_l2`) equal the spectral simulator."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates
from jaxlab.papers.krr_inverse import inverse, torus
from jaxlab.papers.krr_inverse.context import Context, target

LAMS = (0.0, 1e-6, 1e-4, 1e-2)
TRUNCATION_RHO = 0.25
KERNEL_PATH_RHOS = (0.0, 2.0)     # u-kernel orders 1 and 2 (closed forms)


def _truncation(ctx: Context, key: jax.Array, lams: jax.Array) -> None:
  c = ctx.config
  n = c.ns[-1]
  u = target(ctx, c.r_s)
  tail = torus.random_phase_coefficients(ctx.keys.tail, 2 * c.modes, c.r_s, jnp.float64)
  out = []
  for uu in (u, jnp.concatenate([u, tail[c.modes + 1:]])):
    m = uu.shape[0] - 1
    sim = inverse.simulate(key, n, b=1, design="iid", lams=lams,
                           targets=inverse.operator_coefficients(uu, TRUNCATION_RHO)[None],
                           weights=inverse.error_weights(m, TRUNCATION_RHO, 0.0)[None],
                           num_noise=c.num_noise, noise_std=c.noise_std)
    out.append((np.asarray(sim.bias2[0, 0]), np.asarray(sim.variance[0])))
  dev = max(gates.max_relative_difference(out[1][0], out[0][0]),
            gates.max_relative_difference(out[1][1], out[0][1]))
  ctx.record.gates.check(f"truncation: doubling the modes moves bias and variance (n = {n}, "
                         "b = 1, rho = 0.25)", gates.interval(dev, hi=0.01))


def _kernel_path(ctx: Context, key: jax.Array, lams: jax.Array) -> None:
  """Predictions on a grid of 4 M points through the closed-form Grams and `ridge.path`."""
  c = ctx.config
  n, grid = c.ns[0], 4 * c.modes
  u = target(ctx, c.r_s)
  devs = []
  for rho in KERNEL_PATH_RHOS:
    v = inverse.operator_coefficients(u, rho)
    sim = inverse.simulate(key, n, b=1, design="iid", lams=lams, targets=v[None],
                           weights=inverse.error_weights(c.modes, rho, 0.0)[None],
                           num_noise=c.num_noise, noise_std=c.noise_std)
    x, noise = inverse.design_and_noise(key, n, "iid", c.num_noise, c.noise_std, jnp.float64)
    z = jnp.arange(grid, dtype=jnp.float64) / grid
    bias_k = inverse.kernel_path_l2(x, torus.synthesize(x, v), lams, b=1, rho=rho,
                                    u_grid=torus.synthesize(z, u))
    var_k = inverse.kernel_path_l2(x, noise, lams, b=1, rho=rho,
                                   u_grid=jnp.zeros(grid)).mean(-1)
    devs.append(gates.max_relative_difference(bias_k, sim.bias2[0, 0]))
    devs.append(gates.max_relative_difference(var_k, sim.variance[0]))
  ctx.record.gates.check(
      f"kernel-matrix path (grid predictions) equals the spectral simulator (n = {n}, rho in "
      "{0, 2}, lambda in {0, 1e-6, 1e-4, 1e-2})", max(devs), "<= 1e-3", max(devs) <= 1e-3)


def cross_checks(ctx: Context) -> None:
  """Truncation (n = max ns, rho = 0.25) and the kernel-matrix path (n = min ns)."""
  key = jax.random.fold_in(ctx.keys.cross_checks, 0)
  lams = jnp.asarray(LAMS)
  _truncation(ctx, key, lams)
  _kernel_path(ctx, key, lams)
