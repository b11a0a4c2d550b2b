"""Mean-field ResNet studies of `papers/meanfield_resnet.md` section 5 (P1-A to P1-D).

  from jaxlab.meanfield import resnet_study
  results = resnet_study.run(resnet_study.Config(), "/tmp/meanfield_resnet")
  results["beta_sweep"][0]["gram_min_eig_init"]     # lambda_min(G2(0)), about 0.09
  results["checks"]                                 # {name: {"value", "target", "pass"}}

The library function behind `python -m experiments.meanfield_resnet`. Three studies:

* beta sweep (P1-A, P1-C): one initialisation trained by particle GD with eta = eta_beta2 / beta^2
  for every beta (vmapped over beta); logs the loss, lambda_min(G2(t)) and lambda_min(G1 + G2),
  the per-step bound 2 eta beta^2 lambda_min(G2) / n, particle displacements and KL proxies.
* approach to the mean-field limit (P1-B): models of depth L and width M initialised from one
  draw (`resnet.shared_layers`), trained for the same time, compared with a reference model on
  test inputs (sup over x of |f_{L,M} - f_ref|); seeds are vmapped, the (L, M) points run through
  `jaxlab.sweep.run_sweep`.
* generalisation vs n (P1-D): beta = gen_c sqrt(n), the same learning rate (so the same training
  time) for every n; test - train MSE and the proxy beta sqrt(KL / n).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab import plotting
from jaxlab import sweep
from jaxlab.config import require, to_dict
from jaxlab.data import synthetic
from jaxlab.kernels import spectral
from jaxlab.meanfield import checks as checks_lib
from jaxlab.meanfield import divergence
from jaxlab.meanfield import resnet
from jaxlab.workdir import Workdir


@dataclasses.dataclass(frozen=True)
class Config:
  """Mean-field ResNet studies (float64). Data: inputs uniform on the unit sphere of R^dim,
  targets y = sin(3 x_1) + x_2 x_3.

  Attributes:
    seed: seed of the data, initialisations and k-NN reference samples.
    dim: input dimension d.
    num_train: training points n of the beta sweep and of the limit sweep.
    num_test: test points (test MSE; sup error of the limit sweep).
    depth: ResNet depth L of the beta sweep and the generalisation study.
    width: ResNet particles per layer M of the beta sweep and the generalisation study (> 2 dim,
      for the per-layer moment-matched KL).
    head_width: head particles K (even: the head is symmetric so that f_0 = 0).
    alpha: residual-branch scale alpha.
    betas: output scales beta of the beta sweep.
    eta_beta2: eta * beta^2 in the beta sweep and the limit sweep (eta = eta_beta2 / beta^2).
    num_steps: particle-GD steps of the beta sweep.
    log_every: steps between logged metrics of the beta sweep.
    rate_start: first step of the window where the observed log-loss decrement per step is
      compared with the bound (skips the transient).
    rate_floor: the rate window ends at the last logged step with R(t) / R(0) above this
      (float64 rounding floor of the loss).
    knn_k: neighbours of the k-NN KL estimator.
    knn_reference: fresh N(0, I) reference samples of the k-NN KL estimator.
    limit_depths: depths L of the limit sweep (at width limit_ref_width).
    limit_widths: widths M of the limit sweep (at depth limit_ref_depth).
    limit_ref_depth: depth of the reference model of the limit sweep.
    limit_ref_width: width of the reference model of the limit sweep.
    limit_beta: output scale beta of the limit sweep.
    limit_steps: GD steps of every model of the limit sweep.
    limit_seeds: seeds of the limit sweep (vmapped); errors are averaged over them.
    gen_sizes: training-set sizes n of the generalisation study.
    gen_c: beta = gen_c * sqrt(n) in the generalisation study.
    gen_eta: learning rate of the generalisation study, the same for every n.
    gen_steps: GD steps of the generalisation study.
    gen_seeds: seeds (data and initialisation) per n, vmapped; results are averaged.
  """

  seed: int = 0
  dim: int = 16
  num_train: int = 16
  num_test: int = 512
  depth: int = 8
  width: int = 64
  head_width: int = 512
  alpha: float = 1.0
  betas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
  eta_beta2: float = 0.5
  num_steps: int = 4000
  log_every: int = 50
  rate_start: int = 500
  rate_floor: float = 1e-20
  knn_k: int = 1
  knn_reference: int = 2048
  limit_depths: tuple[int, ...] = (4, 8, 16, 32)
  limit_widths: tuple[int, ...] = (16, 64, 256)
  limit_ref_depth: int = 64
  limit_ref_width: int = 1024
  limit_beta: float = 1.0
  limit_steps: int = 100
  limit_seeds: int = 4
  gen_sizes: tuple[int, ...] = (16, 32, 64, 128, 256)
  gen_c: float = 0.5
  gen_eta: float = 0.125
  gen_steps: int = 1000
  gen_seeds: int = 1

  def __post_init__(self):
    for name in ("dim", "num_train", "num_test", "depth", "num_steps", "log_every", "knn_k",
                 "limit_ref_depth", "limit_ref_width", "limit_steps", "limit_seeds",
                 "gen_steps", "gen_seeds"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.width > 2 * self.dim, "width",
            f"must exceed 2 * dim = {2 * self.dim} (per-layer covariance of the KL estimate), "
            f"got {self.width}")
    require(self.head_width >= 2 and self.head_width % 2 == 0 and
            self.head_width > self.dim + 1, "head_width",
            f"must be even and > dim + 1 = {self.dim + 1}, got {self.head_width}")
    require(self.num_steps % self.log_every == 0, "log_every",
            f"must divide num_steps={self.num_steps}, got {self.log_every}")
    require(0 <= self.rate_start < self.num_steps, "rate_start",
            f"must be in [0, num_steps={self.num_steps}), got {self.rate_start}")
    require(0 < self.rate_floor < 1, "rate_floor", f"must be in (0, 1), got {self.rate_floor}")
    require(self.knn_reference >= self.knn_k, "knn_reference",
            f"must be >= knn_k={self.knn_k}, got {self.knn_reference}")
    require(self.knn_k < min(self.width, self.head_width // 2), "knn_k",
            f"must be < width and head_width / 2, got {self.knn_k}")
    for name in ("alpha", "eta_beta2", "limit_beta", "gen_c", "gen_eta"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require(len(self.betas) >= 2 and all(b > 0 for b in self.betas) and
            list(self.betas) == sorted(set(self.betas)), "betas",
            f"need at least 2 increasing positive values, got {self.betas}")
    for name, ref in (("limit_depths", self.limit_ref_depth),
                      ("limit_widths", self.limit_ref_width)):
      values = getattr(self, name)
      require(len(values) >= 2 and list(values) == sorted(set(values)) and values[0] >= 1 and
              values[-1] < ref, name, f"need at least 2 increasing values in [1, "
              f"{ref}) (below the reference), got {values}")
    require(len(self.gen_sizes) >= 2 and list(self.gen_sizes) == sorted(set(self.gen_sizes))
            and self.gen_sizes[0] >= 2, "gen_sizes",
            f"need at least 2 increasing values >= 2, got {self.gen_sizes}")


def target(x: jax.Array) -> jax.Array:
  """y = sin(3 x_1) + x_2 x_3 for `x (n, d)`, d >= 3."""
  return jnp.sin(3.0 * x[:, 0]) + x[:, 1] * x[:, 2]


def sphere_data(key: jax.Array, n: int, dim: int) -> tuple[jax.Array, jax.Array]:
  """`n` float64 inputs on the unit sphere of R^dim and their targets."""
  x = synthetic.sphere(key, n, dim, dtype=jnp.float64)
  return x, target(x)


# P1-A / P1-C: beta sweep ----------------------------------------------------------------------

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
  return params, jax.tree.map(lambda a, b: jnp.concatenate([a[:, None], b.T], axis=1), first, logged)


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


def beta_sweep(config: Config, params0: resnet.Params, x, y, x_test, y_test, knn_key
               ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], float]:
  """Runs every beta at once (vmap); returns the `beta_sweep` rows, the logged metrics
  `{name: (num_betas, num_logs)}` (plus `step`) and max |closed-form - Jacobian-form| of G1
  and G2 at init and after training at the first beta."""
  betas = jnp.asarray(config.betas, jnp.float64)
  etas = config.eta_beta2 / betas ** 2
  run_all = jax.jit(functools.partial(track, alpha=config.alpha, num_steps=config.num_steps,
                                      log_every=config.log_every))
  final, logged = run_all(params0, x, y, x_test, y_test, betas=betas, learning_rates=etas)
  logged = jax.tree.map(np.asarray, logged)
  steps = np.arange(0, config.num_steps + 1, config.log_every)

  # One N(0, I) draw; the head's reference is its first d + 1 coordinates (also N(0, I)).
  ref_res = jax.random.normal(knn_key, (config.knn_reference, 2 * config.dim), jnp.float64)
  ref_head = ref_res[:, :config.dim + 1]

  @jax.jit
  def knn(params):
    knn_kl = functools.partial(divergence.knn_kl, k=config.knn_k)
    res = resnet.resnet_samples(params.resnet)
    # Mirror pairs (a, b), (-a, b) are not independent draws (a partner is an unusually close
    # neighbour), so the head estimate averages the two halves, each i.i.d. at init; by
    # convexity the average bounds the KL of the whole cloud from above.
    head = resnet.head_samples(params.head)
    half = head.shape[0] // 2
    return (jnp.mean(jax.vmap(lambda s: knn_kl(s, ref_res))(res)),
            0.5 * (knn_kl(head[:half], ref_head) + knn_kl(head[half:], ref_head)))

  knn_res0, knn_head0 = knn(params0)
  knn_res, knn_head = jax.vmap(knn)(final)

  # Closed-form Gram matrices against the Jacobian form (jaxlab.ntk) at init and after training
  # at the smallest beta (where G1 != 0).
  trained = jax.tree.map(lambda v: v[0], final)
  gram_error = max(
      float(jnp.max(jnp.abs(c - j)))
      for p in (params0, trained)
      for c, j in zip(resnet.gram(p, x, alpha=config.alpha),
                      jax.jit(functools.partial(resnet.gram_jacobian, x=x,
                                                alpha=config.alpha))(p)))

  rows = []
  for i, beta in enumerate(config.betas):
    m = {k: v[i] for k, v in logged.items()}
    rate = rate_window(steps, m["loss"], m["bound"], start=config.rate_start,
                       floor=config.rate_floor)
    rows.append({
        "beta": beta,
        "learning_rate": float(etas[i]),
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
        "kl_head_knn_init": float(knn_head0),
        "kl_head_knn": float(knn_head[i]),
        "kl_resnet_knn_init": float(knn_res0),
        "kl_resnet_knn": float(knn_res[i]),
    })
  return rows, {"step": steps, **logged}, gram_error


# P1-B: approach to the mean-field limit ---------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("depth", "width", "num_steps"))
def limit_outputs(shared: resnet.Params, x, y, x_test, *, depth: int, width: int, alpha, beta,
                  learning_rate, num_steps: int):
  """For each seed of `shared` (depth-1 params with a leading seed axis S): f(x_test)
  `(S, n_test)` after `num_steps` GD steps and the features z_L(x_test) `(S, n_test, d)` at
  init of the (L, M) model `resnet.shared_layers(shared, depth=L, width=M)`."""

  def one(params):
    params = resnet.shared_layers(params, depth=depth, width=width)
    z0 = resnet.features(params.resnet, x_test, alpha=alpha)
    params = resnet.train(params, x, y, alpha=alpha, beta=beta, learning_rate=learning_rate,
                          num_steps=num_steps)
    return resnet.apply(params, x_test, alpha=alpha, beta=beta), z0

  return jax.vmap(one)(shared)


def limit_sweep(config: Config, key, x, y, x_test, sweep_dir: str) -> list[dict[str, Any]]:
  """Sup-over-test-x errors against the reference (L_ref, M_ref) model: depths at M = M_ref,
  widths at L = L_ref; rows `{"depth", "width", "error_trained", "error_init_features", ...}`."""
  init = functools.partial(resnet.init, dim=config.dim, depth=1, width=config.limit_ref_width,
                           head_width=config.head_width, dtype=jnp.float64)
  shared = jax.jit(jax.vmap(init))(jax.random.split(key, config.limit_seeds))
  run_model = functools.partial(
      limit_outputs, shared, x, y, x_test, alpha=config.alpha, beta=config.limit_beta,
      learning_rate=config.eta_beta2 / config.limit_beta ** 2, num_steps=config.limit_steps)
  f_ref, z_ref = run_model(depth=config.limit_ref_depth, width=config.limit_ref_width)

  def point_fn(point):
    f, z = run_model(depth=point["depth"], width=point["width"])
    err = jnp.max(jnp.abs(f - f_ref), axis=-1)                      # (S,)
    zerr = jnp.max(jnp.linalg.norm(z - z_ref, axis=-1), axis=-1)    # (S,)
    return {"error_trained": float(jnp.mean(err)), "error_trained_per_seed": np.asarray(err),
            "error_init_features": float(jnp.mean(zerr))}

  points = ([{"depth": d, "width": config.limit_ref_width} for d in config.limit_depths] +
            [{"depth": config.limit_ref_depth, "width": w} for w in config.limit_widths])
  records = sweep.run_sweep(point_fn, points, sweep_dir)
  return [{**r["point"], "varied": "depth" if i < len(config.limit_depths) else "width",
           **r["result"]} for i, r in enumerate(records)]


def limit_ratios(config: Config, rows: list[dict[str, Any]]) -> dict[str, Any]:
  """Error ratios e(L)/e(2L) and e(M)/e(4M) between consecutive grid points (NaN where the grid
  does not double / quadruple) and their geometric means. Depth pairs (L, 2L) count only while
  2L <= L_ref / 4: with the reference's own O(1/L_ref) error the expected ratio is
  (1/L - 1/L_ref) / (1/(2L) - 1/L_ref), which is 2.33 at 2L = L_ref / 4 but 3 at
  2L = L_ref / 2."""
  out: dict[str, Any] = {}
  for varied, factor, key in (("depth", 2, "depth"), ("width", 4, "width")):
    sel = [r for r in rows if r["varied"] == varied]
    ratios, counted = [], []
    for lo, hi in zip(sel, sel[1:]):
      r = (lo["error_trained"] / hi["error_trained"] if hi[key] == factor * lo[key]
           else float("nan"))
      ratios.append(r)
      if varied == "width" or 4 * hi[key] <= config.limit_ref_depth:
        counted.append(r)
    counted = [r for r in counted if math.isfinite(r) and r > 0]
    out[f"{varied}_ratios"] = ratios
    out[f"{varied}_ratio"] = (float(np.exp(np.mean(np.log(counted)))) if counted
                              else float("nan"))
  return out


# P1-D: generalisation vs n ---------------------------------------------------------------------

@functools.partial(jax.jit, static_argnames=("num_steps",))
def generalisation_point(x, y, params0: resnet.Params, x_test, y_test, *, alpha, beta,
                         learning_rate, num_steps: int):
  """Trains one model per seed (leading axis S of `x (S, n, d)`, `y (S, n)`, `params0`); returns
  `{name: (S,)}`: train/test MSE, the total KL proxy (head + mean per-layer ResNet,
  moment-matched vs init) and (eta beta^2 / n) lambda_max(G(0)) (stable GD needs < 2)."""
  n = x.shape[1]

  def summary(args):  # lax.map over seeds: see `track` on batched LAPACK kernels
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
  Training sets are nested (the first n of max(gen_sizes) points per seed) and every n starts
  from the same initialisation, so the curve over n is not confounded by fresh draws."""
  k_data, k_init = jax.random.split(key)
  seeds = config.gen_seeds
  x_all = jax.vmap(lambda k: synthetic.sphere(k, max(config.gen_sizes), config.dim,
                                              dtype=jnp.float64))(jax.random.split(k_data, seeds))
  init = functools.partial(resnet.init, dim=config.dim, depth=config.depth, width=config.width,
                           head_width=config.head_width, dtype=jnp.float64)
  params0 = jax.jit(jax.vmap(init))(jax.random.split(k_init, seeds))

  def point_fn(point):
    n = point["n"]
    beta = config.gen_c * math.sqrt(n)
    x = x_all[:, :n]
    out = generalisation_point(x, jax.vmap(target)(x), params0, x_test, y_test,
                               alpha=config.alpha, beta=beta, learning_rate=config.gen_eta,
                               num_steps=config.gen_steps)
    out = {k: float(jnp.mean(v)) for k, v in out.items()}
    return {"beta": beta, **out, "gap": out["test_mse"] - out["train_mse"],
            "proxy": beta * math.sqrt(max(out["kl"], 0.0) / n)}

  records = sweep.run_sweep(point_fn, [{"n": n} for n in config.gen_sizes], sweep_dir)
  return [{**r["point"], **r["result"]} for r in records]


# checks, plots, run ------------------------------------------------------------------------------

def evaluate_checks(rows, limit, gen_slope, gram_error) -> dict[str, dict[str, Any]]:
  """Every check of spec section 5 (P1-A (i)-(iii), P1-B, P1-D) and the Gram closed forms."""
  out: dict[str, dict[str, Any]] = {
      "gram_closed_form_equals_jacobian": checks_lib.interval(gram_error, hi=1e-10)}
  for r in rows:
    b = f"{r['beta']:g}"
    out[f"gram_stability_beta_{b}"] = checks_lib.interval(
        r["gram_min_eig_min"] / r["gram_min_eig_init"], lo=0.5)
    out[f"rate_vs_bound_beta_{b}"] = checks_lib.interval(
        r["observed_log_decrement_per_step"] / r["bound_log_decrement_per_step"], 0.9, 3.0)
  betas = [r["beta"] for r in rows]
  for name in ("displacement_head", "displacement_resnet", "kl_head", "kl_resnet"):
    values = np.array([r[name] for r in rows])
    out[f"{name}_monotone"] = checks_lib.below(np.max(values[1:] / values[:-1]), 1.0)
    out[f"{name}_exponent"] = checks_lib.interval(checks_lib.loglog_slope(betas, values),
                                                  -3.0, -1.0)
  out["limit_depth_halving"] = checks_lib.interval(limit["depth_ratio"], 2 / 1.3, 2 * 1.3)
  out["limit_width_halving"] = checks_lib.interval(limit["width_ratio"], 2 / 1.3, 2 * 1.3)
  out["gen_gap_slope"] = checks_lib.interval(gen_slope, hi=-0.4)
  return out


def plot_beta_sweep(config: Config, rows, logged, workdir: Workdir) -> str:
  fig, axes = plotting.figure(1, 4)
  steps = logged["step"]
  for i, beta in enumerate(config.betas):
    axes[0].plot(steps, logged["loss"][i], label=f"beta={beta:g}")
    line, = axes[1].plot(steps, logged["lambda_min_g2"][i], label=f"beta={beta:g}")
    axes[1].plot(steps, logged["lambda_min_g"][i], ls=":", color=line.get_color())
    axes[3].plot(steps, logged["kl_head"][i], color=line.get_color(), label=f"beta={beta:g}")
    axes[3].plot(steps, logged["kl_resnet"][i], ls=":", color=line.get_color())
  axes[1].axhline(0.5 * rows[0]["gram_min_eig_init"], color="k", lw=0.8, ls="--",
                  label="0.5 lambda_min(G2(0))")
  axes[0].set(xlabel="step", ylabel="R(t)", yscale="log", title="training loss")
  axes[1].set(xlabel="step", ylabel="lambda_min", title="G2 (solid), G1+G2 (dotted)")
  betas = np.array(config.betas)
  for name, marker in (("displacement_head", "o"), ("displacement_resnet", "s"),
                       ("kl_head", "^"), ("kl_resnet", "v")):
    values = np.array([r[name] for r in rows])
    axes[2].plot(betas, values, marker=marker,
                 label=f"{name} (slope {checks_lib.loglog_slope(betas, values):.2f})")
  axes[2].set(xlabel="beta", xscale="log", yscale="log", title="movement vs beta")
  axes[3].set(xlabel="step", ylabel="KL proxy", yscale="log",
              title="KL head (solid), ResNet (dotted)")
  for ax in axes:
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "beta_sweep")


def plot_limit_and_generalisation(limit_rows, gen_rows, workdir: Workdir) -> str:
  fig, axes = plotting.figure(1, 3)
  for ax, varied in zip(axes[:2], ("depth", "width")):
    sel = [r for r in limit_rows if r["varied"] == varied]
    grid = np.array([r[varied] for r in sel])
    for name, marker in (("error_trained", "o"), ("error_init_features", "s")):
      values = np.array([r[name] for r in sel])
      ax.plot(grid, values, marker=marker,
              label=f"{name} (slope {checks_lib.loglog_slope(grid, values):.2f})")
    power, label = (1.0, "1/L") if varied == "depth" else (0.5, "1/sqrt(M)")
    ax.plot(grid, sel[0]["error_trained"] * (grid / grid[0]) ** -power, "k--", lw=0.8,
            label=label)
    ax.set(xlabel=varied, xscale="log", yscale="log", title=f"sup error vs {varied}")
  n = np.array([r["n"] for r in gen_rows])
  for name in ("gap", "proxy", "train_mse"):
    values = np.array([r[name] for r in gen_rows])
    axes[2].plot(n, np.abs(values), marker="o",
                 label=f"{name} (slope {checks_lib.loglog_slope(n, values):.2f})")
  axes[2].set(xlabel="n (beta = c sqrt(n))", xscale="log", yscale="log",
              title="generalisation")
  for ax in axes:
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return workdir.save_figure(fig, "limit_and_generalisation")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False) -> dict[str, Any]:
  """Runs the three studies and writes config.json, metrics.jsonl (beta sweep: one line per
  beta and logged step; then one line per generalisation point), sweeps/*/sweep.jsonl,
  results.json and plots/{beta_sweep, limit_and_generalisation}.png. Enables float64.

  Returns:
    The results dict: `beta_sweep`, `displacement_exponent_head`,
    `displacement_exponent_resnet`, `limit_sweep`, `gen_gap_slope`, `checks` and extras.
  """
  jax.config.update("jax_enable_x64", True)
  t_start = time.perf_counter()
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite)
  wd.write_config(to_dict(config))
  key = jax.random.key(config.seed)
  k_data, k_init, k_knn, k_limit, k_gen = jax.random.split(key, 5)
  del key
  x_all, y_all = sphere_data(k_data, config.num_train + config.num_test, config.dim)
  x, y = x_all[:config.num_train], y_all[:config.num_train]
  x_test, y_test = x_all[config.num_train:], y_all[config.num_train:]

  params0 = resnet.init(k_init, dim=config.dim, depth=config.depth, width=config.width,
                        head_width=config.head_width, dtype=jnp.float64)
  logging.info("beta sweep: betas %s, %d steps", config.betas, config.num_steps)
  rows, logged, gram_error = beta_sweep(config, params0, x, y, x_test, y_test, k_knn)
  names = [k for k in logged if k != "step"]
  for j, step in enumerate(logged["step"]):
    for i, beta in enumerate(config.betas):
      wd.log(int(step), {"study": "beta_sweep", "beta": beta,
                         **{k: logged[k][i, j] for k in names}})
  for r in rows:
    logging.info("beta=%g: lambda_min(G2) init %.4g min %.4g; decrement %.4g vs bound %.4g; "
                 "R_T=%.3g", r["beta"], r["gram_min_eig_init"], r["gram_min_eig_min"],
                 r["observed_log_decrement_per_step"], r["bound_log_decrement_per_step"],
                 r["final_loss"])

  logging.info("limit sweep: depths %s x width %d, widths %s x depth %d, %d seeds",
               config.limit_depths, config.limit_ref_width, config.limit_widths,
               config.limit_ref_depth, config.limit_seeds)
  limit_rows = limit_sweep(config, k_limit, x, y, x_test, wd.file(os.path.join("sweeps",
                                                                    "limit")))
  limit = limit_ratios(config, limit_rows)

  logging.info("generalisation sweep: n in %s", config.gen_sizes)
  gen_rows = generalisation_sweep(config, k_gen, x_test, y_test,
                                  wd.file(os.path.join("sweeps", "generalisation")))
  for r in gen_rows:
    wd.log(config.gen_steps, {"study": "generalisation", **r})
  gen_n = [r["n"] for r in gen_rows]

  betas = list(config.betas)
  exponents = {f"{name}_exponent": checks_lib.loglog_slope(betas, [r[name] for r in rows])
               for name in ("kl_head", "kl_resnet")}
  results = {
      "beta_sweep": rows,
      "displacement_exponent_head": checks_lib.loglog_slope(
          betas, [r["displacement_head"] for r in rows]),
      "displacement_exponent_resnet": checks_lib.loglog_slope(
          betas, [r["displacement_resnet"] for r in rows]),
      **exponents,
      "limit_sweep": limit_rows,
      "limit_ratios": limit,
      "generalisation": gen_rows,
      "gen_gap_slope": checks_lib.loglog_slope(gen_n, [r["gap"] for r in gen_rows]),
      "gen_proxy_slope": checks_lib.loglog_slope(gen_n, [r["proxy"] for r in gen_rows]),
  }
  results["gram_closed_form_vs_jacobian_max_abs"] = gram_error
  results["checks"] = evaluate_checks(rows, limit, results["gen_gap_slope"], gram_error)
  results["all_checks_pass"] = checks_lib.all_pass(results["checks"])
  results["wall_s"] = time.perf_counter() - t_start
  wd.write_results(results)
  plot_beta_sweep(config, rows, logged, wd)
  plot_limit_and_generalisation(limit_rows, gen_rows, wd)
  failed = [k for k, c in results["checks"].items() if not c["pass"]]
  logging.info("checks: %d/%d pass%s (%.1fs)", len(results["checks"]) - len(failed),
               len(results["checks"]), f"; failed: {failed}" if failed else "",
               results["wall_s"])
  return results
