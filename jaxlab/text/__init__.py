"""Character-level text classifiers and query-based attacks on them (Charmer, ICML 2024).

  from jaxlab.text import charmer, victim
  result = charmer.charmer(score_fn, "what a lovely flight", 1, k=5, n=20,
                           alphabet="abcdefghijklmnopqrstuvwxyz")
  result.text, result.success, result.edits, result.queries, result.seconds

Modules:
  vocab          fixed character vocabulary (PAD, OOV) and length buckets
  models         CharCNN, CharTransformer (Flax linen), `build`
  victim         train / save / load a victim; `make_score_fn` (batched black box)
  slots          the 2m + 1 slot view of one character edit
  attack         oracle (unique-string query counting), losses, `AttackResult`
  charmer        Charmer and exhaustive greedy search
  baselines      random edits and a DeepWordBug-style attack
  metrics        ASR, Levenshtein, n-gram / embedding similarity, `summarize`
  charmer_study  the experiment (`Config`, `run`)

Modules are imported explicitly (`from jaxlab.text import charmer`), so `charmer` names the
module and `charmer.charmer` the attack.
"""
