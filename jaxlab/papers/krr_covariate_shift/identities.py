"""E2.2 (arXiv 2406.03171): three exact identities of IW-KRR, checked to relative 1e-8 on one
design per d, and the conditioning of the ridgeless systems:

  (i)   at lambda = 0 IW-KRR equals KRR (predictions, bias, variance);
  (ii)  with mu = 0 (w = 1) IW-KRR equals KRR at every lambda;
  (iii) linearised IW-KRR (the training constant on the test vector) equals weighted ridge on
        the features phi with the weights omega_i = w_i / (gamma_i w_i + n lambda).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxlab.experiment import progress
from jaxlab.kernels import ridge
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift.context import Context, sample

NAMES = {"zero": "E2.2 IW-KRR = KRR at lambda = 0 (predictions, bias, variance)",
         "mu0": "E2.2 mu = 0: IW-KRR = KRR at every lambda (bias, variance)",
         "lin": "E2.2 linearised IW-KRR = weighted ridge on phi with omega_i (predictions, "
                "every lambda)"}


def _rel(a, b):
  return jnp.max(jnp.abs(a - b) / jnp.maximum(jnp.abs(b), jnp.finfo(b.dtype).tiny))


@functools.partial(jax.jit, static_argnames=("h",))
def identity_deviations(data: cs.Data, data_mu0: cs.Data, y: jax.Array, h: cs.InnerProductFn,
                        nlams: jax.Array, noise_std) -> dict[str, jax.Array]:
  """Max relative deviations of the three identities on one design `data` (and the same
  design drawn with mu = 0, `data_mu0`), labels `y (n,)`, every n lambda of `nlams (L,)`;
  plus the larger condition number of the two ridgeless systems and whether either is
  singular at working precision (else the pseudo-inverse truncates)."""
  n, d = data.x.shape
  lams = nlams / n
  k = cs.kernel(h)
  gram, k_test = k(data.x), k(data.x_test, data.x)
  p_krr, p_iw = ridge.path(gram), ridge.path(gram, data.w)
  pk = ridge.predictions(p_krr, k_test, y, lams[:1])
  pw = ridge.predictions(p_iw, k_test, y, lams[:1])
  bk = ridge.bias_variance(p_krr, k_test, data.f_train, data.f_test, noise_std**2, lams[:1])
  bw = ridge.bias_variance(p_iw, k_test, data.f_train, data.f_test, noise_std**2, lams[:1])
  zero = jnp.max(jnp.stack([_rel(pw, pk), _rel(bw.bias2, bk.bias2),
                            _rel(bw.variance, bk.variance)]))
  ev = cs.evaluate(data_mu0, h, nlams, noise_std)
  mu0 = jnp.maximum(_rel(ev["iw"].bias2, ev["krr"].bias2),
                    _rel(ev["iw"].variance, ev["krr"].variance))
  (c_krr, ill_krr), (c_iw, ill_iw) = ridge.conditioning(p_krr, 0.0), ridge.conditioning(p_iw, 0.0)
  return {"zero": zero, "mu0": mu0, "lin": _linearized_deviation(data, y, h, nlams),
          "cond": jnp.maximum(c_krr[0], c_iw[0]), "ill": ill_krr[0] | ill_iw[0]}


def _linearized_deviation(data: cs.Data, y: jax.Array, h: cs.InnerProductFn,
                          nlams: jax.Array) -> jax.Array:
  """(iii): linearised IW-KRR with the training constant vs weighted ridge on phi."""
  n, d = data.x.shape
  const = cs.train_constant(h, d)
  k_lin = cs.linearized_gram(data.x, h, "empirical")
  k_lin_test = cs.linearized_test_kernel(data.x_test, data.x, h, const)
  pred_lin = ridge.predictions(ridge.path(k_lin, data.w), k_lin_test, y, nlams / n)
  gamma = jnp.diag(k_lin) - const - h.h1 * jnp.sum(data.x**2, 1) / d
  phi, phi_test = cs.features(data.x, h, const), cs.features(data.x_test, h, const)
  pred_wr = jax.vmap(lambda nl: cs.weighted_ridge_features(
      phi, y, cs.weighted_ridge_weights(data.w, gamma, nl), phi_test))(nlams)
  return _rel(pred_lin, pred_wr)


def identities(ctx: Context) -> None:
  """E2.2 on design 0 at every d of `ds`: the three identities and the conditioning."""
  c = ctx.config
  devs = {name: [] for name in NAMES}
  conds, ill = [], 0
  for d in progress.bar(c.ds, desc="E2.2 dimensions"):
    data = sample(ctx, ctx.keys.identities, d, 0)
    noise = c.noise_std * jax.random.normal(jax.random.fold_in(ctx.keys.noise, d),
                                            data.f_train.shape, jnp.float64)
    out = jax.device_get(identity_deviations(
        data, sample(ctx, ctx.keys.identities, d, 0, mu=0.0), data.f_train + noise, ctx.h,
        jnp.asarray(c.nlams), c.noise_std))
    for name in devs:
      devs[name].append(float(out[name]))
    conds.append(float(out["cond"]))
    ill += int(out["ill"])
    ctx.record.log({"study": "E2.2", "d": d, "iw_equals_krr_at_0": devs["zero"][-1],
                    "mu0_iw_equals_krr": devs["mu0"][-1],
                    "linearized_iw_equals_weighted_ridge": devs["lin"][-1]})
  for name, label in NAMES.items():
    worst = float(max(devs[name]))
    ctx.record.gates.check(f"{label}: max rel. diff. over d in {list(c.ds)}", worst,
                           "<= 1e-8", worst <= 1e-8, per_d=dict(zip(map(str, c.ds), devs[name])))
  ctx.record.gates.check(
      f"E2.2 no ridgeless (n lambda = 0) KRR or IW-KRR system singular at working precision "
      f"(condition > 1 / (n eps)), d in {list(c.ds)}", ill, 0, ill == 0,
      condition_numbers=dict(zip(map(str, c.ds), conds)))
