"""Closed-form predictions of NTK-regime training and GP inference (NT's `nt.predict`), on
the shared spectral core `jaxlab.kernels.spectral` (one `eigh` of the train kernel).

  k_dd = kernel_fn(x_train, None, "ntk")                          # (N, N)
  k_td = kernel_fn(x_test, x_train, "ntk")                        # (M, N)
  predict_fn = gradient_descent_mse(k_dd, y_train, learning_rate=1.0)
  fx_train_t, fx_test_t = predict_fn(t=jnp.array([1.0, 10.0]), fx_train_0=f(x_train),
                                     fx_test_0=f(x_test), k_test_train=k_td)
  # (2, N, O), (2, M, O); t=None: the end of training (kernel "ridgeless" regression)
  gp = gp_inference(kernel_fn(x_train, None, ("nngp", "ntk")), y_train, diag_reg=1e-4)
  gp("ntk", kernel_fn(x_test, x_train, ("nngp", "ntk")),
     kernel_fn(x_test, None, ("nngp", "ntk")))                    # Gaussian(mean, covariance)

Conventions (neural-tangents'): the loss is 0.5 / |y| * ||f(X) - y||^2 with |y| = y_train.size,
so gradient flow in function space is d f / dt = -(eta / |y|) Theta (f - y) ("Wide Neural
Networks of Any Depth Evolve as Linear Models", Lee et al. 2019, arXiv:1902.06720):
  f_train(t) = y + exp(-eta t Theta / |y|) (f_train(0) - y)
  f_test(t)  = f_test(0) + Theta_td Theta^-1 (I - exp(-eta t Theta / |y|)) (y - f_train(0))
`diag_reg` adds `diag_reg * I` to the train kernel, scaled by the mean of its diagonal
(`trace / n`) unless `diag_reg_absolute_scale`. Kernels may carry output axes in NT's layout:
`(N, N, A, A, ...)` for outputs `(N, A, ...)` minus `trace_axes`, which are treated as Theta
(x) I.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.kernels import spectral
from jaxlab.ntk.empirical import Axes, _canonical_axes, _canonical_get
from jaxlab.ntk.kernel import namedtuple_type


class Gaussian(NamedTuple):
  """Posterior `mean` (shape of the outputs) and `covariance` (shape of the test kernel)."""

  mean: jax.Array
  covariance: jax.Array


def _to_matrix(k: jax.Array) -> jax.Array:
  """Kernel in NT's zipped layout `(A1, B1, A2, B2, ...)` -> matrix `(A1 A2 .., B1 B2 ..)`."""
  k = jnp.asarray(k)
  if k.ndim % 2:
    raise ValueError(f"kernels must have an even number of axes (pairs), got shape {k.shape}")
  rows, cols = k.shape[0::2], k.shape[1::2]
  order = list(range(0, k.ndim, 2)) + list(range(1, k.ndim, 2))
  return k.transpose(order).reshape(math.prod(rows), math.prod(cols))


def _from_matrix(m: jax.Array, rows: tuple, cols: tuple) -> jax.Array:
  """Inverse of `_to_matrix` for row axes `rows` and column axes `cols`."""
  n = len(rows)
  m = m.reshape(tuple(rows) + tuple(cols))
  order = [i + j * n for i in range(n) for j in range(2)]
  return m.transpose(order)


class _Targets:
  """Outputs `(N, ...)` as a matrix `(n, r)`: kernel axes (non-traced) x traced axes."""

  def __init__(self, y_shape: tuple, trace_axes: Axes):
    self.ndim = len(y_shape)
    self.trace = _canonical_axes(trace_axes, self.ndim, "trace_axes")
    self.kernel_axes = tuple(i for i in range(self.ndim) if i not in self.trace)
    self.traced_shape = tuple(y_shape[i] for i in self.trace)

  def to_matrix(self, y: jax.Array) -> jax.Array:
    y = jnp.moveaxis(y, self.trace, range(self.ndim - len(self.trace), self.ndim))
    return y.reshape(-1, math.prod(self.traced_shape))

  def from_matrix(self, m: jax.Array, kernel_shape: tuple) -> jax.Array:
    y = m.reshape(tuple(kernel_shape) + self.traced_shape)
    return jnp.moveaxis(y, range(self.ndim - len(self.trace), self.ndim), self.trace)

  def output_shape(self, kernel_shape: tuple) -> tuple:
    """Output shape for kernel axes `kernel_shape` (traced axes re-inserted)."""
    shape = list(kernel_shape)
    for i, size in zip(self.trace, self.traced_shape):
      shape.insert(i, size)
    return tuple(shape)


def _regularized_eigh(k: jax.Array, diag_reg, absolute: bool) -> spectral.Eigh:
  n = k.shape[0]
  reg = diag_reg if absolute else diag_reg * jnp.trace(k) / n
  return spectral.eigh(k + reg * jnp.eye(n, dtype=k.dtype))


def _check_kernel(k_train_train, y_train, targets: _Targets) -> None:
  expected = tuple(s for i in targets.kernel_axes for s in (y_train.shape[i],) * 2)
  if tuple(jnp.shape(k_train_train)) != expected:
    raise ValueError(f"k_train_train must have shape {expected} (zip(y_train.shape, "
                     f"y_train.shape) without trace_axes={targets.trace}), got "
                     f"{jnp.shape(k_train_train)}")


def gradient_descent_mse(k_train_train: jax.Array, y_train: jax.Array, learning_rate=1.0,
                         diag_reg=0.0, diag_reg_absolute_scale: bool = False,
                         trace_axes: Axes = (-1,)):
  """Predicts gradient flow on the MSE at any time, given the NTK (or NNGP) on the data.

  Args:
    k_train_train: `(N, N, ...)` kernel, `zip(y_train.shape, y_train.shape)` without
      `trace_axes`. Use float64.
    y_train: `(N, ...)` targets.
    learning_rate: eta; time enters only as eta * t.
    diag_reg, diag_reg_absolute_scale: ridge added to the train kernel (see module doc).
    trace_axes: output axes the kernel is the identity over.

  Returns:
    `predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)` returning
    `fx_train_t`, `fx_test_t` or both (leading axes `t.shape`); `t=None` is t = infinity,
    where the train outputs are `y_train` and the test outputs the kernel regression
    `fx_test_0 + k_test_train (K + reg)^-1 (y - fx_train_0)`. `fx_train_0=None` skips the
    train outputs; `fx_test_0=None` skips the test outputs.
  """
  y_train = jnp.asarray(y_train)
  targets = _Targets(y_train.shape, trace_axes)
  _check_kernel(k_train_train, y_train, targets)
  k = _to_matrix(k_train_train)
  eig = _regularized_eigh(k, diag_reg, diag_reg_absolute_scale)
  y = targets.to_matrix(y_train.astype(k.dtype))
  kernel_shape = tuple(y_train.shape[i] for i in targets.kernel_axes)
  size = y_train.size

  def predict_fn(t=None, fx_train_0=0.0, fx_test_0=None, k_test_train=None):
    if fx_train_0 is None and fx_test_0 is None:
      raise ValueError("both fx_train_0 and fx_test_0 are None: nothing to predict")
    if fx_test_0 is not None and k_test_train is None:
      raise ValueError("predictions on the test set need k_test_train")
    f0 = jnp.zeros_like(y) if fx_train_0 is None else targets.to_matrix(
        jnp.broadcast_to(jnp.asarray(fx_train_0, k.dtype), y_train.shape))
    if fx_test_0 is not None:
      k_td = _to_matrix(k_test_train)
      test_kernel_shape = tuple(jnp.shape(k_test_train)[0::2])
      fx_test_0 = jnp.broadcast_to(jnp.asarray(fx_test_0, k.dtype),
                                   targets.output_shape(test_kernel_shape))
    out = []
    if t is None:
      if fx_train_0 is not None:
        out.append(y_train.astype(k.dtype))
      if fx_test_0 is not None:
        delta = spectral.predict(eig, k_td, y - f0, spectral.ridge_filter(eig.values, 0.0))
        out.append(fx_test_0 + targets.from_matrix(delta, test_kernel_shape))
    else:
      t = jnp.asarray(t, k.dtype)

      def at(time):
        g = spectral.gradient_flow_filter(eig.values, time / size, learning_rate)
        res = []
        if fx_train_0 is not None:
          res.append(targets.from_matrix(f0 + spectral.apply_filter(eig, eig.values * g, y - f0),
                                         kernel_shape))
        if fx_test_0 is not None:
          res.append(fx_test_0 + targets.from_matrix(spectral.predict(eig, k_td, y - f0, g),
                                                     test_kernel_shape))
        return res

      flat = jax.vmap(at)(t.reshape(-1))
      out = [r.reshape(t.shape + r.shape[1:]) for r in flat]
    return out[0] if len(out) == 1 else tuple(out)

  return predict_fn


def _field(k, name: str) -> jax.Array:
  """`k.nngp` / `k.ntk` of a Kernel or namedtuple; an array is taken as is."""
  if not (hasattr(k, "nngp") or hasattr(k, "ntk")):
    return jnp.asarray(k)
  value = getattr(k, name, None)
  if value is None:
    raise ValueError(f"the kernel passed has no {name!r}; pass both 'nngp' and 'ntk' (e.g. "
                     f"kernel_fn(x1, x2, ('nngp', 'ntk'))) for this prediction")
  return jnp.asarray(value)


def gp_inference(k_train_train, y_train: jax.Array, diag_reg=0.0,
                 diag_reg_absolute_scale: bool = False, trace_axes: Axes = (-1,)):
  """Posterior of the NNGP, of the infinite ensemble trained to convergence (NTK), or of the
  GP with NTK covariance (NTKGP; He et al. 2020, arXiv:2007.05864); the mean is kernel ridge
  regression with ridge `diag_reg`.

  Args:
    k_train_train: an array, or a `Kernel` / namedtuple with `nngp` and/or `ntk` (both for
      the NTK posterior covariance), NT layout, float64.
    y_train, diag_reg, diag_reg_absolute_scale, trace_axes: as in `gradient_descent_mse`.

  Returns:
    `predict_fn(get=None, k_test_train=None, k_test_test=None)`: for each of `get` ('nngp',
    'ntk', 'ntkgp'; default both of the first two) the test mean, or `Gaussian(mean,
    covariance)` if `k_test_test` is given:
      nngp / ntkgp: K_tt - K_td K_dd^-1 K_dt  (K = nngp, resp. ntk)
      ntk:          K_tt + T_td T^-1 K_dd T^-1 T_dt - (T_td T^-1 K_dt + transpose)
    with K = nngp, T = ntk (Lee et al. 2019, arXiv:1902.06720, Eq. 16). `k_test_train=None`
    gives the train outputs, `N(y_train, 0)`.
  """
  y_train = jnp.asarray(y_train)
  targets = _Targets(y_train.shape, trace_axes)
  eigs: dict[str, spectral.Eigh] = {}

  def solve(name: str, b: jax.Array) -> jax.Array:
    """(K_name + reg)^-1 b for a matrix `b (n, m)`."""
    if name not in eigs:
      k = _field(k_train_train, name)
      _check_kernel(k, y_train, targets)
      eigs[name] = _regularized_eigh(_to_matrix(k), diag_reg, diag_reg_absolute_scale)
    eig = eigs[name]
    return spectral.apply_filter(eig, spectral.ridge_filter(eig.values, 0.0), b)

  def predict_fn(get=None, k_test_train=None, k_test_test=None):
    names, single = _canonical_get(get)
    out = {}
    for g in names:
      if g not in ("nngp", "ntk", "ntkgp"):
        raise ValueError(f"get must be 'nngp', 'ntk', 'ntkgp', a tuple of them or None, got "
                         f"{get!r}")
      kname = "ntk" if g == "ntkgp" else g
      k_dd = _field(k_train_train, kname)
      y = targets.to_matrix(y_train.astype(k_dd.dtype))
      if k_test_train is None:
        mean = y_train.astype(k_dd.dtype)
      else:
        k_td = _field(k_test_train, kname)
        test_shape = tuple(jnp.shape(k_td)[0::2])
        mean = targets.from_matrix(_to_matrix(k_td) @ solve(kname, y), test_shape)
      if k_test_test is None:
        out[g] = mean
        continue
      if k_test_train is None:
        out[g] = Gaussian(mean, jnp.zeros_like(k_dd))
        continue
      init = "ntk" if g == "ntkgp" else "nngp"
      td = _to_matrix(_field(k_test_train, kname))
      td_init = _to_matrix(_field(k_test_train, init))
      tt = _field(k_test_test, init)
      rows = tuple(jnp.shape(tt)[0::2])
      if g == "ntk":
        a = solve("ntk", td.T)                                   # T^-1 T_dt
        cov = a.T @ _to_matrix(_field(k_train_train, "nngp")) @ a
        cross = td @ solve("ntk", td_init.T)
        cov = cov - cross - cross.T
      else:
        cov = -td @ solve(kname, td_init.T)
      out[g] = Gaussian(mean, tt + _from_matrix(cov, rows, rows))
    if single:
      return out[names[0]]
    return namedtuple_type("Gaussians", names)(**out)

  return predict_fn


def max_learning_rate(ntk_train_train: jax.Array, y_train_size: int | None = None,
                      momentum=0.0, eps: float = 1e-12):
  """Largest stable learning rate of (momentum) gradient descent on the NT-normalised MSE:
  `2 (1 + momentum) |y| / (lambda_max(Theta) + eps)`; `|y|` defaults to the number of rows
  of the (matricised) kernel, i.e. `trace_axes=()`."""
  k = _to_matrix(ntk_train_train)
  size = k.shape[0] if y_train_size is None else y_train_size
  return 2 * (1 + momentum) * size / (spectral.lambda_max(k) + eps)


# ---------------------------------------------------------------------------------------------
# The infinite ensemble of infinite-width networks trained by gradient descent on the MSE.


def _get_dependency(get, compute_cov: bool) -> tuple[str, ...]:
  names, _ = _canonical_get(get)
  for g in names:
    if g not in ("nngp", "ntk"):
      raise ValueError(f"get must be 'nngp', 'ntk', a tuple of them or None, got {get!r}")
  needed = ()
  if "nngp" in names or ("ntk" in names and compute_cov):
    needed += ("nngp",)
  return needed + (("ntk",) if "ntk" in names else ())


def gradient_descent_mse_ensemble(kernel_fn, x_train, y_train: jax.Array, learning_rate=1.0,
                                  diag_reg=0.0, diag_reg_absolute_scale: bool = False,
                                  trace_axes: Axes = (-1,), **kernel_fn_train_train_kwargs):
  """Mean and covariance of the outputs of an infinite ensemble of networks trained by
  gradient flow on the MSE (NT's `predict.gradient_descent_mse_ensemble`).

  With Theta (the NTK, or the NNGP for `get='nngp'`: only the last layer trained) and K (the
  NNGP) on the training set, E(t) = I - exp(-eta t Theta / |y|) and zero-mean outputs at
  initialisation (Lee et al. 2019, arXiv:1902.06720, Eq. 15-16):
    mean_test(t) = Theta_td Theta^-1 E(t) y
    cov_test(t) (ntk)  = K_tt + Theta_td Theta^-1 E K E Theta^-1 Theta_dt
                         - (Theta_td Theta^-1 E K_dt + transpose)
    cov_test(t) (nngp) = K_tt - K_td K^-1 (I - exp(-2 eta t K / |y|)) K_dt
  and on the training set (`x_test=None`) mean E(t) y, covariance K exp(-2 eta t K / |y|)
  (nngp) or exp(-eta t Theta / |y|) K exp(-eta t Theta / |y|) (ntk). `t=None` is the end of
  training (`gp_inference`). `diag_reg` regularises Theta (and K) as in `gp_inference`.

  Args:
    kernel_fn: `kernel_fn(x1, x2, get, **kwargs)` returning a Kernel or namedtuple with
      `nngp` / `ntk` (a `stax` kernel_fn, `monte_carlo_kernel_fn`, `empirical_kernel_fn`
      with params bound).
    x_train, y_train: training inputs and targets `(N, ...)`.
    learning_rate, diag_reg, diag_reg_absolute_scale, trace_axes: as `gradient_descent_mse`.
    **kernel_fn_train_train_kwargs: passed to `kernel_fn` (also for the test kernels unless
      overridden in `predict_fn`).

  Returns:
    `predict_fn(t=None, x_test=None, get=None, compute_cov=False, **kernel_fn_kwargs)`: for
    each of `get` ('nngp', 'ntk', default both -> namedtuple `Gaussians`) the mean, or
    `Gaussian(mean, covariance)` if `compute_cov`; leading axes `t.shape` for array `t`.
  """
  y_train = jnp.asarray(y_train)
  targets = _Targets(y_train.shape, trace_axes)
  cache: dict = {}

  def train_kernel(name: str) -> jax.Array:
    if name not in cache:
      cache[name] = jnp.asarray(getattr(kernel_fn(x_train, None, (name,),
                                                  **kernel_fn_train_train_kwargs), name))
    return cache[name]

  def eig(name: str) -> spectral.Eigh:
    key = ("eigh", name)
    if key not in cache:
      cache[key] = _regularized_eigh(_to_matrix(train_kernel(name)), diag_reg,
                                     diag_reg_absolute_scale)
    return cache[key]

  def predict_fn(t=None, x_test=None, get=None, compute_cov: bool = False,
                 **kernel_fn_test_test_kwargs):
    names, single = _canonical_get(get)
    needed = _get_dependency(names, compute_cov)
    kwargs = dict(kernel_fn_train_train_kwargs, **kernel_fn_test_test_kwargs)
    k_dd = {g: train_kernel(g) for g in needed}
    k_td = k_tt = None
    if x_test is not None:
      k_td = kernel_fn(x_test, x_train, needed, **kwargs)
      if compute_cov:
        k_tt = kernel_fn(x_test, None, "nngp", **kwargs)
    if t is None:
      dd = namedtuple_type("Kernels", needed)(**k_dd)
      gp = gp_inference(dd, y_train, diag_reg, diag_reg_absolute_scale, trace_axes)
      return gp(names[0] if single else names, k_td, k_tt if compute_cov else None) if (
          x_test is not None or not compute_cov) else _train_at_infinity(
              names, single, y_train, k_dd)
    out = {g: _ensemble_at(g, jnp.asarray(t) * learning_rate, eig(g), k_dd, k_td, k_tt,
                           y_train, targets, compute_cov) for g in names}
    if single:
      return out[names[0]]
    return namedtuple_type("Gaussians", names)(**out)

  return predict_fn


def _train_at_infinity(names, single, y_train, k_dd):
  out = {g: Gaussian(y_train.astype(k_dd[g].dtype), jnp.zeros_like(k_dd[g])) for g in names}
  return out[names[0]] if single else namedtuple_type("Gaussians", names)(**out)


def _ensemble_at(g: str, t: jax.Array, eig: spectral.Eigh, k_dd: dict, k_td, k_tt, y_train,
                 targets: _Targets, compute_cov: bool):
  """Mean (and covariance) of `gradient_descent_mse_ensemble` for kernel `g` at times `t`."""
  size = y_train.size
  dtype = eig.values.dtype
  y = targets.to_matrix(y_train.astype(dtype))
  values = jnp.maximum(eig.values, 0.0)
  v = eig.vectors
  if k_td is None:
    rows = tuple(y_train.shape[i] for i in targets.kernel_axes)
  else:
    td = _to_matrix(getattr(k_td, g))
    rows = tuple(jnp.shape(getattr(k_td, g))[0::2])

  def at(time):
    decay = jnp.exp(-values * time / size)
    if k_td is None:
      mean = v @ ((1 - decay)[:, None] * (v.T @ y))
    else:
      mean = td @ v @ (spectral.gradient_flow_filter(eig.values, time / size)[:, None]
                       * (v.T @ y))
    mean = targets.from_matrix(mean, rows)
    if not compute_cov:
      return mean, None
    k_nngp = _to_matrix(k_dd["nngp"])
    if k_td is None:
      if g == "nngp":
        cov = (v * (values * jnp.exp(-2 * values * time / size))[None, :]) @ v.T
      else:
        e = (v * decay[None, :]) @ v.T
        cov = e @ k_nngp @ e
    else:
      tt = _to_matrix(k_tt)
      if g == "nngp":
        filt = spectral.gradient_flow_filter(eig.values, 2 * time / size)
        cov = tt - td @ (v * filt[None, :]) @ v.T @ td.T
      else:
        flow = v * spectral.gradient_flow_filter(eig.values, time / size)[None, :]
        a = flow @ v.T @ td.T
        cross = td @ flow @ v.T @ _to_matrix(k_td.nngp).T
        cov = a.T @ k_nngp @ a - cross - cross.T + tt
    return mean, _from_matrix(cov, rows, rows)

  flat = t.reshape(-1)
  means, covs = jax.vmap(at)(flat)
  means = means.reshape(t.shape + means.shape[1:])
  if not compute_cov:
    return means
  return Gaussian(means, covs.reshape(t.shape + covs.shape[1:]))


# ---------------------------------------------------------------------------------------------
# Any loss, with or without momentum: the function-space ODE.


class ODEState(NamedTuple):
  """State of `gradient_descent`'s ODE: outputs and (with momentum) their velocities."""

  fx_train: jax.Array | None = None
  fx_test: jax.Array | None = None
  qx_train: jax.Array | None = None
  qx_test: jax.Array | None = None


def gradient_descent(loss, k_train_train: jax.Array, y_train: jax.Array, learning_rate=1.0,
                     momentum=None, trace_axes: Axes = (-1,)):
  """Outputs of function-space gradient descent on any `loss(fx, y)`, solved as an ODE
  (NT's `predict.gradient_descent`; Lee et al. 2019, arXiv:1902.06720):
    d f_train / dt = -Theta grad_f loss(f_train, y),  d f_test / dt = -Theta_td grad_f loss.
  With `momentum` m the continuous-time heavy ball is solved in units of sqrt(eta):
  d f / dt = q, d q / dt = -Theta grad loss + (m - 1) / sqrt(eta) q. Time t counts steps
  (absolute time eta t, or sqrt(eta) t with momentum). `jax.experimental.ode.odeint`
  (adaptive Dormand-Prince) integrates it.

  Returns:
    `predict_fn(t=None, fx_train_or_state_0=0., fx_test_0=None, k_test_train=None)`
    returning `fx_train_t`, `fx_test_t`, both, or an `ODEState` if one was passed; leading
    axes `t.shape` (t increasing; None is infinity and may not converge).
  """
  from jax.experimental import ode  # pylint: disable=g-import-not-at-top

  y_train = jnp.asarray(y_train)
  k_train_train = jnp.asarray(k_train_train)
  ndim = y_train.ndim
  trace = _canonical_axes(trace_axes, ndim, "trace_axes")
  non_trace = tuple(a for a in range(ndim) if a not in trace)
  last = tuple(range(ndim - len(trace), ndim))
  dtype = k_train_train.dtype
  grad_loss = jax.grad(lambda fx: loss(fx, y_train))
  eta = learning_rate ** 0.5 if momentum is not None else learning_rate
  friction = None if momentum is None else (momentum - 1.0) / eta

  def apply_kernel(k, g):
    odd = tuple(range(1, k.ndim, 2))
    return jnp.moveaxis(jnp.tensordot(k, g, (odd, non_trace)), last, trace)

  def dstate_dt(k_test_train):
    def f(state: ODEState, unused_t) -> ODEState:
      g = grad_loss(state.fx_train)
      d_train = -apply_kernel(k_train_train, g)
      d_test = None if state.fx_test is None else -apply_kernel(k_test_train, g)
      if friction is None:
        return ODEState(d_train, d_test)
      d_train = d_train + friction * state.qx_train
      if state.qx_test is not None:
        d_test = d_test + friction * state.qx_test
      return ODEState(state.qx_train, state.qx_test, d_train, d_test)
    return f

  def predict_fn(t=None, fx_train_or_state_0=0.0, fx_test_0=None, k_test_train=None):
    if fx_test_0 is not None and k_test_train is None:
      raise ValueError("predictions on the test set need k_test_train")
    as_state = isinstance(fx_train_or_state_0, ODEState)
    state0 = _ode_state_0(fx_train_or_state_0, fx_test_0, k_test_train, y_train, trace,
                          dtype, momentum is not None)
    times = jnp.asarray(jnp.inf if t is None else t, dtype) * eta
    shape = times.shape
    times = times.reshape(-1)
    start = jnp.where(times[0] == 0, jnp.full((1,), -1e-24, dtype), jnp.zeros((1,), dtype))
    states = ode.odeint(dstate_dt(k_test_train), state0, jnp.concatenate([start, times]))
    states = jax.tree_util.tree_map(lambda a: a[1:].reshape(shape + a.shape[1:]), states)
    if as_state:
      return states
    if fx_train_or_state_0 is not None and fx_test_0 is None:
      return states.fx_train
    if fx_train_or_state_0 is None:
      return states.fx_test
    return states.fx_train, states.fx_test

  return predict_fn


def _ode_state_0(fx_train_or_state_0, fx_test_0, k_test_train, y_train, trace, dtype,
                 with_momentum: bool) -> ODEState:
  if isinstance(fx_train_or_state_0, ODEState):
    s = fx_train_or_state_0
    fx_train, fx_test, q_train, q_test = s.fx_train, s.fx_test, s.qx_train, s.qx_test
  else:
    fx_train, fx_test, q_train, q_test = fx_train_or_state_0, fx_test_0, None, None
  fx_train = (jnp.zeros(y_train.shape, dtype) if fx_train is None
              else jnp.broadcast_to(jnp.asarray(fx_train, dtype), y_train.shape))
  test_shape = None
  if fx_test is not None:
    kernel_rows = tuple(jnp.shape(k_test_train)[0::2])
    shape = list(kernel_rows)
    for i in trace:
      shape.insert(i, y_train.shape[i])
    test_shape = tuple(shape)
    fx_test = jnp.broadcast_to(jnp.asarray(fx_test, dtype), test_shape)
  if not with_momentum:
    if q_train is not None or q_test is not None:
      raise ValueError("an ODEState with velocities was passed, but momentum is None")
    return ODEState(fx_train, fx_test)
  q_train = jnp.zeros(y_train.shape, dtype) if q_train is None else jnp.broadcast_to(
      jnp.asarray(q_train, dtype), y_train.shape)
  q_test = None if fx_test is None else (jnp.zeros(test_shape, dtype) if q_test is None else
                                         jnp.broadcast_to(jnp.asarray(q_test, dtype),
                                                          test_shape))
  return ODEState(fx_train, fx_test, q_train, q_test)
