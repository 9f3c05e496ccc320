"""Sphinx configuration of the brian-noisy-rnn documentation (build: see docs/README.md)."""

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # gallery.py: the examples gallery's hooks
os.environ.setdefault("MPLBACKEND", "Agg")

import brian_noisy_rnn  # noqa: E402
import gallery  # noqa: E402

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
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
# examples/: pages an earlier generator wrote there (the gallery is auto_examples/ now)
exclude_patterns = ["_build", "README.md", "benchmarks/*.csv", "examples"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
# autosummary writes generated/ but never removes a page whose module was renamed or removed,
# and such a leftover fails -W on the next build: start every build without them
shutil.rmtree(HERE / "generated", ignore_errors=True)
autosummary_ignore_module_all = True  # document each name once, in the module that defines it
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # types are in the numpydoc entries
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"brian-noisy-rnn {release}"
html_theme_options = {"navigation_with_keys": False}


# the examples gallery: one page per script in examples/ with its code and its figure; the
# fast ones run at every build (docs/gallery.toml says which and why, docs/gallery.py how)
sphinx_gallery_conf = gallery.sphinx_gallery_conf()
