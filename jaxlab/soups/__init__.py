"""Model soups: one model from K fine-tuned ingredients of a shared start, as pure functions
over a sequence of parameter pytrees of any Flax model (the sequence may load lazily, e.g. an
`ingredients.IngredientStore` that restores each ingredient from its checkpoint).

  from jaxlab.soups import greedy, mehl, uniform
  uniform.uniform_soup(store).params                          # (1/K) sum_k theta_k
  greedy.greedy_soup(store, score_fn).selected                # accepted ids (one sorted pass)
  soup = mehl.mehl_soup(store, model.apply, ds.val, block_size=4, key=key)
  soup.params, soup.weights                                   # soup; (K, G) weights sum to 1

Modules:
  uniform      uniform soup (running mean, two models resident)
  greedy       greedy soup and the best individual model (Wortsman et al., arXiv 2203.05482)
  learned      Learned-Soup(+): softmax coefficients through all K resident ingredients
  mehl         MEHL-Soup(+) (Li et al., arXiv 2407.03641): hyperplane coefficients by block
               coordinate descent, one block of b ingredients resident
  ingredients  the shared start (pre-train, linear probe), K fine-tunes with random recipes
               (through `jaxlab.training.supervised.fit_classifier`), `IngredientStore`
  combine      linear combinations of pytrees by layer group, inner products, norms
  memory       XLA compiled-step memory and peak RSS
  base         the optax-shaped `(init, update)` coefficient optimiser, soup loss, `SoupCost`

The MEHL-Soup study (ingredients, every soup, accuracy and memory) is the paper package
`jaxlab.papers.mehl_soup`.
"""
