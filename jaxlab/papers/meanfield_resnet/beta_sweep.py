"""P1-A / P1-C of the mean-field ResNet study (arXiv 2403.09889): one initialisation trained by
particle GD at every output scale beta, with eta = eta_beta2 / beta^2.

  rows, logged, gram_error = run(config, params0, x, y, x_test, y_test, knn_key)
  rows[0]["gram_min_eig_init"]          # lambda_min(G2(0))
  logged["loss"]                        # (num_betas, num_steps // log_every + 1)

Logged per beta: the loss R, lambda_min(G2(t)) and lambda_min(G1 + G2), the per-step log-loss
decrement bound 2 eta beta^2 lambda_min(G2) / n, particle displacements (W2^2 upper bounds)
and moment-matched KL proxies against the initial particles; after training, k-NN KL estimates
against N(0, I) and the closed-form Gram matrices against their Jacobian form.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.kernels import spectral
from jaxlab.papers.meanfield_resnet import divergence, resnet
from jaxlab.papers.meanfield_resnet.config import Config
from jaxlab.training import guard


def particle_stats(params: resnet.Params, params0: resnet.Params) -> dict[str, jax.Array]:
  """Mean squared displacements (W2^2 upper bounds) and moment-matched KL proxies against the
  initial particles: per ResNet layer (dimension 2d, averaged over layers) and for the head
  (dimension d + 1); `kl_head_std_normal` is against N(0, I) (biased by O(p^2 / K))."""
  res, res0 = resnet.resnet_samples(params.resnet), resnet.resnet_samples(params0.resnet)
  head, head0 = resnet.head_samples(params.head), resnet.head_samples(params0.head)
  per_layer = jax.lax.map(lambda pair: divergence.gaussian_kl(*pair), (res, res0))
  return {
      "displacement_resnet": jnp.mean(resnet.mean_sq_displacement(res, res0)),
      "displacement_head": resnet.mean_sq_displacement(head, head0),
      "kl_resnet": jnp.mean(per_layer),
      "kl_head": divergence.gaussian_kl(head, head0),
      "kl_head_std_normal": divergence.gaussian_kl(head),
  }


def track(params0: resnet.Params, x, y, x_test, y_test, *, alpha, betas, learning_rates,
          num_steps: int, log_every: int) -> tuple[resnet.Params, dict[str, jax.Array]]:
  """Particle GD from `params0` for every (beta, eta) in `betas, learning_rates (B,)` at once,
  `num_steps` steps, with metrics every `log_every` steps.

  Training is vmapped over beta; the metrics (eigenvalues, log-determinants) run one beta
  after another (`lax.map`): jaxlib 0.10's batched CPU LAPACK kernels can deadlock when two of
  them run at once on a 2-thread pool.

  Returns:
    The final params (leading axis B) and `{metric: (B, num_steps // log_every + 1)}` at steps
    0, log_every, ...: loss R, test_mse, lambda_min_g2, lambda_min_g (of G1 + G2),
    lambda_max_g, bound (the per-step log-loss decrement bound 2 eta beta^2 lambda_min(G2) / n)
    and `particle_stats`.
  """
  n = x.shape[0]

  def metrics(args):
    params, beta, learning_rate = args
    g1, g2 = resnet.gram(params, x, alpha=alpha)
    lam2 = spectral.lambda_min(g2)
    values = spectral.eigvalsh(g1 + g2)
    return {
        "loss": resnet.risk(params, x, y, alpha=alpha, beta=beta),
        "test_mse": 2.0 * resnet.risk(params, x_test, y_test, alpha=alpha, beta=beta),
        "lambda_min_g2": lam2, "lambda_min_g": values[0], "lambda_max_g": values[-1],
        "bound": 2.0 * learning_rate * beta ** 2 * lam2 / n,
        **particle_stats(params, params0),
    }

  train = jax.vmap(functools.partial(resnet.train, x=x, y=y, alpha=alpha, num_steps=log_every))

  def chunk(params, _):
    params = train(params, beta=betas, learning_rate=learning_rates)
    return params, jax.lax.map(metrics, (params, betas, learning_rates))

  start = jax.tree.map(lambda v: jnp.broadcast_to(v, betas.shape + v.shape), params0)
  params, logged = jax.lax.scan(chunk, start, None, length=num_steps // log_every)
  first = jax.lax.map(metrics, (start, betas, learning_rates))
  return params, jax.tree.map(lambda a, b: jnp.concatenate([a[:, None], b.T], axis=1), first,
                              logged)


def rate_window(steps: np.ndarray, loss: np.ndarray, bound: np.ndarray, *, start: int,
                floor: float) -> dict[str, float]:
  """Observed log-loss decrement per step over the window [first logged step >= `start`, last
  logged step with loss / loss[0] >= `floor`], and the mean bound over the same logged steps."""
  inside = (steps >= start) & (loss / loss[0] >= floor)
  idx = np.flatnonzero(inside)
  if len(idx) < 2:
    return {"observed": float("nan"), "bound": float("nan"), "window": [float("nan")] * 2}
  a, b = idx[0], idx[-1]
  observed = float(math.log(loss[a]) - math.log(loss[b])) / float(steps[b] - steps[a])
  return {"observed": observed, "bound": float(np.mean(bound[a:b + 1])),
          "window": [int(steps[a]), int(steps[b])]}


def knn_estimates(config: Config, params0: resnet.Params, final: resnet.Params, key: jax.Array
                  ) -> dict[str, Any]:
  """k-NN KL estimates against N(0, I) of the ResNet particles (mean over layers) and the head,
  at init (scalars) and after training (one per beta), from one draw of `knn_reference`
  reference samples (`key`); the head's reference is its first d + 1 coordinates."""
  knn_kl = functools.partial(divergence.knn_kl, k=config.beta_sweep.knn_k)
  ref_res = jax.random.normal(key, (config.beta_sweep.knn_reference, 2 * config.dim),
                              jnp.float64)
  ref_head = ref_res[:, :config.dim + 1]

  @jax.jit
  def knn(params):
    res = resnet.resnet_samples(params.resnet)
    # Mirror pairs (a, b), (-a, b) are not independent draws (a partner is an unusually close
    # neighbour), so the head estimate averages the two halves, each i.i.d. at init; by
    # convexity the average bounds the KL of the whole cloud from above.
    head = resnet.head_samples(params.head)
    half = head.shape[0] // 2
    return (jnp.mean(jax.vmap(lambda s: knn_kl(s, ref_res))(res)),
            0.5 * (knn_kl(head[:half], ref_head) + knn_kl(head[half:], ref_head)))

  res0, head0 = knn(params0)
  res, head = jax.vmap(knn)(final)
  return {"res_init": res0, "head_init": head0, "res": res, "head": head}


def gram_error(params0: resnet.Params, final: resnet.Params, x, *, alpha) -> float:
  """max |closed form - Jacobian form| over the entries of G1 and G2, at init and after
  training at the smallest beta (where G1 != 0)."""
  trained = jax.tree.map(lambda v: v[0], final)
  jacobian = jax.jit(functools.partial(resnet.gram_jacobian, x=x, alpha=alpha))
  return max(float(jnp.max(jnp.abs(c - j)))
             for p in (params0, trained)
             for c, j in zip(resnet.gram(p, x, alpha=alpha), jacobian(p)))


def summary_row(config: Config, m: dict[str, np.ndarray], steps: np.ndarray, i: int,
                learning_rate: float, knn: dict[str, Any]) -> dict[str, Any]:
  """The `beta_sweep` row of the i-th beta from its logged metrics `m` `{name: (num_logs,)}`."""
  beta = config.beta_sweep.betas[i]
  rate = rate_window(steps, m["loss"], m["bound"], start=config.beta_sweep.rate_start,
                     floor=config.beta_sweep.rate_floor)
  return {
      "beta": beta,
      "learning_rate": learning_rate,
      "gram_min_eig_init": m["lambda_min_g2"][0],
      "gram_min_eig_min": m["lambda_min_g2"].min(),
      "gram_min_eig_min_after_init": m["lambda_min_g2"][1:].min(),
      "gram_total_min_eig_min": m["lambda_min_g"].min(),
      "observed_log_decrement_per_step": rate["observed"],
      "bound_log_decrement_per_step": rate["bound"],
      "rate_window": rate["window"],
      "initial_loss": m["loss"][0],
      "final_loss": m["loss"][-1],
      "final_test_mse": m["test_mse"][-1],
      "displacement_resnet": m["displacement_resnet"][-1],
      "displacement_head": m["displacement_head"][-1],
      "kl_head": m["kl_head"][-1],
      "kl_resnet": m["kl_resnet"][-1],
      "kl_head_std_normal_init": m["kl_head_std_normal"][0],
      "kl_head_std_normal": m["kl_head_std_normal"][-1],
      "kl_head_knn_init": float(knn["head_init"]),
      "kl_head_knn": float(knn["head"][i]),
      "kl_resnet_knn_init": float(knn["res_init"]),
      "kl_resnet_knn": float(knn["res"][i]),
  }


def run(config: Config, params0: resnet.Params, x, y, x_test, y_test, knn_key
        ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], float]:
  """Runs every beta at once (vmap); returns the `beta_sweep` rows, the logged metrics
  `{name: (num_betas, num_logs)}` (plus `step (num_logs,)`) and `gram_error`."""
  sweep = config.beta_sweep
  betas = jnp.asarray(sweep.betas, jnp.float64)
  etas = config.eta_beta2 / betas ** 2
  run_all = jax.jit(functools.partial(track, alpha=config.alpha, num_steps=sweep.num_steps,
                                      log_every=sweep.log_every))
  final, logged = run_all(params0, x, y, x_test, y_test, betas=betas, learning_rates=etas)
  logged = jax.tree.map(np.asarray, logged)
  steps = np.arange(0, sweep.num_steps + 1, sweep.log_every)
  guard.check_values(logged["loss"], steps=steps, where="beta sweep (particle GD)")
  knn = knn_estimates(config, params0, final, knn_key)
  error = gram_error(params0, final, x, alpha=config.alpha)
  rows = [summary_row(config, {k: v[i] for k, v in logged.items()}, steps, i, float(etas[i]),
                      knn) for i in range(len(sweep.betas))]
  return rows, {"step": steps, **logged}, error
