"""Empirical NTK by structured derivatives (`NtkImplementation.STRUCTURED_DERIVATIVES`).

  ntk_fn = empirical_ntk_fn(f, vmap_axes=0, implementation="STRUCTURED_DERIVATIVES")
  ntk_fn(x1, x2, params)    # (N1, N2), equal to Jacobian contraction

Novak, Sohl-Dickstein, Schoenholz 2022, "Fast Finite Width Neural Tangent Kernel",
arXiv:2206.08720. The NTK is sum_W J_W(x1) J_W(x2)^T. A weight W enters f through a use
equation y = L_h(W) (`structured_graph`), so J_W = dy . L_h with dy = df/dy the output
cotangents of y, all found by one reverse pass per output (vmapped). The Jacobian block
dy . L_h is never formed when L_h has structure:
  dot_general y = h W:  Theta_W = sum (h_1 h_2^T) (dy_1 dy_2^T)  (an einsum of the four
    factors h_1, dy_1, h_2, dy_2, its contraction order chosen by opt_einsum: either the two
    Gram matrices above or the per-example weight gradients, whichever is cheaper);
  conv_general_dilated:  the same with h = the input's patches
    (`lax.conv_general_dilated_patches`), the convolution being a dot with the kernel;
  W reached through reshape / transpose / convert / a size-preserving broadcast, or scaled by
    a literal: the same numbers up to a permutation and a factor c, so Theta_W gains c^2.
  a bias added right after a dot / conv use y (y + B, B = c * b broadcast over the axes of y
    that do not come from W, y used nowhere else): y + B = L_[h, c](W; b), so h gains one
    contracted slice of constants c and Theta_W + Theta_b is one einsum (one cotangent Gram
    matrix dy_1 dy_2^T for both leaves; `structured_graph._pair_biases`).
Every other use (other adds, elementwise products, broadcasts, weight sharing, unknown
primitives) takes the local Jacobian of y with respect to its leaves by `jax.vjp` of that
one equation, contracted leaf by leaf (Jacobian contraction for those leaves alone).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax, tree_util

from jaxlab.ntk import structured_graph as sg


class _Side:
  """The traced per-unit function of one input batch (a unit is one example under
  `vmap_axes`, else the whole batch) and its parameter-use graph."""

  def __init__(self, f, x, leaves, treedef, kwargs, va, batched_cls):
    self.leaves, self.treedef = leaves, treedef
    if va is None:
      self.batched = None
      args = tree_util.tree_leaves(x)
      x_def = tree_util.tree_structure(x)
      fn = lambda ls, xs: tree_util.tree_leaves(
          f(tree_util.tree_unflatten(treedef, ls), tree_util.tree_unflatten(x_def, xs),
            **kwargs))
      closed = jax.make_jaxpr(fn)(leaves, args)
      self.out_axes = [None] * len(closed.jaxpr.outvars)
    else:
      self.batched = batched_cls(f, va, x, tree_util.tree_unflatten(treedef, leaves), kwargs)
      ex_x, ex_kw = self.batched.abstract_example(x)
      self.defs = (tree_util.tree_structure(ex_x), tree_util.tree_structure(ex_kw))
      closed = jax.make_jaxpr(self._single)(leaves, tree_util.tree_leaves((ex_x, ex_kw)))
      self.out_axes = tree_util.tree_leaves(self.batched.fx_axes)
    self.jaxpr, self.consts = closed.jaxpr, closed.consts
    self.graph = sg.analyse(self.jaxpr, len(leaves))
    self.x = x

  def _single(self, leaves, flat):
    n = self.defs[0].num_leaves
    x_i = tree_util.tree_unflatten(self.defs[0], flat[:n])
    kw_i = tree_util.tree_unflatten(self.defs[1], flat[n:])
    fn = self.batched.single(x_i, kw_i)
    return tree_util.tree_leaves(fn(tree_util.tree_unflatten(self.treedef, leaves)))

  def factors(self):
    """Per output leaf, per component: the arrays its rule contracts (leading unit axis
    under `vmap_axes`), from `_unit_factors`."""
    if self.batched is None:
      return _unit_factors(self.jaxpr, self.consts, self.graph, self.leaves,
                           tree_util.tree_leaves(self.x))
    b = self.batched

    def unit(x_i, kw_i):
      return _unit_factors(self.jaxpr, self.consts, self.graph, self.leaves,
                           tree_util.tree_leaves((x_i, kw_i)))
    return jax.vmap(unit, in_axes=b.in_axes)(*b.args(self.x))


def _unit_factors(jaxpr, consts, graph, leaves, data_args):
  """One unit's factors: [output leaf][component] -> tuple of arrays, the output cotangent
  axes (the unit's output shape) leading every array but the input-side factor."""
  uses = graph.uses
  eps0 = {k: [jnp.zeros(v.aval.shape, v.aval.dtype) if sg._is_float(v) else None
              for v in jaxpr.eqns[k].outvars] for k in uses}

  def forward(eps):
    record = dict.fromkeys(uses)
    env = sg.run(jaxpr, sg.initial_env(jaxpr, consts, list(leaves) + list(data_args)),
                 range(len(jaxpr.eqns)), eps, record)
    return sg.outputs(jaxpr, env), record

  outs, vjp_fn, record = jax.vjp(forward, eps0, has_aux=True)
  result = []
  for leaf, out in enumerate(outs):
    size = math.prod(out.shape)

    def cotangent(c, leaf=leaf, out=out):
      cts = [jnp.zeros_like(o) for o in outs]
      cts[leaf] = c.reshape(out.shape)
      return vjp_fn(cts)[0]

    basis = jnp.eye(size, dtype=out.dtype)
    dys = jax.vmap(cotangent)(basis)
    dys = {k: [None if d is None else d.reshape(out.shape + d.shape[1:]) for d in ds]
           for k, ds in dys.items()}
    result.append([_component_factors(jaxpr, consts, graph, c, leaves, data_args, record, dys,
                                      len(out.shape)) for c in graph.components])
  return result


def _component_factors(jaxpr, consts, graph, comp, leaves, data_args, record, dys, out_ndim):
  k = comp.eqns[0]
  eqn = jaxpr.eqns[k]
  if comp.rule == "bias":    # folded into its weight's factors (`_with_bias`)
    return ()
  if comp.rule == "dot":
    pos = comp.param_operand
    (lc, rc), _ = eqn.params["dimension_numbers"]
    return _with_bias(jaxpr, comp, record[k][1 - pos], (rc if pos == 0 else lc)), dys[k][0]
  if comp.rule == "conv":
    lhs, rhs = record[k]
    p = eqn.params
    rhs_spec = p["dimension_numbers"].rhs_spec
    patches = lax.conv_general_dilated_patches(
        lhs, [rhs.shape[d] for d in rhs_spec[2:]], p["window_strides"], p["padding"],
        p["lhs_dilation"], p["rhs_dilation"], p["dimension_numbers"], p["precision"],
        p["preferred_element_type"])
    return _with_bias(jaxpr, comp, patches, [p["dimension_numbers"].out_spec[1]]), dys[k][0]
  return _local_jacobians(jaxpr, consts, graph, comp, leaves, data_args, record, dys, out_ndim)


def _with_bias(jaxpr, comp, h, contract):
  """The input-side factor c_W h of a 'dot' / 'conv' component, with a slice c_b * ones
  appended along its (one) contracted axis when a bias b joins it (`sg._pair_biases`):
  [c_W h, c_b] [W; b] = c_W h W + c_b b, so one einsum gives Theta_W + Theta_b."""
  h = sg.chain_scale(jaxpr, comp.chain) * h
  if comp.bias is None:
    return h
  (axis,) = contract
  ones = jnp.full(h.shape[:axis] + (1,) + h.shape[axis + 1:], sg.chain_scale(jaxpr, comp.bias),
                  h.dtype)
  return jnp.concatenate([h, ones], axis=axis)


def _local_jacobians(jaxpr, consts, graph, comp, leaves, data_args, record, dys, out_ndim):
  """dy . dy_e/dW for the component's leaves W: a vjp of its use equations alone, the
  input-side operands held at their recorded values."""

  def local(moved):
    args = list(leaves) + list(data_args)
    for i, v in zip(comp.leaves, moved):
      args[i] = v
    env = sg.run(jaxpr, sg.initial_env(jaxpr, consts, args), graph.param_only_eqns)
    outs = []
    for k in comp.eqns:
      eqn = jaxpr.eqns[k]
      invals = [env[v] if v in graph.param_only else val
                for v, val in zip(eqn.invars, record[k])]
      outs += [o for o, v in zip(sg.bind(eqn, invals), eqn.outvars) if sg._is_float(v)]
    return outs

  _, vjp_fn = jax.vjp(local, [leaves[i] for i in comp.leaves])
  cts = [d for k in comp.eqns for d in dys[k] if d is not None]
  lead = cts[0].shape[:out_ndim]
  flat = [c.reshape((-1,) + c.shape[out_ndim:]) for c in cts]
  grads = jax.vmap(lambda *c: vjp_fn(list(c))[0])(*flat)
  return tuple(g.reshape(lead + g.shape[1:]) for g in grads)


# ---------------------------------------------------------------------------------------------
# Contractions: each component's J_1 J_2^T in the kernel layout.


class _Layout:
  """einsum subscripts of the two sides' factors: `out1` / `out2` index the unit-output axes
  leading dy (unit axis first under `vmap_axes`), `unit1` / `unit2` the input-side factors'
  unit axis, `out` the kernel; `fresh()` gives an unused subscript."""

  def __init__(self, ndim, ax, kernel_subscripts, trace, diag):
    s1, s2, self.out = kernel_subscripts(ndim, 0, trace, diag)
    if ax is None:
      self.out1, self.out2, self.unit1, self.unit2 = s1, s2, [], []
    else:
      rest = [k for k in range(ndim) if k != ax]
      self.out1 = [s1[ax]] + [s1[k] for k in rest]
      self.out2 = [s2[ax]] + [s2[k] for k in rest]
      self.unit1, self.unit2 = [s1[ax]], [s2[ax]]
    self._next = 2 * ndim

  def fresh(self, count=None):
    if count is not None:
      return [self.fresh() for _ in range(count)]
    self._next += 1
    return self._next - 1


def _dot_term(eqn, pos, f1, f2, lay: _Layout):
  """Theta_W for y = dot_general(h, W) (W the operand at `pos`): an einsum of h_1, dy_1, h_2,
  dy_2 sharing W's axes (h's batch and contracting axes, W's free axes)."""
  (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
  hc, hb = (rc, rb) if pos == 0 else (lc, lb)
  h_ndim = eqn.invars[1 - pos].aval.ndim
  batch, contract = lay.fresh(len(hb)), lay.fresh(len(hc))
  w_free = lay.fresh(eqn.invars[pos].aval.ndim - len(hb) - len(hc))
  operands = []
  for (h, dy), unit, out in ((f1, lay.unit1, lay.out1), (f2, lay.unit2, lay.out2)):
    h_free = lay.fresh(h_ndim - len(hb) - len(hc))
    free = iter(h_free)
    h_idx = [batch[list(hb).index(d)] if d in hb else
             contract[list(hc).index(d)] if d in hc else next(free) for d in range(h_ndim)]
    y_idx = batch + (h_free + w_free if pos == 1 else w_free + h_free)
    operands += [h, unit + h_idx, dy, out + y_idx]
  return jnp.einsum(*operands, lay.out)


def _conv_term(eqn, f1, f2, lay: _Layout):
  """Theta_W for y = conv(h, W): the dot rule with the patches of h (feature axis = W's
  flattened input channels and window) and dy (feature axis = W's output channels)."""
  out_spec = eqn.params["dimension_numbers"].out_spec
  ndim = len(out_spec)
  patch_axis, channel_axis = lay.fresh(), lay.fresh()
  operands = []
  for (patches, dy), unit, out in ((f1, lay.unit1, lay.out1), (f2, lay.unit2, lay.out2)):
    own = lay.fresh(ndim)
    p_idx = [patch_axis if d == out_spec[1] else own[d] for d in range(ndim)]
    y_idx = [channel_axis if d == out_spec[1] else own[d] for d in range(ndim)]
    operands += [patches, unit + p_idx, dy, out + y_idx]
  return jnp.einsum(*operands, lay.out)


def _generic_term(f1, f2, lay: _Layout, out_ndim: int):
  """sum over the component's leaves of <J_1, J_2> (the local Jacobians, leaf by leaf)."""
  terms = []
  for g1, g2 in zip(f1, f2):
    shared = lay.fresh(g1.ndim - out_ndim)
    terms.append(jnp.einsum(g1, lay.out1 + shared, g2, lay.out2 + shared, lay.out))
  return sum(terms[1:], terms[0])


def structured_ntk(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va, helpers):
  """One kernel per output leaf of `f` by structured derivatives (see the module docstring).

  `helpers` = (batched_cls, check_axes, kernel_subscripts, mean_over, fallback) from
  `empirical` (kept there, shared by every implementation). Falls back to `fallback`
  (Jacobian contraction) when a parameter reaches the output without meeting the inputs.
  """
  batched_cls, check_axes, kernel_subscripts, mean_over, fallback = helpers
  leaves, treedef = tree_util.tree_flatten(params)
  side1 = _Side(f, x1, leaves, treedef, kwargs, va, batched_cls)
  side2 = side1 if x2 is None else _Side(f, x2, leaves, treedef, kwargs, va, batched_cls)
  if side1.graph is None or side2.graph is None or [
      c.rule for c in side1.graph.components] != [c.rule for c in side2.graph.components]:
    return fallback(f, x1, x2, params, kwargs, trace_axes, diagonal_axes, va)
  fx1 = tree_util.tree_leaves(jax.eval_shape(lambda p: f(p, x1, **kwargs), params))
  fx2 = fx1 if x2 is None else tree_util.tree_leaves(
      jax.eval_shape(lambda p: f(p, x2, **kwargs), params))
  fac1 = side1.factors()
  fac2 = fac1 if x2 is None else side2.factors()
  kernels = []
  for leaf, (a, b) in enumerate(zip(fx1, fx2)):
    trace, diag = check_axes(a.shape, b.shape, trace_axes, diagonal_axes)
    ax = side1.out_axes[leaf]
    unit_ndim = len(a.shape)
    terms = []
    for c, (c1, c2) in enumerate(zip(fac1[leaf], fac2[leaf])):
      comp = side1.graph.components[c]
      lay = _Layout(unit_ndim, ax, kernel_subscripts, trace, diag)
      eqn = side1.jaxpr.eqns[comp.eqns[0]]
      if comp.rule == "generic":
        terms.append(_generic_term(c1, c2, lay, unit_ndim))
      elif comp.rule == "dot":
        terms.append(_dot_term(eqn, comp.param_operand, c1, c2, lay))
      elif comp.rule == "conv":
        terms.append(_conv_term(eqn, c1, c2, lay))
    shape = tuple(kernel_subscripts(unit_ndim, 0, trace, diag)[2])
    total = sum(terms[1:], terms[0]) if terms else jnp.zeros(
        [dict(zip(range(2 * unit_ndim), a.shape + b.shape))[i] for i in shape], a.dtype)
    kernels.append(mean_over(total, math.prod(a.shape[i] for i in trace)))
  return kernels
