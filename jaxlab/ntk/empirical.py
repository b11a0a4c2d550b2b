"""Empirical (finite-width) NNGP and NTK of any `f(params, x)`, with neural-tangents' API.

  f = lambda params, x: jnp.tanh(x @ params["w1"]) @ params["w2"]   # (N, 5) -> (N, 3)
  params = {"w1": w1, "w2": w2}                                      # (5, 64), (64, 3)
  ntk_fn = jax.jit(empirical_ntk_fn(f, vmap_axes=0))
  ntk_fn(x1, None, params)                     # (N1, N1): averaged over the 3 outputs
  empirical_ntk_fn(f, trace_axes=())(x1, x2, params)         # (N1, N2, 3, 3)
  empirical_nngp_fn(f, diagonal_axes=(0,))(x1, None, params)  # (N1,): f(x) . f(x) / 3

The NTK is J(x1) J(x2)^T with J = df/dparams ("Neural Tangent Kernel", Jacot et al. 2018,
arXiv:1806.07572); the NNGP is f(x1) f(x2)^T. Layout (as in neural-tangents): the kernel of
outputs `f(x1)` of shape `(N1, A, B, ...)` and `f(x2)` of shape `(N2, A, B, ...)` is *nearly*
`zip(f(x1).shape, f(x2).shape)` = `(N1, N2, A, A, B, B, ...)`, except that an axis in
`trace_axes` is averaged over its diagonal (the trace divided by its size) and disappears, and
an axis in `diagonal_axes` keeps only its diagonal and appears once.

Implementations (`NtkImplementation`; Novak et al. 2022, "Fast Finite Width Neural Tangent
Kernel", arXiv:2206.08720):
  JACOBIAN_CONTRACTION (1): instantiate both Jacobians by reverse mode, contract them leaf by
    leaf. Best for small outputs and expensive forward passes (CNNs).
  NTK_VECTOR_PRODUCTS (2): columns of the NTK as jvp(vjp(.)) products; no contraction over
    parameters. Best for cheap forward passes and many outputs (wide MLPs, `trace_axes=()`).
  STRUCTURED_DERIVATIVES (3): one reverse pass per output gives the cotangents dy of every
    equation where a weight enters (`structured_graph`); dense and convolutional weights
    then contribute (h_1 h_2^T)(dy_1 dy_2^T) without any Jacobian (`structured`). Best for
    dense and convolutional networks by far.
  AUTO (0, the default): on problems above `MEASURE_ABOVE_FLOPS`, times structured
    derivatives and the implementations a FLOP model (`ntk_implementation_costs`) puts near
    its cheapest once on the given shapes and keeps the fastest (cached per shapes in the
    returned function, `ntk_fn.implementation_times`); smaller problems take the FLOP
    model's pick. All are exact, so the choice changes time and memory, and values only in
    the last bits of floating-point rounding; a measured choice can differ between runs, so
    code that needs bit-identical results across runs names an implementation.

`vmap_axes=0` certifies that `f` treats batch elements independently (no batch norm); the
Jacobians are then computed per example, which is N times cheaper. `jaxlab.ntk.batch` tiles
any of these kernel functions so an N x N kernel never needs all Jacobians at once, and
`empirical_ntk_vp_fn` gives matrix-free NTK-vector products for iterative solvers.
"""

from __future__ import annotations

import enum
import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import tree_util

from jaxlab.ntk import measured_choice, structured
from jaxlab.ntk.kernel import namedtuple_type

Axes = int | Sequence[int]
PyTree = Any
ApplyFn = Callable[..., PyTree]


class NtkImplementation(enum.IntEnum):
  """How the empirical NTK is computed (neural-tangents' codes; see the module docstring)."""

  AUTO = 0
  JACOBIAN_CONTRACTION = 1
  NTK_VECTOR_PRODUCTS = 2
  STRUCTURED_DERIVATIVES = 3


DEFAULT_NTK_IMPLEMENTATION = NtkImplementation.AUTO


def _implementation(implementation) -> NtkImplementation:
  if isinstance(implementation, str):
    name = implementation.upper()
    if name not in NtkImplementation.__members__:
      raise ValueError(f"implementation must be one of {list(NtkImplementation.__members__)} "
                       f"or 0..3, got {implementation!r}")
    impl = NtkImplementation[name]
  else:
    try:
      impl = NtkImplementation(implementation)
    except ValueError:
      raise ValueError(f"implementation must be an NtkImplementation or 0, 1, 2, 3, got "
                       f"{implementation!r}") from None
  return impl


# ---------------------------------------------------------------------------------------------
# Axes and contraction layout.


def _canonical_axes(axes: Axes, ndim: int, name: str) -> tuple[int, ...]:
  axes = (axes,) if isinstance(axes, int) else tuple(axes)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(f"{name}={axes}: axis {a} is out of range for outputs of rank {ndim}")
  return tuple(sorted({a % ndim for a in axes}))


def _check_axes(shape1, shape2, trace_axes: Axes, diagonal_axes: Axes):
  """Canonical (trace, diagonal) axes of outputs `shape1` / `shape2`, validated."""
  if len(shape1) != len(shape2):
    raise ValueError(f"f(x1) and f(x2) must have the same rank, got shapes {shape1} and "
                     f"{shape2}")
  ndim = len(shape1)
  trace = _canonical_axes(trace_axes, ndim, "trace_axes")
  diag = _canonical_axes(diagonal_axes, ndim, "diagonal_axes")
  if set(trace) & set(diag):
    raise ValueError(f"an axis cannot be in both trace_axes={trace_axes} and "
                     f"diagonal_axes={diagonal_axes}")
  for a in trace + diag:
    if shape1[a] != shape2[a]:
      raise ValueError(f"output axis {a} is in trace_axes or diagonal_axes, so f(x1) and "
                       f"f(x2) must match there; got shapes {shape1} and {shape2}")
  return trace, diag


def _kernel_subscripts(ndim: int, extra: int, trace, diag):
  """einsum sublists (J1, J2, out) for outputs of rank `ndim` with `extra` contracted axes."""
  shared = [2 * ndim + j for j in range(extra)]
  s1 = list(range(ndim)) + shared
  s2 = [i if (i in trace or i in diag) else ndim + i for i in range(ndim)] + shared
  out = []
  for i in range(ndim):
    if i not in trace:
      out += [i] if i in diag else [i, ndim + i]
  return s1, s2, out


def _contract(a: jax.Array, b: jax.Array, ndim: int, trace, diag) -> jax.Array:
  """sum over trailing (parameter) axes of a (x) b in the kernel layout, traced axes averaged."""
  s1, s2, out = _kernel_subscripts(ndim, a.ndim - ndim, trace, diag)
  return _mean_over(jnp.einsum(a, s1, b, s2, out), math.prod(a.shape[i] for i in trace))


def _mean_over(k: jax.Array, size: int) -> jax.Array:
  """`k / size`; an empty traced axis gives NaN (0 / 0), as in neural-tangents."""
  return k / jnp.asarray(size, k.dtype)


def _trace_and_diagonal(k: jax.Array, ndim: int, trace, diag) -> jax.Array:
  """Full kernel `f(x1).shape + f(x2).shape` -> NT layout with traces and diagonals taken."""
  s1, s2, out = _kernel_subscripts(ndim, 0, trace, diag)
  return _mean_over(jnp.einsum(k, s1 + s2, out), math.prod(k.shape[i] for i in trace))


def kernel_shape(shape1, shape2, trace_axes: Axes = (-1,), diagonal_axes: Axes = ()):
  """Shape of the empirical kernel of outputs of shapes `shape1`, `shape2` (NT layout)."""
  trace, diag = _check_axes(tuple(shape1), tuple(shape2), trace_axes, diagonal_axes)
  shape = ()
  for i, (a, b) in enumerate(zip(shape1, shape2)):
    if i not in trace:
      shape += (a,) if i in diag else (a, b)
  return shape


# ---------------------------------------------------------------------------------------------
# vmap over the batch: `vmap_axes` = None | int | (in_axes, out_axes, kwargs_axes).


class _VmapAxes(NamedTuple):
  x: Any
  fx: Any
  kw: dict


def _vmap_axes(vmap_axes) -> _VmapAxes | None:
  if vmap_axes is None:
    return None
  if isinstance(vmap_axes, tuple) and len(vmap_axes) == 3:
    x_axes, fx_axes, kw_axes = vmap_axes
  elif all(isinstance(a, int) for a in tree_util.tree_leaves(vmap_axes)) and (
      tree_util.tree_leaves(vmap_axes)):
    # NT: anything but a triple is both the inputs' and the outputs' axes (a pytree of ints
    # matching both, e.g. (0, 0) for a pair of inputs and a pair of outputs).
    x_axes, fx_axes, kw_axes = vmap_axes, vmap_axes, {}
  else:
    raise ValueError(f"vmap_axes must be None, an int (or a pytree of ints for both inputs "
                     f"and outputs), or a triple (in_axes, out_axes, kwargs_axes), got "
                     f"{vmap_axes!r}")
  return _VmapAxes(x_axes, fx_axes, dict(kw_axes or {}))


def _axes_tree(axes, tree):
  """`axes` broadcast to one non-negative axis per leaf of `tree` (arrays or shape structs)."""
  if isinstance(axes, int):
    axes = tree_util.tree_map(lambda _: axes, tree)
  return tree_util.tree_map(lambda ax, leaf: ax % len(leaf.shape), axes, tree)


class _Batched:
  """`f` on one batch element (inside, a batch of size one), for `jax.vmap` over the batch.

  `single(x_i, kw_i)` is `fn(params)`, f on that element with the outputs' batch axes
  squeezed; `in_axes` and `args(x)` are what `jax.vmap` over (x, batched kwargs) needs.
  """

  def __init__(self, f, va: _VmapAxes, x, params, kwargs):
    unknown = set(va.kw) - set(kwargs)
    if unknown:
      raise ValueError(f"vmap_axes names keyword arguments {sorted(unknown)} that were not "
                       f"passed to the kernel function")
    self.f = f
    self.x_axes = _axes_tree(va.x, x)
    self.fx_axes = _axes_tree(va.fx, jax.eval_shape(lambda p, x_: f(p, x_, **kwargs), params, x))
    self.static_kw = {k: v for k, v in kwargs.items() if k not in va.kw}
    self.batched_kw = {k: kwargs[k] for k in va.kw}
    self.kw_axes = {k: _axes_tree(a, kwargs[k]) for k, a in va.kw.items()}
    sizes = {leaf.shape[ax] for leaf, ax in zip(tree_util.tree_leaves(x),
                                                tree_util.tree_leaves(self.x_axes))}
    if len(sizes) != 1:
      raise ValueError(f"inputs disagree on the batch size along vmap_axes: {sorted(sizes)}")
    self.n = sizes.pop()

  def single(self, x_i, kw_i):
    x = tree_util.tree_map(jnp.expand_dims, x_i, self.x_axes)
    kw = dict(self.static_kw)
    for k, axes in self.kw_axes.items():
      kw[k] = tree_util.tree_map(jnp.expand_dims, kw_i[k], axes)

    def fn(params):
      return tree_util.tree_map(jnp.squeeze, self.f(params, x, **kw), self.fx_axes)
    return fn

  @property
  def in_axes(self):
    return (self.x_axes, self.kw_axes)

  def args(self, x):
    return (x, self.batched_kw)

  def abstract_example(self, x):
    """Shape structs of one batch element of `x` and of the batched kwargs."""
    drop = lambda a, ax: jax.ShapeDtypeStruct(a.shape[:ax] + a.shape[ax + 1:], a.dtype)
    return (tree_util.tree_map(drop, _abstract(x), self.x_axes),
            {k: tree_util.tree_map(drop, _abstract(v), self.kw_axes[k])
             for k, v in self.batched_kw.items()})


def _leaves_fn(fn):
  return lambda p: tree_util.tree_leaves(fn(p))


# ---------------------------------------------------------------------------------------------
# The two implementations. Each returns a list with one kernel per output leaf.


def _jacobian_contraction(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va):
  if va is None:
    def jac(x):
      return jax.jacrev(_leaves_fn(lambda p: f(p, x, **kwargs)))(params)
  else:
    def jac(x):
      batched = _Batched(f, va, x, params, kwargs)
      out_axes = tree_util.tree_leaves(batched.fx_axes)
      one = lambda x_i, kw_i: jax.jacrev(_leaves_fn(batched.single(x_i, kw_i)))(params)
      return jax.vmap(one, in_axes=batched.in_axes, out_axes=out_axes)(*batched.args(x))

  fx1 = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x1, **kwargs), params))
  fx2 = fx1 if x2 is None else tree_util.tree_leaves(
      jax.eval_shape(lambda p: f(p, x2, **kwargs), params))
  axes = [_check_axes(a.shape, b.shape, trace_axes, diagonal_axes) for a, b in zip(fx1, fx2)]
  j1 = jac(x1)
  j2 = j1 if x2 is None else jac(x2)
  kernels = []
  for leaf1, jl1, jl2, (trace, diag) in zip(fx1, j1, j2, axes):
    terms = [_contract(a, b, len(leaf1.shape), trace, diag)
             for a, b in zip(tree_util.tree_leaves(jl1), tree_util.tree_leaves(jl2))]
    kernels.append(sum(terms[1:], terms[0]))
  return kernels


def _full_block(fa, fb, params):
  """The full NTK block `fa.shape + fb.shape` of two scalar-array functions of params, as
  columns jvp(fa, vjp(fb, e_k)) over the standard basis e_k of fb's outputs."""
  out_b = jax.eval_shape(fb, params)
  out_a = jax.eval_shape(fa, params)
  _, vjp_b = jax.vjp(fb, params)

  def column(cotangent):
    return jax.jvp(fa, (params,), vjp_b(cotangent))[1]

  size_b = math.prod(out_b.shape)
  if size_b == 0 or math.prod(out_a.shape) == 0:
    return jnp.zeros(out_a.shape + out_b.shape, out_a.dtype)
  basis = jnp.eye(size_b, dtype=out_b.dtype).reshape((size_b,) + out_b.shape)
  cols = jax.vmap(column)(basis).reshape(size_b, -1)
  return cols.T.reshape(out_a.shape + out_b.shape)


def _ntk_vector_products(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va):
  x2_ = x1 if x2 is None else x2
  fx1 = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x1, **kwargs), params))
  fx2 = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x2_, **kwargs), params))
  kernels = []
  for leaf, (s1, s2) in enumerate(zip(fx1, fx2)):
    trace, diag = _check_axes(s1.shape, s2.shape, trace_axes, diagonal_axes)
    pick = lambda fn, leaf=leaf: (lambda p: tree_util.tree_leaves(fn(p))[leaf])
    if va is None:
      full = _full_block(pick(lambda p: f(p, x1, **kwargs)),
                         pick(lambda p: f(p, x2_, **kwargs)), params)
    else:
      b1 = _Batched(f, va, x1, params, kwargs)
      b2 = _Batched(f, va, x2_, params, kwargs)
      ax = tree_util.tree_leaves(b1.fx_axes)[leaf]

      def pair(x1_i, kw1_i, x2_j, kw2_j):
        return _full_block(pick(b1.single(x1_i, kw1_i)), pick(b2.single(x2_j, kw2_j)), params)

      inner = jax.vmap(pair, in_axes=b1.in_axes + (None, None), out_axes=ax)
      outer = jax.vmap(inner, in_axes=(None, None) + b2.in_axes, out_axes=len(s1.shape) + ax)
      full = outer(*b1.args(x1), *b2.args(x2_))
    kernels.append(_trace_and_diagonal(full, len(s1.shape), trace, diag))
  return kernels


def _structured_derivatives(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va):
  helpers = (_Batched, _check_axes, _kernel_subscripts, _mean_over, _jacobian_contraction)
  return structured.structured_ntk(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va,
                                   helpers)


_COMPUTE = {
    NtkImplementation.JACOBIAN_CONTRACTION: _jacobian_contraction,
    NtkImplementation.NTK_VECTOR_PRODUCTS: _ntk_vector_products,
    NtkImplementation.STRUCTURED_DERIVATIVES: _structured_derivatives,
}


# ---------------------------------------------------------------------------------------------
# Cost model.


def _abstract(tree):
  return tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)),
                            tree)


def _forward_flops(fn, *args) -> float | None:
  """FLOPs XLA reports for `fn(*args)` (shapes only), or None if the backend reports none."""
  try:
    cost = jax.jit(fn).lower(*_abstract(args)).cost_analysis()
  except Exception:  # pylint: disable=broad-except
    return None
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  flops = (cost or {}).get("flops")
  return float(flops) if flops and flops > 0 else None


def ntk_implementation_costs(f: ApplyFn, x1, x2, params, trace_axes: Axes = (-1,),
                             diagonal_axes: Axes = (), vmap_axes=None, **apply_fn_kwargs
                             ) -> dict[NtkImplementation, float]:
  """Estimated FLOPs of each implementation for these shapes (what `AUTO` minimises).

  With U1, U2 units (batch elements if `vmap_axes` is set, else one unit = the whole batch),
  per-unit output size O, forward cost F (XLA's count; 2 P per example if unavailable), P
  parameters and C = multiply-adds per parameter of the contraction (size of the kernel
  times the size of the traced axes):
    JACOBIAN_CONTRACTION: (U1 + U2) F (1 + 2 O) + 2 P C     (reverse-mode Jacobians, contraction)
    NTK_VECTOR_PRODUCTS:  U2 F (1 + 2 O) + 2 U1 U2 O F       (one vjp per cotangent, jvp per pair)
  (Novak et al. 2022, arXiv:2206.08720, Table 1, with traced outputs shrinking C.)
  """
  va = _vmap_axes(vmap_axes)
  kw = apply_fn_kwargs
  num_params = sum(math.prod(jnp.shape(p)) for p in tree_util.tree_leaves(params))

  def unit_cost(x):
    out = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x, **kw), params))
    size = sum(math.prod(o.shape) for o in out)
    if va is None:
      n = tree_util.tree_leaves(x)[0].shape[0] if tree_util.tree_leaves(x) else 1
      flops = _forward_flops(lambda p, x_: f(p, x_, **kw), params, x)
      return 1, size, flops or 2.0 * num_params * n
    b = _Batched(f, va, x, params, kw)
    flops = _forward_flops(lambda p, xi, ki: b.single(xi, ki)(p), params, *b.abstract_example(x))
    return b.n, size // b.n, flops or 2.0 * num_params

  u1, o1, f1 = unit_cost(x1)
  u2, o2, f2 = (u1, o1, f1) if x2 is None else unit_cost(x2)
  fx1 = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x1, **kw), params))
  fx2 = fx1 if x2 is None else tree_util.tree_leaves(
      jax.eval_shape(lambda p: f(p, x2, **kw), params))
  contraction = 0
  for a, b in zip(fx1, fx2):
    trace, _ = _check_axes(a.shape, b.shape, trace_axes, diagonal_axes)
    contraction += (math.prod(kernel_shape(a.shape, b.shape, trace_axes, diagonal_axes))
                    * math.prod(a.shape[i] for i in trace))
  jacobians = u1 * f1 * (1 + 2 * o1) + (0 if x2 is None else u2 * f2 * (1 + 2 * o2))
  return {
      NtkImplementation.JACOBIAN_CONTRACTION: float(jacobians + 2 * num_params * contraction),
      NtkImplementation.NTK_VECTOR_PRODUCTS: float(u2 * f2 * (1 + 2 * o2) + 2 * u1 * u2 * o2 * f1),
  }


# AUTO times the implementations when the FLOP model's cheapest exceeds this many FLOPs (about
# a tenth of a second on a CPU core); below it timing would cost more than any choice saves.
MEASURE_ABOVE_FLOPS = 3e8


def _split_arrays(tree):
  """(array leaves, rebuild) so static leaves (flags, strings) stay out of `jax.jit`."""
  leaves, treedef = tree_util.tree_flatten(tree)
  is_array = [isinstance(a, (jax.Array, np.ndarray)) for a in leaves]

  def rebuild(arrays):
    it = iter(arrays)
    return tree_util.tree_unflatten(treedef, [next(it) if a else l
                                              for l, a in zip(leaves, is_array)])
  return [l for l, a in zip(leaves, is_array) if a], rebuild


def _auto_choice(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, vmap_axes):
  """(implementation, measured seconds per implementation or None) for these shapes.

  Small problems (the FLOP model's cheapest under `MEASURE_ABOVE_FLOPS`) take the FLOP
  model's pick (`ntk_implementation_costs`). Larger ones time STRUCTURED_DERIVATIVES and every
  implementation the model puts within 4x of its cheapest, once each (`measured_choice`), and
  take the fastest: memory traffic, which the FLOP model ignores, decides between them on
  CPUs (Jacobian contraction streams N O P floats through memory).
  """
  costs = ntk_implementation_costs(f, x1, x2, params, trace_axes, diagonal_axes, vmap_axes,
                                   **kwargs)
  cheapest = min(costs, key=costs.get)
  if costs[cheapest] < MEASURE_ABOVE_FLOPS:
    return cheapest, None
  va = _vmap_axes(vmap_axes)
  arrays, rebuild = _split_arrays(kwargs)
  order = [NtkImplementation.STRUCTURED_DERIVATIVES] + [
      i for i in sorted(costs, key=costs.get) if costs[i] <= 4 * costs[cheapest]]

  def candidate(impl):
    return lambda x1_, x2_, p, kw: _COMPUTE[impl](f, x1_, x2_, p, rebuild(kw), trace_axes,
                                                  diagonal_axes, va)
  try:
    times = measured_choice.time_candidates({i: candidate(i) for i in order},
                                            (x1, x2, params, arrays))
  except Exception:  # pylint: disable=broad-except
    return cheapest, None   # e.g. f closes over traced values; the model decides
  return min(times, key=times.get), times


def _kernels_and_def(compute, f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va):
  kernels = compute(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va)
  return kernels, tree_util.tree_structure(jax.eval_shape(lambda p: f(p, x1, **kwargs), params))


def _shape_key(*trees) -> tuple:
  leaves, treedef = tree_util.tree_flatten(trees)
  return (treedef,) + tuple((jnp.shape(a), str(jnp.result_type(a))) if hasattr(a, "shape")
                            else (type(a), a) for a in leaves)


# ---------------------------------------------------------------------------------------------
# Public kernel functions.


def empirical_ntk_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = (),
                     vmap_axes=None, implementation=DEFAULT_NTK_IMPLEMENTATION):
  """Returns `ntk_fn(x1, x2, params, **apply_fn_kwargs)`, one draw of the empirical NTK.

  Args:
    f: `f(params, x, **kwargs)`, any pytree `params` (Flax's `model.apply` included); outputs
      an array or a pytree of arrays (one kernel per output leaf, cross terms ignored as NT).
    trace_axes: output axes averaged away: the kernel keeps (1/|A|) sum_a K[.., a, .., a, ..].
      The default `(-1,)` averages over logits, the usual infinite-width assumption.
    diagonal_axes: output axes where only the diagonal is kept (appearing once), e.g. `(0,)`
      for per-example variances `(N,)`.
    vmap_axes: `None` (f may couple batch elements), an int batch axis of inputs and outputs,
      or `(in_axes, out_axes, kwargs_axes)`; then Jacobians are taken per example.
    implementation: an `NtkImplementation` (or 0, 1, 2, or its name); `AUTO` by default.

  Returns:
    `ntk_fn(x1, x2, params, **apply_fn_kwargs)`; `x2=None` means `x2 = x1`. The kernel has
    shape `zip(f(x1).shape, f(x2).shape)` with `trace_axes` removed and `diagonal_axes`
    appearing once, e.g. `(N1, N2)` for outputs `(N, O)` and the default `trace_axes`.
  """
  impl = _implementation(implementation)
  va = _vmap_axes(vmap_axes)
  choices: dict[tuple, NtkImplementation] = {}
  times: dict[tuple, dict[NtkImplementation, float] | None] = {}

  def ntk_fn(x1, x2, params, **apply_fn_kwargs):
    chosen = impl
    if impl == NtkImplementation.AUTO:
      key = _shape_key(x1, x2, params, apply_fn_kwargs)
      if key not in choices:
        choices[key], times[key] = _auto_choice(f, x1, x2, params, apply_fn_kwargs,
                                                trace_axes, diagonal_axes, vmap_axes)
      chosen = choices[key]
    kernels, treedef = _kernels_and_def(_COMPUTE[chosen], f, x1, x2, params, apply_fn_kwargs,
                                        trace_axes, diagonal_axes, va)
    return tree_util.tree_unflatten(treedef, kernels)

  ntk_fn.implementation_choices = choices  # shapes -> implementation AUTO picked
  ntk_fn.implementation_times = times      # shapes -> seconds AUTO measured (None: FLOP model)
  return ntk_fn


def empirical_nngp_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = ()):
  """Returns `nngp_fn(x1, x2, params, **apply_fn_kwargs)`: f(x1) f(x2)^T in the NT layout.

  Same `trace_axes` / `diagonal_axes` semantics and output shapes as `empirical_ntk_fn`.
  """

  def nngp_fn(x1, x2, params, **apply_fn_kwargs):
    out1 = f(params, x1, **apply_fn_kwargs)
    out2 = out1 if x2 is None else f(params, x2, **apply_fn_kwargs)

    def contract(a, b):
      trace, diag = _check_axes(a.shape, b.shape, trace_axes, diagonal_axes)
      return _contract(a, b, a.ndim, trace, diag)
    return tree_util.tree_map(contract, out1, out2)

  return nngp_fn


def _canonical_get(get) -> tuple[tuple[str, ...], bool]:
  """(names, is_single) for `get` = None | 'nngp' | 'ntk' | tuple of them."""
  if get is None:
    return ("nngp", "ntk"), False
  if isinstance(get, str):
    return (get,), True
  return tuple(get), False


def empirical_kernel_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = (),
                        vmap_axes=None, implementation=DEFAULT_NTK_IMPLEMENTATION):
  """Returns `kernel_fn(x1, x2, get, params, **apply_fn_kwargs)` for `get` in `'nngp'`,
  `'ntk'`, a tuple of them (-> namedtuple `EmpiricalKernel`) or None (both)."""
  fns = {"nngp": empirical_nngp_fn(f, trace_axes, diagonal_axes),
         "ntk": empirical_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes, implementation)}

  def kernel_fn(x1, x2, get, params, **apply_fn_kwargs):
    names, single = _canonical_get(get)
    for g in names:
      if g not in fns:
        raise ValueError(f"get must be 'nngp', 'ntk', a tuple of them or None, got {get!r}")
    out = {g: fns[g](x1, x2, params, **apply_fn_kwargs) for g in names}
    if single:
      return out[names[0]]
    return namedtuple_type("EmpiricalKernel", names)(**out)

  return kernel_fn


def empirical_ntk_vp_fn(f: ApplyFn, x1, x2, params, **apply_fn_kwargs):
  """Returns `ntk_vp(v) = Theta(x1, x2) v` without forming the NTK (for CG and other solvers).

  `v` has the shape (pytree) of `f(params, x2)` and the result that of `f(params, x1)`; the
  kernel is the full one (no traced axes). Costs one vjp at x2 and one jvp at x1; jit it.
  """
  f1 = lambda p: f(p, x1, **apply_fn_kwargs)
  f2 = f1 if x2 is None else (lambda p: f(p, x2, **apply_fn_kwargs))
  _, vjp2 = jax.vjp(f2, params)

  def ntk_vp(cotangents):
    return jax.jvp(f1, (params,), vjp2(cotangents))[1]

  return ntk_vp


def linearize(f: ApplyFn, params) -> ApplyFn:
  """First-order Taylor expansion of `f` in its parameters around `params`:
  `f_lin(p, x) = f(params, x) + J(x) (p - params)` (Lee et al. 2019, arXiv:1902.06720)."""

  def f_lin(p, *args, **kwargs):
    delta = tree_util.tree_map(jnp.subtract, p, params)
    out, tangent = jax.jvp(lambda q: f(q, *args, **kwargs), (params,), (delta,))
    return tree_util.tree_map(jnp.add, out, tangent)

  return f_lin


def taylor_expand(f: ApplyFn, params, degree: int) -> ApplyFn:
  """Taylor expansion of `f` in its parameters around `params` to order `degree`:
  `f_tayl(p, x) = sum_{k <= degree} D^k f(params, x)[p - params]^k / k!`, the directional
  derivatives taken by nested `jax.jvp` (degree 1 is `linearize`; Lee et al. 2019,
  arXiv:1902.06720)."""
  if not isinstance(degree, int) or degree < 0:
    raise ValueError(f"degree must be a non-negative int, got {degree!r}")

  def f_tayl(p, *args, **kwargs):
    delta = tree_util.tree_map(jnp.subtract, p, params)
    g = lambda q: f(q, *args, **kwargs)
    derivatives = [g]
    for _ in range(degree):
      prev = derivatives[-1]
      derivatives.append(lambda q, prev=prev: jax.jvp(prev, (q,), (delta,))[1])
    out = derivatives[0](params)
    for k in range(1, degree + 1):
      term = derivatives[k](params)
      out = tree_util.tree_map(lambda a, b, k=k: a + b / math.factorial(k), out, term)
    return out

  return f_tayl
