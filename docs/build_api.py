"""Builds the API reference from the docstrings: one pydoc HTML page per public module.

  python docs/build_api.py build/api        # then open build/api/jaxlab.html

A module is public when no part of its dotted name starts with "_" (`jaxlab.kernels.ridge`
is, `jaxlab.ntk._x` would not be). `tests/test_docs.py` finds the public modules with
`public_modules`, checks their docstrings and renders each with `render`, so the reference is
built on every test run and cannot rot.
"""

from __future__ import annotations

import importlib
import pathlib
import pydoc
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def public_modules(package: pathlib.Path = REPO / "jaxlab") -> dict[str, pathlib.Path]:
  """Dotted name -> source file of every public module under `package`, found from the files
  (nothing is imported). A package's name maps to its `__init__.py`."""
  modules = {}
  for path in sorted(package.rglob("*.py")):
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
      parts = parts[:-1]
    if not any(part.startswith("_") for part in parts):
      modules[".".join(parts)] = path
  return modules


def public_packages(package: pathlib.Path = REPO / "jaxlab") -> list[str]:
  """The public modules that are packages (`jaxlab`, `jaxlab.kernels`, `jaxlab.papers.elle`)."""
  return [name for name, path in public_modules(package).items() if path.name == "__init__.py"]


def render(name: str) -> str:
  """The plain-text pydoc page of module `name` (imports it)."""
  return pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)


def build(outdir: str | pathlib.Path, names: list[str] | None = None) -> list[pathlib.Path]:
  """Writes `<outdir>/<name>.html` for each module of `names` (default: every public module)
  and returns the paths."""
  outdir = pathlib.Path(outdir)
  outdir.mkdir(parents=True, exist_ok=True)
  written = []
  for name in names if names is not None else list(public_modules()):
    module = importlib.import_module(name)
    page = pydoc.html.page(pydoc.describe(module), pydoc.html.document(module, name))
    path = outdir / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    written.append(path)
  return written


def main(argv: list[str]) -> int:
  if len(argv) != 2:
    print("usage: python docs/build_api.py OUTDIR", file=sys.stderr)
    return 2
  sys.path.insert(0, str(REPO))
  paths = build(argv[1])
  print(f"wrote {len(paths)} pages to {argv[1]}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
