"""The text core: character-level text classifiers and query-based attacks on them.

  from jaxlab.text import charmer, victim
  result = charmer.charmer(score_fn, "what a lovely flight", 1, k=5, n=20,
                           alphabet="abcdefghijklmnopqrstuvwxyz")
  result.text, result.success, result.edits, result.queries, result.seconds

Modules:
  vocab      fixed character vocabulary (PAD, OOV) and length buckets
  models     CharCNN, CharTransformer (Flax linen), `build`
  victim     `VictimConfig`; train (through `jaxlab.training.supervised.fit_classifier`),
             save, load a victim; `make_score_fn` (batched black box)
  slots      the 2m + 1 slot view of one character edit
  attack     oracle (unique-string query counting), losses, `AttackResult`
  charmer    Charmer (arXiv:2405.04346) and exhaustive greedy search
  baselines  random edits and a DeepWordBug-style attack
  metrics    ASR, Levenshtein, n-gram / embedding similarity, `summarize`

The Charmer study (victims on tweets, attacks at several budgets, the defence check) is the
paper package `jaxlab.papers.charmer`. Modules are imported explicitly (`from jaxlab.text
import charmer`), so `charmer` names the module and `charmer.charmer` the attack.
"""
