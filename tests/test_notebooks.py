"""Every notebook in notebooks/ runs top to bottom (at smoke size), so examples never rot.

Executing a paper's notebook runs its smoke study, which that paper's own tests already run;
so in the default suite every notebook is checked statically (its code parses, and every
jaxlab module, name and attribute it uses exists) and only the quickstart is executed. All
notebooks are executed under `-m slow`. The committed notebooks keep their outputs (so they
read on the web): every cell ran, figures embedded, under 1 MB.
"""

import ast
import glob
import importlib
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))
EXECUTED_BY_DEFAULT = ("quickstart.ipynb",)


def _code(path: str) -> str:
  """The notebook's code cells as one module, IPython magics and shell lines as `pass`."""
  with open(path) as f:
    cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
  lines = []
  for cell in cells:
    source = "".join(cell["source"])
    for line in source.splitlines():
      body = line.lstrip()
      lines.append(line[:len(line) - len(body)] + "pass" if body.startswith(("!", "%")) else line)
  return "\n".join(lines)


def _jaxlab_bindings(tree: ast.Module) -> dict[str, object]:
  """Names the notebook binds by importing jaxlab modules or names, each resolved (raises if
  a module or name is gone)."""
  bound = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.split(".")[0] == "jaxlab":
          module = importlib.import_module(alias.name)
          bound[alias.asname or alias.name.split(".")[0]] = (
              module if alias.asname else importlib.import_module("jaxlab"))
    elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jaxlab":
      module = importlib.import_module(node.module)
      for alias in node.names:
        if hasattr(module, alias.name):
          bound[alias.asname or alias.name] = getattr(module, alias.name)
        else:  # a submodule
          bound[alias.asname or alias.name] = importlib.import_module(
              f"{node.module}.{alias.name}")
  return bound


def _attribute_chain(node: ast.Attribute) -> list[str] | None:
  names = []
  while isinstance(node, ast.Attribute):
    names.append(node.attr)
    node = node.value
  return [node.id, *reversed(names)] if isinstance(node, ast.Name) else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_uses_only_names_that_exist(path):
  tree = ast.parse(_code(path), filename=path)
  bound = _jaxlab_bindings(tree)
  assert bound, f"{os.path.basename(path)} imports nothing from jaxlab"
  missing = []
  for node in ast.walk(tree):
    chain = _attribute_chain(node) if isinstance(node, ast.Attribute) else None
    if not chain or chain[0] not in bound:
      continue
    obj = bound[chain[0]]
    for i, attr in enumerate(chain[1:], 1):
      if isinstance(obj, type(ast)) and not hasattr(obj, attr):  # maybe an unimported module
        try:
          importlib.import_module(f"{obj.__name__}.{attr}")
        except ImportError:
          pass
      if not hasattr(obj, attr):
        missing.append(".".join(chain[:i + 1]))
        break
      obj = getattr(obj, attr)
  assert not missing, f"{os.path.basename(path)} uses names that do not exist: {missing}"


def test_the_static_check_finds_a_missing_name(tmp_path):
  path = tmp_path / "bad.ipynb"
  path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [
      "!pip install jaxlab\n", "from jaxlab.papers import krr_inverse\n",
      "krr_inverse.smoke()\n", "krr_inverse.no_such_function()\n"]}]}))
  with pytest.raises(AssertionError, match=r"krr_inverse\.no_such_function"):
    test_notebook_uses_only_names_that_exist(str(path))


# Notebooks whose saved outputs other parts of issue 19 still write (checked once they have some).
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_saved_with_its_outputs(path):
  """The committed notebook reads on the web: every code cell ran, without errors, with its
  figures embedded as PNG, and the file stays small (figures down-scaled by
  `jaxlab.plotting.preview`)."""
  with open(path) as f:
    cells = [c for c in json.load(f)["cells"] if c["cell_type"] == "code"]
  outputs = [o for c in cells for o in c.get("outputs", [])]
  name = os.path.basename(path)
  assert all(c.get("execution_count") is not None for c in cells), f"{name}: unexecuted cells"
  assert not [o for o in outputs if o.get("output_type") == "error"], name
  assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: no figure saved"
  assert os.path.getsize(path) < 1_000_000, f"{name}: {os.path.getsize(path)} bytes"


@pytest.mark.parametrize("path", [
    p if os.path.basename(p) in EXECUTED_BY_DEFAULT else pytest.param(p, marks=pytest.mark.slow)
    for p in NOTEBOOKS], ids=os.path.basename)
def test_notebook_executes(path, monkeypatch):
  # The kernel imports this checkout's jaxlab, whatever is installed.
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [REPO, os.environ.get(
      "PYTHONPATH")])))
  nbclient = pytest.importorskip("nbclient")
  nbformat = pytest.importorskip("nbformat")
  nb = nbformat.read(path, as_version=4)
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": os.path.dirname(path)}})
  client.execute()
  errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors
