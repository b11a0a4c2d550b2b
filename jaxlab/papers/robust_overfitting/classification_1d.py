"""P4-A: the 1D construction at many (n, delta, w, margin), every error exact in float64.

  result = run(config.classification_1d, key)
  result["summary"]["gap"]          # mean robust gap per (n, delta), with standard errors
  result["checks"]                  # the P4-A gates

Sweeps (each instance is one training set of a replicate seed, shared across widths):
  separation  delta = w = a / n^2: how often the separation condition holds; the adversarial
              training error must be 0 whenever it does;
  gap         robust gap against delta (w = delta) at several n;
  family      errors against w for several margins at fixed (n, delta): the interpolating
              family of claim 1;
  level       delta = w = c / n (extra disagreement -> 4 p c rho) and c / n^1.5 (-> 0 as
              n^-0.5): the perturbation-level condition.
Cross-checks: the disagreement and robust error computed two independent ways (from h, and
from the flipped set), the analytic flip intervals on isolated instances, one instance by
Monte Carlo, and PGD from the shared core on the network's training points.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import numpy as np

from jaxlab import models
from jaxlab.experiment import gates, progress
from jaxlab.papers.robust_overfitting import attack, construction, data, exact_1d, measure
from jaxlab.papers.robust_overfitting import network
from jaxlab.papers.robust_overfitting.config import Classification1D

EXACT_TOL = 1e-9
METRICS = ("adv_train_error", "clean_error", "disagreement", "robust_error", "robust_gap",
           "num_bumps", "hidden_units")


def training_set(key: jax.Array, seed: int, n: int, bands: data.Bands):
  """The training set of replicate `seed` at size n: `(x (n, 1), eta (n,), y (n,))`."""
  data_key = jax.random.split(jax.random.fold_in(key, seed), 3)[0]
  return data.sample(jax.random.fold_in(data_key, n), n, bands, dim=1)


def replicate_keys(key: jax.Array, seed: int) -> tuple[jax.Array, jax.Array]:
  """(Monte Carlo key, attack key) of replicate `seed`."""
  _, mc_key, attack_key = jax.random.split(jax.random.fold_in(key, seed), 3)
  return mc_key, attack_key


def instance(x: np.ndarray, y: np.ndarray, bands: data.Bands, *, delta: float, w: float,
             margin: float) -> dict[str, Any]:
  """Every exact quantity of one construction (see the module docstring)."""
  c = construction.classifier(x, y, bands, delta=delta, w=w, margin=margin)
  sets = exact_1d.sign_sets(construction.as_piecewise_linear(c))
  g_sets = exact_1d.sign_sets(data.square_wave(bands))
  adv = exact_1d.ball_errors(sets, x[:, 0], y, delta)
  errors = exact_1d.classifier_errors(sets, bands, delta)
  flips = exact_1d.flipped_set(sets, g_sets)
  rho = data.density(bands)
  r = construction.flip_radius(c)
  isolated = bool(np.all(construction.isolated(c)))
  centres = c.bumps.centres[:, 0]
  violations = construction.separation_violations(x, y, c)
  return {
      "n": len(x), "delta": delta, "w": w, "margin": margin, "num_bumps": len(c.fit),
      "adv_train_error": float(adv.mean()), **errors,
      "robust_gap": errors["robust_error"] - float(adv.mean()),
      "disagreement_from_flips": rho * exact_1d.support_length(flips, bands),
      "robust_error_from_flips": exact_1d.robust_error_from_flips(flips, bands, delta),
      "disagreement_flip_intervals": (rho * exact_1d.support_length(
          measure.merge(centres - r, centres + r), bands)) if isolated else None,
      "isolated": isolated, "separation_violations": violations, "separation": violations == 0,
      "hidden_units": network.hidden_units(c),
      "bound": bands.noise * len(x) * 2 * (delta + w) * rho}


def _sweeps(cfg: Classification1D) -> list[tuple[str, int, float, float, float]]:
  """(sweep, n, delta, w, margin) of every setting."""
  out = [("separation", n, a / n**2, a / n**2, cfg.margin)
         for n, a in itertools.product(cfg.separation_ns, cfg.separation_scales)]
  out += [("gap", n, d, d, cfg.margin) for n, d in itertools.product(cfg.gap_ns, cfg.gap_deltas)]
  out += [("family", cfg.family_n, cfg.family_delta, w, m)
          for w, m in itertools.product(cfg.family_ws, cfg.family_margins)]
  for n in cfg.level_ns:
    out += [("level_1/n", n, cfg.level_c / n, cfg.level_c / n, cfg.level_margin),
            ("level_1/n^1.5", n, cfg.level_c / n**1.5, cfg.level_c / n**1.5, cfg.level_margin)]
  return out


def sweep(cfg: Classification1D, key: jax.Array) -> list[dict[str, Any]]:
  """One record per (setting, seed)."""
  records = []
  settings = _sweeps(cfg)
  for name, n, delta, w, margin in progress.bar(settings, desc="P4-A settings"):
    for seed in cfg.seeds:
      x, _, y = training_set(key, seed, n, cfg.bands)
      records.append({"sweep": name, "seed": seed,
                       **instance(x, y, cfg.bands, delta=delta, w=w, margin=margin)})
  return records


def summarise(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
  """Mean and standard error over seeds of each metric, per sweep and setting."""
  groups: dict[tuple, list[dict[str, Any]]] = {}
  for r in records:
    groups.setdefault((r["sweep"], r["n"], r["delta"], r["w"], r["margin"]), []).append(r)
  out: dict[str, list[dict[str, Any]]] = {}
  for (name, n, delta, w, margin), rs in groups.items():
    row = {"n": n, "delta": delta, "w": w, "margin": margin, "seeds": len(rs),
           "separation_rate": float(np.mean([r["separation"] for r in rs])),
           "bound": rs[0]["bound"]}
    for m in METRICS:
      v = np.array([r[m] for r in rs], np.float64)
      row[m] = float(v.mean())
      row[m + "_se"] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    out.setdefault(name, []).append(row)
  return out


def monte_carlo_check(cfg: Classification1D, key: jax.Array) -> dict[str, Any]:
  """One instance (n = mc_n, delta = w = mc_delta): exact errors next to Monte Carlo ones."""
  seed = cfg.seeds[0]
  x, _, y = training_set(key, seed, cfg.mc_n, cfg.bands)
  c = construction.classifier(x, y, cfg.bands, delta=cfg.mc_delta, w=cfg.mc_delta,
                              margin=cfg.margin)
  h = construction.as_piecewise_linear(c)
  sets = exact_1d.sign_sets(h)
  exact = exact_1d.classifier_errors(sets, cfg.bands, cfg.mc_delta)
  mc = exact_1d.monte_carlo(h, sets, cfg.bands, cfg.mc_delta, replicate_keys(key, seed)[0],
                            cfg.mc_points)
  return {name: {"exact": exact[name], "mc": mc[name]["mean"], "se": mc[name]["se"],
                 "z": abs(exact[name] - mc[name]["mean"]) / max(mc[name]["se"], 1e-300)}
          for name in mc}


def pgd_instance(cfg: Classification1D, key: jax.Array, seed: int, delta: float
                 ) -> dict[str, Any]:
  """PGD of the shared core on the network of one instance (w = delta), next to the exact
  per-point adversarial training errors, and the network's parameter count."""
  x, _, y = training_set(key, seed, cfg.pgd_n, cfg.bands)
  c = construction.classifier(x, y, cfg.bands, delta=delta, w=delta, margin=cfg.margin)
  exact = exact_1d.ball_errors(exact_1d.sign_sets(construction.as_piecewise_linear(c)),
                               x[:, 0], y, delta)
  model, params = network.classifier_network(c)
  found, x_adv = attack.pgd_errors(model, params, x, y, replicate_keys(key, seed)[1],
                                   delta=delta, steps=cfg.pgd_steps, restarts=cfg.pgd_restarts)
  confirmed = attack.network_wrong(construction.value(c, x_adv), y)
  units = len(network.g_units(c).kinks) + 4 * len(c.fit)
  return {"seed": seed, "n": cfg.pgd_n, "delta": delta, "w": delta,
          "exact_errors": int(exact.sum()), "pgd_found": int(found.sum()),
          "pgd_found_not_exact": int(np.sum(found & ~exact)),
          "pgd_found_not_confirmed": int(np.sum(found & ~confirmed)),
          "max_step_outside_ball": float(np.max(np.abs(x_adv - x)) - delta),
          "hidden_units": int(params["params"]["Dense_0"]["bias"].shape[0]),
          "units_formula": units, "num_params": models.num_params(params),
          "params_formula": 4 * units + 2, "num_bumps": len(c.fit)}


def pgd_checks(cfg: Classification1D, key: jax.Array, records: list[dict[str, Any]]
               ) -> dict[str, Any]:
  """PGD at the first separation-sweep instance (n = pgd_n) with exact error 0, and at the
  first with exact error > 0."""
  rows = [r for r in records if r["sweep"] == "separation" and r["n"] == cfg.pgd_n]
  zero = next((r for r in rows if r["separation"] and r["adv_train_error"] == 0), None)
  positive = next((r for r in rows if r["adv_train_error"] > 0), None)
  return {name: None if r is None else pgd_instance(cfg, key, r["seed"], r["delta"])
          for name, r in (("zero", zero), ("positive", positive))}


def _max_abs(records, a: str, b: str) -> float:
  diffs = [abs(r[a] - r[b]) for r in records if r[b] is not None]
  return float(max(diffs)) if diffs else float("nan")


def _rows(summary, name: str) -> list[dict[str, Any]]:
  return sorted(summary.get(name, []), key=lambda r: (r["n"], r["delta"], r["w"], r["margin"]))


def exactness_checks(g: gates.Gates, records, mc) -> None:
  """Zero training error under separation, the two-way identities, Monte Carlo."""
  separated = [r for r in records if r["separation"]]
  violated = [r for r in records if not r["separation"]]
  worst = max((r["adv_train_error"] for r in separated), default=float("nan"))
  g.check("P4-A adversarial training error = 0 where separation holds",
          worst, "== 0", bool(separated) and worst == 0.0, instances=len(separated),
          of=len(records), separation_rate=len(separated) / len(records),
          nonzero_rate_when_violated=float(np.mean([r["adv_train_error"] > 0
                                                    for r in violated])) if violated else None)
  g.check("P4-A disagreement from h = from the flipped set (exact)",
          gates.interval(_max_abs(records, "disagreement", "disagreement_from_flips"),
                         hi=EXACT_TOL))
  isolated = [r for r in records if r["isolated"]]
  g.check("P4-A disagreement = measure of the analytic flip intervals (isolated bumps)",
          gates.interval(_max_abs(isolated, "disagreement", "disagreement_flip_intervals"),
                         hi=EXACT_TOL, instances=len(isolated)))
  g.check("P4-A robust error from h = dilation / erosion of the flipped set",
          gates.interval(_max_abs(records, "robust_error", "robust_error_from_flips"),
                         hi=EXACT_TOL))
  g.check("P4-A Monte Carlo within 3 SE of the exact errors",
          gates.interval(max(v["z"] for v in mc.values()), hi=3.0,
                         **{k: [v["exact"], v["mc"], v["se"]] for k, v in mc.items()}))


def level_checks(g: gates.Gates, cfg: Classification1D, summary, records, key) -> None:
  """The expectation bound, near-equality, and the perturbation-level condition."""
  rows = [r for name in ("gap", "family", "level_1/n", "level_1/n^1.5")
          for r in _rows(summary, name)]
  excess = max((r["disagreement"] - 3 * r["disagreement_se"]) / r["bound"] for r in rows)
  g.check("P4-A E[disagreement] <= p n 2 (delta + w) rho", gates.interval(excess, hi=1.0))
  fast, slow = _rows(summary, "level_1/n^1.5"), _rows(summary, "level_1/n")
  ratio = fast[-1]["disagreement"] / fast[-1]["bound"]
  g.check("P4-A near-equality with the bound (large kappa, few overlaps)",
          gates.interval(ratio, 0.95, 1.0 + 3 * fast[-1]["disagreement_se"] / fast[-1]["bound"],
                         n=fast[-1]["n"]))
  ns = [r["n"] for r in slow]
  flat = gates.loglog_slope(ns, [r["disagreement"] for r in slow])
  g.check("P4-A delta = w = c/n: disagreement tends to a constant (log-log slope)",
          gates.interval(flat, -0.1, 0.1))
  last = slow[-1]
  limit = 4 * cfg.bands.noise * cfg.level_c * data.density(cfg.bands)
  g.check("P4-A delta = w = c/n: disagreement at the largest n / (4 p c rho)",
          gates.interval(last["disagreement"] / limit, 0.9,
                         1.0 + 3 * last["disagreement_se"] / limit, limit=limit,
                         poisson_limit=1 - np.exp(-limit * (1 + cfg.level_margin / (
                             1 + cfg.level_margin)) / 2)))
  values = np.array([[r["disagreement"] for r in records
                      if r["sweep"] == "level_1/n^1.5" and r["n"] == n] for n in ns])
  name = "P4-A delta = w = c/n^1.5: disagreement vanishes as n^-0.5 (log-log slope)"
  g.slope(name, -0.5, gates.fit_slope(ns, values, key=key), 0.15)
  g.check(name, g.slopes[-1]["measured"], "-0.5 +- 0.15", g.slopes[-1]["pass"],
          ci=g.slopes[-1]["ci"])


def gap_checks(g: gates.Gates, cfg: Classification1D, summary, records) -> None:
  """The robust gap does not vanish at fixed delta: the extra robust error over the Bayes-
  optimal robust error p (exact for delta < band) is positive and grows with n; the bound
  holds instance by instance; the family interpolates."""
  rows = _rows(summary, "gap")
  p = cfg.bands.noise
  g.check("P4-A extra robust error over the optimum p is > 0 at every (n, delta)",
          gates.interval(min(r["robust_error"] - p for r in rows), lo=1e-12))
  growth = []
  for delta in cfg.gap_deltas:
    extra = [r["robust_error"] - p for r in rows if r["delta"] == delta]
    growth.append(extra[-1] / extra[0])
  g.check("P4-A extra robust error at fixed delta grows with n (ratio n_max / n_min, worst "
          "delta)", gates.interval(min(growth), lo=1.0))
  rho = data.density(cfg.bands)
  slack = min(r["num_bumps"] * 2 * (r["delta"] + r["w"]) * rho - r["disagreement"]
              for r in records)
  g.check("P4-A disagreement <= |F| 2 (delta + w) rho at every instance",
          gates.interval(slack, lo=0.0))
  family: dict[tuple[float, float], list[bool]] = {}
  for r in records:
    if r["sweep"] == "family" and r["separation"]:
      family.setdefault((r["w"], r["margin"]), []).append(r["adv_train_error"] == 0.0)
  settings = len(cfg.family_ws) * len(cfg.family_margins)
  good = sum(all(v) for v in family.values())
  g.check("P4-A every (w, margin) of the family interpolates the separated training sets",
          good, f"== {settings}", good == settings, settings=settings)


def pgd_gate(g: gates.Gates, pgd) -> None:
  """PGD finds nothing where the exact computation says nothing, and finds an error where
  there is one; the network's size is the formula."""
  zero, positive = pgd["zero"], pgd["positive"]
  g.check("P4-A PGD finds no adversarial training example where the exact count is 0",
          None if zero is None else zero["pgd_found"], "== 0 (exact 0)",
          zero is not None and zero["pgd_found"] == 0)
  ok = positive is not None and positive["pgd_found"] >= 1 and \
      positive["pgd_found_not_exact"] == 0 and positive["pgd_found_not_confirmed"] == 0
  g.check("P4-A PGD finds adversarial training examples where the exact count is > 0",
          None if positive is None else positive["pgd_found"], ">= 1, all exact", ok,
          exact=None if positive is None else positive["exact_errors"])
  built = [p for p in (zero, positive) if p is not None]
  g.check("P4-A hidden units = units(g) + 4|F|, parameters = 4 units + 2 (linear in n)",
          max((abs(p["hidden_units"] - p["units_formula"]) + abs(
              p["num_params"] - p["params_formula"]) for p in built), default=float("nan")),
          "== 0", bool(built) and all(p["hidden_units"] == p["units_formula"] and
                                      p["num_params"] == p["params_formula"] for p in built))


def run(cfg: Classification1D, key: jax.Array) -> dict[str, Any]:
  """The P4-A part: records, summary, Monte Carlo and PGD cross-checks, checks."""
  key, bootstrap_key = jax.random.split(key)
  records = sweep(cfg, key)
  summary = summarise(records)
  mc = monte_carlo_check(cfg, key)
  pgd = pgd_checks(cfg, key, records)
  g = gates.Gates()
  exactness_checks(g, records, mc)
  level_checks(g, cfg, summary, records, bootstrap_key)
  gap_checks(g, cfg, summary, records)
  pgd_gate(g, pgd)
  return {"summary": summary, "records": records, "monte_carlo": mc, "pgd": pgd,
          "slopes": g.slopes, "checks": g.checks}
