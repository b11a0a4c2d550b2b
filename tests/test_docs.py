"""The documentation cannot rot: every public module has a docstring and pydoc renders it (the
API reference, docs/build_api.py), every relative link in README.md and
docs/ points at a file (and heading) that exists, and every ```python snippet in them runs as
printed.

A snippet that must not run here (it needs a GPU, a Ray cluster, a download or minutes of
compute) is marked on the line above its fence with `<!-- not run: <reason> -->`.
"""

import importlib.util
import pathlib
import re

import jax
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

# Pages that other parts of issue 19 write; a link to one is allowed to dangle until it lands.
PENDING: set[str] = set()  # pages linked before they are written (none now)

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
NOT_RUN = re.compile(r"<!--\s*not run:\s*\S.*-->\s*$")


def _load_build_api():
  spec = importlib.util.spec_from_file_location("build_api", REPO / "docs" / "build_api.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


build_api = _load_build_api()


def _prose(text: str) -> str:
  """`text` without fenced code blocks and inline code (links there are not links)."""
  return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def _slug(heading: str) -> str:
  """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
  return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
  anchors, seen = set(), {}
  for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
    m = re.match(r"#{1,6} (.+)", line)
    if m:
      slug = _slug(m.group(1))
      anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
      seen[slug] = seen.get(slug, 0) + 1
  return anchors


def _snippets():
  """(id, source) of every ```python block in README.md and docs/, and whether it runs."""
  out = []
  for path in DOCS:
    text = path.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
      if m.group(1).strip().split(" ")[0] not in ("python", "py"):
        continue
      line = text.count("\n", 0, m.start()) + 1
      before = [l for l in text[:m.start()].splitlines() if l.strip()]
      skip = bool(before) and NOT_RUN.search(before[-1]) is not None
      out.append((f"{path.relative_to(REPO)}:{line}", m.group(2), skip))
  return out


SNIPPETS = _snippets()


def test_every_public_module_has_a_docstring():
  import ast
  modules = build_api.public_modules()
  assert len(modules) > 50 and "jaxlab.kernels.ridge" in modules
  missing = [name for name, path in modules.items()
             if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()]
  assert not missing, f"public modules without a docstring: {missing}"


def test_pydoc_renders_every_public_module(tmp_path):
  modules = build_api.public_modules()
  for name in modules:
    text = build_api.render(name)
    module = importlib.import_module(name)
    first_line = module.__doc__.strip().splitlines()[0].strip()
    assert first_line in text, name
    # A package's exported names are on its page (pydoc lists __all__).
    absent = [n for n in getattr(module, "__all__", ()) if not re.search(rf"\b{re.escape(n)}\b",
                                                                          text)]
    assert not absent, f"{name}: {absent} missing from the pydoc page"
  assert {"jaxlab.kernels", "jaxlab.ntk", "jaxlab.papers.krr_inverse"} <= set(
      build_api.public_packages())
  pages = build_api.build(tmp_path, ["jaxlab.kernels.ridge", "jaxlab"])
  html = pages[0].read_text(encoding="utf-8")
  assert "path" in html and "bias_variance" in html


def test_relative_links_resolve():
  broken = []
  for path in DOCS:
    for target in LINK.findall(_prose(path.read_text(encoding="utf-8"))):
      if re.match(r"[a-z][a-z0-9+.-]*:", target):   # http:, https:, mailto:
        continue
      file, _, anchor = target.partition("#")
      dest = (path.parent / file).resolve() if file else path
      rel = dest.relative_to(REPO).as_posix() if dest.is_relative_to(REPO) else str(dest)
      if not dest.exists():
        if rel not in PENDING:
          broken.append(f"{path.relative_to(REPO)}: {target} (no such file)")
      elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
        broken.append(f"{path.relative_to(REPO)}: {target} (no such heading)")
  assert not broken, "\n".join(broken)


def test_links_checker_catches_a_broken_link_and_anchor(tmp_path):
  page = tmp_path / "page.md"
  page.write_text("# A `code` heading (x)\n\n[ok](#a-code-heading-x) [bad](#nope) "
                  "[missing](nothing.md) `[not a link](nothing.md)`\n")
  targets = LINK.findall(_prose(page.read_text()))
  assert targets == ["#a-code-heading-x", "#nope", "nothing.md"]
  assert _anchors(page) == {"a-code-heading-x"}


@pytest.mark.parametrize("where,source,skip", SNIPPETS, ids=[s[0] for s in SNIPPETS])
def test_snippet_runs(where, source, skip, tmp_path, monkeypatch):
  if skip:
    pytest.skip(f"{where} is marked not run")
  monkeypatch.chdir(tmp_path)
  x64 = jax.config.jax_enable_x64
  try:
    exec(compile(source, where, "exec"), {"__name__": "__snippet__"})
  except Exception as e:  # pylint: disable=broad-except
    pytest.fail(f"{where} fails as printed ({type(e).__name__}: {e}). Make it run (tiny sizes, "
                f"define its inputs) or, if it needs a GPU, a cluster, a download or minutes, put "
                f"<!-- not run: <reason> --> on the line above its fence.")
  assert jax.config.jax_enable_x64 == x64, f"{where} changed jax_enable_x64 for the process"


def test_snippets_found():
  runnable = [where for where, _, skip in SNIPPETS if not skip]
  assert any(w.startswith("docs/cores.md") for w in runnable), runnable
  assert any(w.startswith("docs/papers/charmer.md") for w in runnable), runnable
  assert sum(w.startswith("docs/nnx.md") for w in runnable) == 2, runnable  # NNX and plain JAX


def test_every_notebook_has_an_open_in_colab_badge():
  index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
  badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
           "(https://colab.research.google.com/github/jaxlab/jaxlab/blob/main/notebooks/{})")
  missing = [nb.name for nb in sorted((REPO / "notebooks").glob("*.ipynb"))
             if badge.format(nb.name) not in index]
  assert not missing, f"notebooks without an Open in Colab badge in docs/index.md: {missing}"


def test_readme_is_a_short_front_door_linking_every_paper():
  readme = (REPO / "README.md").read_text(encoding="utf-8")
  assert len(readme.splitlines()) < 275
  index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
  slugs = [p.parent.name for p in (REPO / "jaxlab" / "papers").glob("*/__init__.py")]
  assert len(slugs) >= 8
  for slug in slugs:
    assert f"(docs/papers/{slug}.md)" in readme, slug
    assert f"(papers/{slug}.md)" in index, slug
