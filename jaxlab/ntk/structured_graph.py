"""Where parameters enter a traced function: the jaxpr analysis behind structured derivatives.

  closed = jax.make_jaxpr(lambda leaves, x: f(unflatten(leaves), x))(leaves, x)
  graph = analyse(closed.jaxpr, num_params=len(leaves))
  graph.uses            # equations that combine a parameter-only value with the input
  graph.components      # (equations, leaves) groups whose Jacobian blocks are independent
  outs = evaluate(closed.jaxpr, closed.consts, leaves + x_leaves, perturb={e: [eps]})

A value is *parameter-only* if it depends on parameters but not on the inputs (x, batched
kwargs); a *use* equation has a parameter-only operand and an input-dependent output. Every
path from a parameter to the output starts at a use, so with y_e the outputs of use e,
df/dW = sum_e df/dy_e . dy_e/dW, where df/dy_e (the "output cotangent" of y_e) comes from one
reverse pass with zero perturbations added to every y_e (Novak, Sohl-Dickstein, Schoenholz
2022, "Fast Finite Width Neural Tangent Kernel", arXiv:2206.08720, Sec. 4). Uses that share
a leaf form one component; the NTK is the sum over components of their own J J^T.

Only public JAX objects are used: `jax.extend.core` (Jaxpr, Literal, DropVar) and
`Primitive.bind` to re-run an equation.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

# Equations through which a weight can pass on its way to a dot / conv and still be the same
# numbers up to a permutation and a constant factor (so J J^T can be taken after them).
_PERMUTING = frozenset({"reshape", "transpose", "convert_element_type", "squeeze", "expand_dims",
                        "copy", "copy_p", "broadcast_in_dim"})
_SCALING = frozenset({"mul", "div", "neg"})


class Chain(NamedTuple):
  """W' = scale * permutation(leaf): the leaf index and the equations from leaf to W'."""
  leaf: int
  eqns: tuple[int, ...]


class Component(NamedTuple):
  """Use equations and the leaves they share; `rule` names the structured rule or 'generic'."""
  eqns: tuple[int, ...]
  leaves: tuple[int, ...]
  rule: str
  param_operand: int | None = None   # operand position of W' for 'dot' / 'conv'
  chain: Chain | None = None
  bias: Chain | None = None          # 'dot' / 'conv': the chain of a bias added to y (below)


class Graph(NamedTuple):
  uses: tuple[int, ...]
  components: tuple[Component, ...]
  param_only_eqns: tuple[int, ...]   # re-evaluated when a component's leaves move
  param_only: frozenset               # parameter leaves and parameter-only values


def _is_float(var) -> bool:
  return jnp.issubdtype(var.aval.dtype, jnp.inexact)


def _reads(eqn):
  return [v for v in eqn.invars if not isinstance(v, jcore.Literal)]


def analyse(jaxpr: jcore.Jaxpr, num_params: int) -> Graph | None:
  """Dependence analysis of `jaxpr` whose first `num_params` invars are parameter leaves.

  Returns None when a parameter reaches an output without meeting the inputs (the caller
  then falls back to Jacobian contraction).
  """
  leaves_of = {v: frozenset([k]) for k, v in enumerate(jaxpr.invars[:num_params])}
  data = set(jaxpr.invars[num_params:])
  producer, uses, param_only_eqns = {}, [], []
  for k, eqn in enumerate(jaxpr.eqns):
    reads = _reads(eqn)
    deps = frozenset().union(*(leaves_of.get(v, frozenset()) for v in reads))
    is_data = any(v in data for v in reads)
    for v in eqn.outvars:
      producer[v] = k
      if deps:
        leaves_of[v] = deps
      if is_data:
        data.add(v)
    if deps and not is_data:
      param_only_eqns.append(k)
    elif is_data and any(leaves_of.get(v) and v not in data for v in reads):
      if any(_is_float(v) for v in eqn.outvars):
        uses.append(k)
  for v in jaxpr.outvars:
    if not isinstance(v, jcore.Literal) and leaves_of.get(v) and v not in data:
      return None
  comps = [_classify(jaxpr, c, leaves_of, data, producer, num_params)
           for c in _components(jaxpr, uses, leaves_of, data)]
  param_only = frozenset(v for v in leaves_of if v not in data)
  return Graph(tuple(uses), _pair_biases(jaxpr, comps, producer, num_params),
               tuple(param_only_eqns), param_only)


def _components(jaxpr, uses, leaves_of, data):
  """Group use equations that share a parameter leaf (union-find over leaves)."""
  groups: list[tuple[set, set]] = []
  for k in uses:
    eqn = jaxpr.eqns[k]
    leaves = set().union(*(leaves_of.get(v, ()) for v in _reads(eqn) if v not in data))
    merged = [g for g in groups if g[1] & leaves]
    eqns_, leaves_ = {k}, set(leaves)
    for g in merged:
      eqns_ |= g[0]
      leaves_ |= g[1]
      groups.remove(g)
    groups.append((eqns_, leaves_))
  return [(tuple(sorted(e)), tuple(sorted(l))) for e, l in groups]


def _classify(jaxpr, comp, leaves_of, data, producer, num_params) -> Component:
  eqns, leaves = comp
  generic = Component(eqns, leaves, "generic")
  if len(eqns) != 1 or len(leaves) != 1:
    return generic
  eqn = jaxpr.eqns[eqns[0]]
  name = eqn.primitive.name
  if name not in ("dot_general", "conv_general_dilated") or len(eqn.invars) != 2:
    return generic
  params_side = [i for i, v in enumerate(eqn.invars)
                 if not isinstance(v, jcore.Literal) and v not in data and leaves_of.get(v)]
  other = eqn.invars[1 - params_side[0]] if len(params_side) == 1 else None
  if other is None or isinstance(other, jcore.Literal) or other not in data:
    return generic
  pos = params_side[0]
  if name == "conv_general_dilated" and (pos != 1 or eqn.params["feature_group_count"] != 1
                                         or eqn.params["batch_group_count"] != 1):
    return generic
  chain = _chain(jaxpr, eqn.invars[pos], producer, num_params)
  if chain is None:
    return generic
  return Component(eqns, leaves, "dot" if name == "dot_general" else "conv", pos, chain)


def _chain(jaxpr, var, producer, num_params) -> Chain | None:
  """Walk back from `var` to a parameter leaf through permutations and constant scalings."""
  steps = []
  while var not in jaxpr.invars[:num_params]:
    if var not in producer:
      return None
    k = producer[var]
    eqn = jaxpr.eqns[k]
    name = eqn.primitive.name
    if name in _PERMUTING:
      if math_size(eqn.invars[0]) != math_size(eqn.outvars[0]):
        return None
      var = eqn.invars[0]
    elif name in _SCALING:
      others = [v for v in eqn.invars if v is not _leafward(eqn)]
      if not all(isinstance(v, jcore.Literal) and jnp.ndim(v.val) == 0 for v in others):
        return None
      if name == "div" and eqn.invars[0] is not _leafward(eqn):
        return None
      var = _leafward(eqn)
    else:
      return None
    steps.append(k)
  return Chain(jaxpr.invars.index(var), tuple(reversed(steps)))


def _pair_biases(jaxpr, comps, producer, num_params) -> tuple[Component, ...]:
  """Mark `y + B` right after a 'dot' / 'conv' use y = L_h(W) as rule 'bias' when B is a bias:
  a leaf b, permuted and scaled by c, broadcast over the axes of y that do not come from W
  (checked on concrete values by `_is_bias`), and y has no other consumer (so dy is the same
  cotangent for W and b). Then y + B = L_[h, 1]([W; c b]) (one extra contracted row of ones),
  and the bias joins the weight's J J^T through the same cotangent Gram matrix (`bias` on the
  weight's component). Components of other shapes are returned unchanged."""
  consumers = {}
  for eqn in jaxpr.eqns:
    for v in _reads(eqn):
      consumers[v] = consumers.get(v, 0) + 1
  for v in jaxpr.outvars:
    if not isinstance(v, jcore.Literal):
      consumers[v] = consumers.get(v, 0) + 2
  by_eqn = {c.eqns[0]: i for i, c in enumerate(comps) if c.rule in ("dot", "conv")}
  comps = list(comps)
  for i, comp in enumerate(comps):
    if comp.rule != "generic" or len(comp.eqns) != 1 or len(comp.leaves) != 1:
      continue
    eqn = jaxpr.eqns[comp.eqns[0]]
    if eqn.primitive.name != "add" or any(isinstance(v, jcore.Literal) for v in eqn.invars):
      continue
    for y, b in (eqn.invars, eqn.invars[::-1]):
      j = by_eqn.get(producer.get(y))
      if j is None or consumers.get(y) != 1 or comps[j].bias is not None:
        continue
      chain = _bias_chain(jaxpr, b, producer, num_params)
      if chain is not None and chain.leaf == comp.leaves[0] and _is_bias(
          jaxpr, chain, comps[j], b):
        comps[j] = comps[j]._replace(bias=chain)
        comps[i] = comp._replace(rule="bias", chain=chain)
        break
  return tuple(comps)


def _bias_chain(jaxpr, var, producer, num_params) -> Chain | None:
  """Like `_chain`, but broadcasts and reshapes may change the size."""
  steps = []
  while var not in jaxpr.invars[:num_params]:
    eqn = jaxpr.eqns[producer[var]] if var in producer else None
    if eqn is None or eqn.primitive.name not in _PERMUTING | _SCALING:
      return None
    if eqn.primitive.name in _SCALING:
      nxt = _leafward(eqn)
      if nxt is None or (eqn.primitive.name == "div" and eqn.invars[0] is not nxt) or any(
          jnp.ndim(v.val) for v in eqn.invars if isinstance(v, jcore.Literal)):
        return None
    else:
      nxt = eqn.invars[0]
      if any(not isinstance(v, jcore.Literal) for v in eqn.invars[1:]):
        return None
    steps.append(producer[var])
    var = nxt
  return Chain(jaxpr.invars.index(var), tuple(reversed(steps)))


def _w_axes(eqn, comp) -> list[int] | None:
  """Axes of y = L_h(W) that come from W's free axes; None when the bias trick does not
  apply (dot batch axes, or more than one contracted axis of h)."""
  if comp.rule == "conv":
    return [eqn.params["dimension_numbers"].out_spec[1]]
  (lc, rc), (lb, _) = eqn.params["dimension_numbers"]
  if lb or len(lc) != 1:
    return None
  w_ndim = eqn.invars[comp.param_operand].aval.ndim
  h_free = eqn.invars[1 - comp.param_operand].aval.ndim - 1
  first = h_free if comp.param_operand == 1 else 0
  return list(range(first, first + w_ndim - 1))


def _is_bias(jaxpr, chain, comp, b_var) -> bool:
  """B (the value `b_var`) = c * a permutation of the leaf, constant along the axes of y not
  in `_w_axes`: checked by running `chain` on the leaf's element numbers 1, 2, ..."""
  eqn = jaxpr.eqns[comp.eqns[0]]
  axes = _w_axes(eqn, comp)
  scale = chain_scale(jaxpr, chain)
  leaf = jaxpr.invars[chain.leaf]
  y_shape, b_shape = eqn.outvars[0].aval.shape, b_var.aval.shape
  if axes is None or scale == 0.0 or len(b_shape) != len(y_shape) or any(
      b_shape[d] != y_shape[d] for d in axes):   # B must not broadcast along W's axes
    return False
  size = math_size(leaf)
  with jax.ensure_compile_time_eval():
    numbers = jnp.arange(1, size + 1, dtype=jnp.float64 if leaf.aval.dtype == jnp.float64
                         else jnp.float32).reshape(leaf.aval.shape).astype(leaf.aval.dtype)
    env = run(jaxpr, {leaf: numbers}, chain.eqns)
    values = np.asarray(env[b_var], np.float64) / scale
  free = [d for d in range(values.ndim) if d not in axes]
  first = values[tuple(slice(0, 1) if d in free else slice(None) for d in range(values.ndim))]
  return (size < 2 ** 24 and first.size == size and np.array_equal(
      values, np.broadcast_to(first, values.shape))
          and np.array_equal(np.sort(np.rint(first).ravel()), np.arange(1, size + 1))
          and np.allclose(first, np.rint(first)))


def _leafward(eqn):
  """The non-literal operand of a scaling equation (the one the weight flows through)."""
  vars_ = [v for v in eqn.invars if not isinstance(v, jcore.Literal)]
  return vars_[0] if len(vars_) == 1 else None


def math_size(var) -> int:
  size = 1
  for d in var.aval.shape:
    size *= d
  return size


def chain_scale(jaxpr, chain: Chain) -> float:
  """The constant c with W' = c * permutation(leaf) along `chain`."""
  scale = 1.0
  for k in chain.eqns:
    eqn = jaxpr.eqns[k]
    lits = [float(v.val) for v in eqn.invars if isinstance(v, jcore.Literal)]
    if eqn.primitive.name == "mul":
      scale *= lits[0]
    elif eqn.primitive.name == "div":
      scale /= lits[0]
    elif eqn.primitive.name == "neg":
      scale = -scale
  return scale


def _read(env, v):
  return v.val if isinstance(v, jcore.Literal) else env[v]


def bind(eqn, invals) -> list:
  """Re-run one equation on `invals`; always returns a list of outputs."""
  params = eqn.primitive.get_bind_params(eqn.params)
  subfuns = ()
  if isinstance(params, tuple):   # older JAX: (subfuns, params)
    subfuns, params = params
  out = eqn.primitive.bind(*subfuns, *invals, **params)
  return list(out) if eqn.primitive.multiple_results else [out]


def run(jaxpr, env: dict, eqn_ids, perturb=None, record=None) -> dict:
  """Evaluate equations `eqn_ids` in order into `env`; outputs of equation k get
  `perturb[k][i]` added (float outputs); `record[k]` receives equation k's operands."""
  for k in eqn_ids:
    eqn = jaxpr.eqns[k]
    invals = [_read(env, v) for v in eqn.invars]
    if record is not None and k in record:
      record[k] = invals
    outs = bind(eqn, invals)
    if perturb is not None and k in perturb:
      outs = [o + e if e is not None else o for o, e in zip(outs, perturb[k])]
    for v, o in zip(eqn.outvars, outs):
      if not isinstance(v, jcore.DropVar):
        env[v] = o
  return env


def initial_env(jaxpr, consts, args) -> dict:
  env = dict(zip(jaxpr.constvars, consts))
  env.update(zip(jaxpr.invars, args))
  return env


def outputs(jaxpr, env) -> list:
  return [_read(env, v) for v in jaxpr.outvars]
