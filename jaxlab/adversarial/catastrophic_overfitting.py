"""Catastrophic overfitting (CO) of single-step adversarial training, and whether local-linearity
regularisation (ELLE, ELLE-A; Abad Rocamora et al., ICLR 2024, arXiv 2401.11618) avoids it.

  from jaxlab.adversarial import catastrophic_overfitting as co
  results = co.run(co.Config(methods=("fgsm", "elle_a", "pgd"), eps=(0.3,)), "/tmp/elle")
  results["summary"]["fgsm"]["0.3"]          # {"pgd_acc_mean": 0.0, "co_rate": 1.0, ...}

The library function behind `python -m experiments.elle`. For every (eps, method, seed) a small
CNN is trained on scikit-learn digits resized to `image_size` with the method's one-update-per-
batch adversarial train step (`training.make_train_step`) inside the foundation's `loop.fit`.
After every epoch it records, on fixed subsets and with fixed keys:
  - clean and PGD accuracy on `curve_examples` test images,
  - FGSM accuracy on `curve_examples` training images (the CO signature: it stays high),
  - the local-linearity error E_lin and the GradAlign cosine on `probe_examples` val images,
  - from the training steps: the training-attack accuracy, E_lin and the ELLE-A lambda
    (epoch means) and the fraction of steps where ELLE-A's lambda jumped.
At the end, on the whole test split: clean, random-noise, FGSM, PGD-`eval_short_steps`,
PGD-`eval_steps`, PGD-`eval_steps` with `eval_restarts` restarts (the reported `pgd_acc`) and
margin-loss PGD; gradient-masking checks; the CO flag (`evaluation.is_catastrophic`).
Each finished run is appended to `sweep.jsonl` in the workdir, so `--resume` continues an
interrupted grid without repeating finished runs.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time
from typing import Any

import jax
import numpy as np
from absl import logging

from jaxlab import data as data_lib
from jaxlab import models, plotting, sweep
from jaxlab.adversarial import attacks, evaluation, training
from jaxlab.config import require, require_choice, to_dict
from jaxlab.training import loop, optim
from jaxlab.workdir import Workdir


@dataclasses.dataclass(frozen=True)
class Config:
  """The CO study: methods x eps x seeds on digits.

  Attributes:
    methods: adversarial-training methods: fgsm, rs_fgsm, n_fgsm, pgd, gradalign, elle, elle_a,
      n_fgsm_elle_a.
    eps: radii of the training and evaluation ball (inputs in [0, 1]).
    seeds: seeds of initialisation, shuffling and attacks (one run per seed).
    data_seed: seed of the fixed train / val / test split.
    norm: threat model, linf or l2.
    image_size: side the 8x8 digits are resized to.
    width: CNN width (channels of the last conv layer and the dense layer).
    depth: CNN conv layers (channels double up to width; each is followed by 2x2 pooling).
    learning_rate: peak of the triangular (cyclic, 0 -> peak -> 0) learning rate of SGD.
    momentum: SGD momentum.
    weight_decay: L2 weight decay.
    num_epochs: training epochs.
    batch_size: training batch size.
    eps_warmup_epochs: ramp the training radius linearly up to eps over this many epochs
      (0 = full eps from the first step).
    clip_train: clip training attack points and ELLE triplets to [0, 1] (the evaluation
      attacks always clip; False is the reference CIFAR code, which does not).
    pgd_steps: attack steps of PGD adversarial training.
    pgd_step_scale: step of PGD adversarial training in units of eps.
    elle_lambda: ELLE's constant lambda.
    elle_a_lambda_max: lambda_max of ELLE-A and N-FGSM+ELLE-A.
    gradalign_lambda: GradAlign's constant lambda.
    lambda_decay: ELLE-A's decay of lambda per step without a trigger.
    lambda_num_std: ELLE-A triggers when E_lin exceeds the history's mean by this many std.
    lambda_window: ELLE-A history window in steps (0 = the whole run).
    curve_examples: size of the fixed test and training subsets evaluated every epoch.
    curve_pgd_steps: steps of the per-epoch PGD (one random start).
    curve_pgd_step_scale: step of the per-epoch PGD in units of eps.
    probe_examples: size of the fixed val batch for E_lin and the GradAlign cosine.
    eval_steps: steps of the final PGD (step eval_step_scale * eps).
    eval_restarts: random restarts of the final PGD.
    eval_step_scale: step of the final PGD in units of eps.
    eval_short_steps: steps of the weaker PGD of the gradient-masking check.
    co_max_pgd_acc: CO flag: final PGD accuracy below this ...
    co_min_fgsm_acc: ... while the last epoch's FGSM training accuracy is at least this.
    workers: runs trained at once in separate processes (1 = one after another).
  """

  methods: tuple[str, ...] = ("fgsm", "pgd", "gradalign", "elle", "elle_a")
  eps: tuple[float, ...] = (0.3, 0.2, 0.1)
  seeds: tuple[int, ...] = (0, 1)
  data_seed: int = 0
  norm: str = "linf"
  image_size: int = 32
  width: int = 32
  depth: int = 1
  learning_rate: float = 0.05
  momentum: float = 0.9
  weight_decay: float = 5e-4
  num_epochs: int = 20
  batch_size: int = 64
  eps_warmup_epochs: int = 6
  clip_train: bool = True
  pgd_steps: int = 10
  pgd_step_scale: float = 0.25
  elle_lambda: float = 5000.0
  elle_a_lambda_max: float = 5000.0
  gradalign_lambda: float = 2.0
  lambda_decay: float = 0.99
  lambda_num_std: float = 2.0
  lambda_window: int = 0
  curve_examples: int = 128
  curve_pgd_steps: int = 10
  curve_pgd_step_scale: float = 0.25
  probe_examples: int = 128
  eval_steps: int = 50
  eval_restarts: int = 2
  eval_step_scale: float = 0.25
  eval_short_steps: int = 10
  co_max_pgd_acc: float = 0.05
  co_min_fgsm_acc: float = 0.5
  workers: int = 1

  def __post_init__(self):
    require(len(self.methods) > 0, "methods", "give at least one method")
    for name in self.methods:
      require_choice(name, "methods", training.METHODS)
    require(len(set(self.methods)) == len(self.methods), "methods", "duplicates")
    require(len(self.eps) > 0 and all(e > 0 for e in self.eps), "eps",
            f"give radii > 0, got {self.eps}")
    require(len(set(self.eps)) == len(self.eps), "eps", "duplicates")
    require(len(self.seeds) > 0 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"give distinct seeds, got {self.seeds}")
    require_choice(self.norm, "norm", attacks.NORMS)
    require(self.image_size >= 8, "image_size", f"must be >= 8, got {self.image_size}")
    for name in ("width", "depth", "num_epochs", "batch_size", "pgd_steps", "curve_examples",
                 "curve_pgd_steps", "probe_examples", "eval_steps", "eval_restarts",
                 "eval_short_steps", "workers"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    for name in ("learning_rate", "pgd_step_scale", "curve_pgd_step_scale", "eval_step_scale"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require(self.eps_warmup_epochs <= self.num_epochs, "eps_warmup_epochs",
            f"must be <= num_epochs ({self.num_epochs}), got {self.eps_warmup_epochs}")
    for name in ("eps_warmup_epochs", "weight_decay", "elle_lambda", "elle_a_lambda_max",
                 "gradalign_lambda",
                 "lambda_window"):
      require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
    require(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
    require(0 <= self.lambda_decay <= 1, "lambda_decay",
            f"must be in [0, 1], got {self.lambda_decay}")
    require(0 <= self.co_max_pgd_acc <= 1, "co_max_pgd_acc", "must be in [0, 1]")
    require(0 <= self.co_min_fgsm_acc <= 1, "co_min_fgsm_acc", "must be in [0, 1]")


def load_data(config: Config) -> data_lib.Dataset:
  ds = data_lib.load("digits", seed=config.data_seed, image_size=config.image_size)
  require(config.batch_size <= len(ds.train), "batch_size",
          f"must be <= the {len(ds.train)} training examples, got {config.batch_size}")
  return ds


def make_method(config: Config, name: str, eps: float, steps_per_epoch: int
                ) -> training.Method:
  """The preset `name` at `eps` with the config's lambdas, PGD steps, clipping and warm-up."""
  lam = {"elle": config.elle_lambda, "gradalign": config.gradalign_lambda,
         "elle_a": config.elle_a_lambda_max, "n_fgsm_elle_a": config.elle_a_lambda_max}
  overrides: dict[str, Any] = dict(norm=config.norm, box=attacks.DATA_RANGE if config.clip_train
                                   else None, decay=config.lambda_decay,
                                   num_std=config.lambda_num_std, window=config.lambda_window,
                                   eps_warmup_steps=config.eps_warmup_epochs * steps_per_epoch)
  if name in lam:
    overrides["lam"] = lam[name]
  if name == "pgd":
    overrides.update(steps=config.pgd_steps, step_scale=config.pgd_step_scale)
  return training.method(name, float(eps), **overrides)


class _Context:
  """What the runs of one process share: the data, the model and compiled steps."""

  def __init__(self, config: Config):
    self.config = config
    self.ds = load_data(config)
    self.model = models.build("cnn", outputs=self.ds.num_classes, width=config.width,
                              depth=config.depth)
    self.steps_per_epoch = len(self.ds.train) // config.batch_size
    schedule = optim.make_schedule("triangular", config.learning_rate,
                                   self.steps_per_epoch * config.num_epochs)
    self.tx = optim.make_optimizer("sgd", schedule, weight_decay=config.weight_decay,
                                   momentum=config.momentum)
    self._train_steps: dict[tuple[str, float], Any] = {}

  def train_step(self, method: training.Method):
    key = (method.name, method.eps)
    if key not in self._train_steps:
      self._train_steps[key] = training.make_train_step(self.model.apply, self.tx, method)
    return self._train_steps[key]


def _epoch_probes(ctx: _Context, eps: float, key: jax.Array):
  """`params -> metrics` evaluated after every epoch on fixed subsets with fixed keys."""
  config, ds, apply_fn = ctx.config, ctx.ds, ctx.model.apply
  n = config.curve_examples
  x_test, y_test = ds.test.x[:n], ds.test.y[:n]
  x_train, y_train = ds.train.x[:n], ds.train.y[:n]
  x_probe, y_probe = ds.val.x[:config.probe_examples], ds.val.y[:config.probe_examples]
  pgd_key, probe_key = jax.random.split(key)
  box = attacks.DATA_RANGE if config.clip_train else None

  def probes(params):
    x_pgd = attacks.pgd(apply_fn, params, x_test, y_test, pgd_key, eps,
                        config.curve_pgd_step_scale * eps, steps=config.curve_pgd_steps,
                        norm=config.norm)
    x_fgsm = attacks.fgsm(apply_fn, params, x_train, y_train, eps, norm=config.norm)
    out = {"clean_acc": attacks.accuracy(apply_fn, params, x_test, y_test),
           "pgd_acc": attacks.accuracy(apply_fn, params, x_pgd, y_test),
           "fgsm_acc": attacks.accuracy(apply_fn, params, x_fgsm, y_train),
           **evaluation.linearity_probe(apply_fn, params, x_probe, y_probe, probe_key, eps,
                                        norm=config.norm, box=box)}
    return {k: float(v) for k, v in out.items()}

  return probes


def train_and_evaluate(point: dict[str, Any], config: Config, ctx: _Context | None = None
                       ) -> dict[str, Any]:
  """Trains and evaluates one run `point = {"eps", "method", "seed"}`; returns its record."""
  t_start = time.perf_counter()
  ctx = ctx or _Context(config)
  name, eps, seed = point["method"], float(point["eps"]), int(point["seed"])
  method = make_method(config, name, eps, ctx.steps_per_epoch)
  key = jax.random.key(seed)
  init_key, train_key, probe_key, eval_key = jax.random.split(key, 4)
  del key
  ds, apply_fn = ctx.ds, ctx.model.apply
  params = models.init(ctx.model, init_key, ds.train.x[:1])
  state = training.init_state(params, ctx.tx, method)
  logging.info("run %s eps=%g seed=%d", name, eps, seed)
  state, history = loop.fit(state, ctx.train_step(method), ds.train, key=train_key,
                            num_epochs=config.num_epochs, batch_size=config.batch_size,
                            evaluate_fn=_epoch_probes(ctx, eps, probe_key))
  accs = evaluation.robust_accuracies(
      apply_fn, state.params, ds.test.x, ds.test.y, eval_key, eps, steps=config.eval_steps,
      restarts=config.eval_restarts, step_scale=config.eval_step_scale,
      short_steps=config.eval_short_steps, norm=config.norm)
  checks = evaluation.masking_checks(accs, len(ds.test))
  last = history[-1]
  co = evaluation.is_catastrophic(accs["pgd"], last["fgsm_acc"],
                                  max_pgd_acc=config.co_max_pgd_acc,
                                  min_fgsm_acc=config.co_min_fgsm_acc)
  epoch_s = [h["epoch_s"] for h in history[1:]] or [history[0]["epoch_s"]]
  record = {
      "method": name, "eps": eps, "seed": seed,
      "clean_acc": accs["clean"], "pgd_acc": accs["pgd"],
      "best_pgd_acc": max(h["pgd_acc"] for h in history),
      "co": co, "step_ms": 1e3 * statistics.median(epoch_s) / ctx.steps_per_epoch,
      "attacks": accs, "masking_checks": checks, "masking_ok": all(checks.values()),
      "final_fgsm_train_acc": last["fgsm_acc"], "final_lin_err": last["lin_err"],
      "max_lin_err": max(h["lin_err"] for h in history),
      "history": history, "wall_s": time.perf_counter() - t_start,
  }
  logging.info("run %s eps=%g seed=%d: clean %.3f pgd %.3f fgsm(train) %.3f co=%s (%.0fs)",
               name, eps, seed, accs["clean"], accs["pgd"], last["fgsm_acc"], co,
               record["wall_s"])
  return record


def _eps_key(eps: float) -> str:
  return f"{eps:g}"


def summarize(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
  """`{method: {eps: {pgd_acc_mean, pgd_acc_std, clean_acc_mean, best_pgd_acc_mean,
  fgsm_train_acc_mean, lin_err_mean (final epoch), co_rate, n}}}`."""
  summary: dict[str, Any] = {}
  for name in config.methods:
    summary[name] = {}
    for eps in config.eps:
      cell = [r for r in runs if r["method"] == name and r["eps"] == eps]
      pgd = [r["pgd_acc"] for r in cell]
      summary[name][_eps_key(eps)] = {
          "pgd_acc_mean": float(np.mean(pgd)), "pgd_acc_std": float(np.std(pgd)),
          "clean_acc_mean": float(np.mean([r["clean_acc"] for r in cell])),
          "best_pgd_acc_mean": float(np.mean([r["best_pgd_acc"] for r in cell])),
          "fgsm_train_acc_mean": float(np.mean([r["final_fgsm_train_acc"] for r in cell])),
          "lin_err_mean": float(np.mean([r["final_lin_err"] for r in cell])),
          "co_rate": float(np.mean([r["co"] for r in cell])), "n": len(cell)}
  return summary


def step_cost_ratios(config: Config, runs: list[dict[str, Any]]) -> dict[str, float | None]:
  """Ratios of the median training-step time of methods (None if a method was not run)."""
  ms = {name: statistics.median([r["step_ms"] for r in runs if r["method"] == name])
        for name in config.methods}

  def ratio(a, b):
    return ms[a] / ms[b] if a in ms and b in ms else None

  return {"elle/fgsm": ratio("elle", "fgsm"), "gradalign/elle": ratio("gradalign", "elle"),
          f"pgd{config.pgd_steps}/elle": ratio("pgd", "elle")}


def co_example(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
  """The run to show: the first CO run (FGSM preferred), else FGSM at its largest eps."""
  flagged = [r for r in runs if r["co"]]
  flagged.sort(key=lambda r: (r["method"] != "fgsm", -r["eps"]))
  if flagged:
    return flagged[0]
  fgsm = sorted((r for r in runs if r["method"] == "fgsm"), key=lambda r: -r["eps"])
  return fgsm[0] if fgsm else (runs[0] if runs else None)


def plot_accuracy_vs_eps(config: Config, summary, wd: Workdir) -> str:
  fig, (ax1, ax2) = plotting.figure(1, 2)
  eps = sorted(config.eps)
  for name in config.methods:
    cells = [summary[name][_eps_key(e)] for e in eps]
    ax1.errorbar(eps, [c["pgd_acc_mean"] for c in cells], yerr=[c["pgd_acc_std"] for c in cells],
                 marker="o", capsize=3, label=name)
    ax2.plot(eps, [c["clean_acc_mean"] for c in cells], marker="o", label=name)
  ax1.set(xlabel="eps (L-inf)" if config.norm == "linf" else "eps (L2)",
          ylabel=f"PGD-{config.eval_steps}-{config.eval_restarts} accuracy",
          title="robust accuracy (test)")
  ax2.set(xlabel="eps", ylabel="clean accuracy", title="clean accuracy (test)")
  for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
  ax1.legend(fontsize=7)
  return wd.save_figure(fig, "pgd_acc_vs_eps")


def plot_co_run(runs: list[dict[str, Any]], wd: Workdir) -> str | None:
  example = co_example(runs)
  if example is None:
    return None
  peers = [r for r in runs if r["eps"] == example["eps"] and r["seed"] == example["seed"]]
  fig, (ax1, ax2, ax3) = plotting.figure(1, 3)
  epochs = np.arange(1, len(example["history"]) + 1)
  tag = f"{example['method']} eps={example['eps']:g} seed={example['seed']}"
  for key, label in (("fgsm_acc", "FGSM acc (train)"), ("pgd_acc", "PGD acc (test)"),
                     ("clean_acc", "clean acc (test)")):
    ax1.plot(epochs, [h[key] for h in example["history"]], label=label)
  ax1b = ax1.twinx()
  ax1b.semilogy(epochs, [h["lin_err"] for h in example["history"]], "k:", label="E_lin")
  ax1b.set_ylabel("local-linearity error E_lin")
  ax1.set(xlabel="epoch", ylabel="accuracy",
          title=f"{tag}{' (CO)' if example['co'] else ''}")
  ax1.legend(fontsize=7, loc="center left")
  for r in peers:
    ax2.semilogy(epochs[:len(r["history"])], [h["lin_err"] for h in r["history"]],
                 label=r["method"])
  ax2.set(xlabel="epoch", ylabel="E_lin (fixed val batch)",
          title=f"local linearity, eps={example['eps']:g}")
  ax2.legend(fontsize=7)
  adaptive = [r for r in peers if r["method"] in ("elle_a", "n_fgsm_elle_a")]
  for r in adaptive:
    ax3.plot(epochs[:len(r["history"])], [h["train_lam"] for h in r["history"]],
             label=f"{r['method']} lambda")
  ax3b = ax3.twinx()
  for r in adaptive:
    ax3b.semilogy(epochs[:len(r["history"])], [h["train_lin_err"] for h in r["history"]], ":",
                  label=f"{r['method']} E_lin (train)")
  ax3.set(xlabel="epoch", ylabel="lambda (epoch mean)", title="ELLE-A lambda and E_lin")
  ax3b.set_ylabel("E_lin (training batches)")
  if adaptive:
    ax3.legend(fontsize=7, loc="upper left")
    ax3b.legend(fontsize=7, loc="upper right")
  return wd.save_figure(fig, "co_run")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the grid (resumable) and writes config.json, sweep.jsonl (one record per finished
  run), metrics.jsonl (one line per run and epoch), results.json and plots/.

  results.json: `eps`; `runs` (method, eps, seed, clean_acc, pgd_acc, best_pgd_acc (the best
  per-epoch PGD accuracy on the test subset: what early stopping could at best keep), co,
  step_ms, and the attack battery and masking checks); `summary[method][eps]` (pgd_acc_mean,
  co_rate, ...); `step_cost_ratio` (elle/fgsm, gradalign/elle, pgd10/elle from the median
  step times of the runs).
  """
  t_start = time.perf_counter()
  load_data(config)  # fail on bad data options before the workdir is touched
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite,
                                                            resume=resume)
  wd.write_config(to_dict(config))
  points = sweep.expand_grid({"eps": list(config.eps), "method": list(config.methods),
                              "seed": list(config.seeds)})
  if config.workers > 1:
    fn = functools.partial(train_and_evaluate, config=config)
    runner = sweep.ProcessPoolRunner(config.workers)
  else:
    ctx = _Context(config)
    fn = functools.partial(train_and_evaluate, config=config, ctx=ctx)
    runner = sweep.SerialRunner()
  wd.file(sweep.SWEEP_LOG)  # recorded in the workdir's manifest
  records = sweep.run_sweep(fn, points, wd.path, runner=runner)
  runs = [r["result"] for r in records]

  wd.truncate_metrics(None)  # rewritten from the records: no duplicates after a resume
  for r in runs:
    for h in r["history"]:
      wd.log(h["epoch"], {"method": r["method"], "eps": r["eps"], "seed": r["seed"],
                          **{k: v for k, v in h.items() if k != "epoch"}})
  summary = summarize(config, runs)
  example = co_example(runs)
  results = {
      "eps": sorted(config.eps),
      "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs],
      "summary": summary,
      "step_cost_ratio": step_cost_ratios(config, runs),
      "co_example": None if example is None else {k: example[k]
                                                  for k in ("method", "eps", "seed", "co")},
      "data": load_data(config).summary(),
      "wall_s": time.perf_counter() - t_start,
  }
  wd.write_results(results)
  plot_accuracy_vs_eps(config, summary, wd)
  plot_co_run(runs, wd)
  for name in config.methods:
    logging.info("%-14s %s", name, "  ".join(
        f"eps={e}: pgd {c['pgd_acc_mean']:.3f} co {c['co_rate']:.2f}"
        for e, c in summary[name].items()))
  return results
