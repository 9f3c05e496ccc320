"""Sphinx configuration of the brian-noisy-rnn documentation (build: see docs/README.md)."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import brian_noisy_rnn  # noqa: E402

project = "brian-noisy-rnn"
author = "brian-noisy-rnn developers"
copyright = "2026, brian-noisy-rnn developers"
release = version = brian_noisy_rnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "benchmarks/*.csv"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
autosummary_ignore_module_all = True  # document each name once, in the module that defines it
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # types are in the numpydoc entries
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"brian-noisy-rnn {release}"
html_theme_options = {"navigation_with_keys": False}


def _example_pages(app):
    """One page per script in examples/: its docstring and its source (kept in sync)."""
    import ast

    out = HERE / "examples"
    out.mkdir(exist_ok=True)
    names = []
    for script in sorted((ROOT / "examples").glob("*.py")):
        doc = ast.get_docstring(ast.parse(script.read_text())) or ""
        title = script.stem.replace("_", " ").capitalize()
        page = (f"# {title}\n\n```{{eval-rst}}\n{doc}\n```\n\nRun it with "
                f"`python examples/{script.name}`.\n\n"
                f"```{{literalinclude}} ../../examples/{script.name}\n:language: python\n```\n")
        target = out / f"{script.stem}.md"
        if not target.exists() or target.read_text() != page:
            target.write_text(page)
        names.append(script.stem)
    index = "# Examples\n\n```{toctree}\n:maxdepth: 1\n\n" + "\n".join(names) + "\n```\n"
    if not (out / "index.md").exists() or (out / "index.md").read_text() != index:
        (out / "index.md").write_text(index)


def setup(app):
    app.connect("builder-inited", _example_pages)
