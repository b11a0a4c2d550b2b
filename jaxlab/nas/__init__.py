"""Neural architecture search on the NAS-Bench-201 space, for robust NAS (NAS-RobBench-201,
Wu et al., arXiv 2403.13134).

  from jaxlab.nas import benchmark, networks, robust_ntk, search, search_space
  cells = search_space.sample(jax.random.key(0), 40)        # non-isomorphic cells
  model = networks.TinyNetwork(cells[0], channels=16, cells_per_stage=5, num_classes=10,
                               normalization=networks.NORMALIZATION["cifar10"])
  variables = model.init(key, x)                 # x (N, 32, 32, 3) in [0, 1]
  logits = model.apply(variables, x)             # (N, 10), eval-mode BatchNorm
  bench = benchmark.load("/data/NAS-RobBench-201_all.json")
  objective = bench.table("cifar10", "val_pgd_8.0_acc")     # {canonical id: accuracy}
  trace = search.local_search(search.Space.of(objective), objective, 100, key)

Modules:
  search_space  cell strings, the six-edge DAG, the 6466 isomorphism classes, ids, sampling
  networks      the NB201 cell and TinyNetwork (Flax linen, BatchNorm train / eval mode)
  robust_ntk    K, K_bar, K~, K_bar2, K~_2, K_all(beta), K~_all(beta) and their scores,
                from `jaxlab.ntk`
  benchmark     the released benchmark format: load, build, write, query
  analytics     Kendall tau, Spearman rho, top-k overlap
  search        random search, regularised evolution, local search, regret

Adversarial training of a cell uses `jaxlab.adversarial.training` with `train_apply_fn=
jaxlab.models.model_state.train_apply(model)` (BatchNorm statistics in the loss state).
"""

from jaxlab.nas import analytics, benchmark, networks, robust_ntk, search, search_space

__all__ = ["analytics", "benchmark", "networks", "robust_ntk", "search", "search_space"]
