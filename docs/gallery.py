"""The examples gallery's configuration and hooks (sphinx-gallery; used by docs/conf.py).

Which scripts of ``examples/`` run at every documentation build, and how the page of each
other script shows a figure, is declared in ``docs/gallery.toml``; ``tests/test_gallery.py``
checks that declaration against ``examples/``. The hooks are named in the configuration by
their import path (``"gallery.figures_written"``) because Sphinx can only cache a
configuration of plain values.
"""

import hashlib
import shutil
import time
import tomllib
from pathlib import Path

__all__ = ["GALLERY_TOML", "load", "filename_pattern", "code_sha256", "sphinx_gallery_conf",
           "reset_example", "figures_written"]

HERE = Path(__file__).resolve().parent
GALLERY_TOML = HERE / "gallery.toml"
_STARTED = {}  # example path -> time.time() just before it ran


def load(path=GALLERY_TOML):
    """The gallery declaration: ``{"executed": {name: why}, "not_executed": {name: {...}}}``."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def filename_pattern(executed):
    """The regular expression (searched in an example's path) matching exactly ``executed``."""
    names = "|".join(sorted(executed))
    return rf"[\\/]({names})\.py$"


def code_sha256(script):
    """SHA-256 of a script's code: its text after the module docstring, without the
    ``# sphinx_gallery_...`` configuration comments (docstring edits keep the hash)."""
    import ast

    text = Path(script).read_text()
    body = ast.parse(text).body
    start = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        start = body[0].end_lineno
    lines = [line for line in text.splitlines()[start:]
             if not line.startswith("# sphinx_gallery_")]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def sphinx_gallery_conf():
    """The ``sphinx_gallery_conf`` of docs/conf.py (paths relative to docs/)."""
    executed = load()["executed"]
    return {
        "examples_dirs": "../examples",
        "gallery_dirs": "auto_examples",  # generated, git-ignored
        "filename_pattern": filename_pattern(executed),
        "abort_on_example_error": True,  # a failing executed example fails the build at once
        "only_warn_on_example_error": False,
        # rerun the executed examples at every build, not only when their file changed: a
        # change in the package must not leave a page showing what older code drew
        "run_stale_examples": True,
        "image_scrapers": ("matplotlib", "gallery.figures_written"),
        "reset_modules": ("matplotlib", "gallery.reset_example"),
        "capture_repr": (),
        "remove_config_comments": True,
        "download_all_examples": False,
        "show_memory": False,
        "line_numbers": False,
        "min_reported_time": 1,
    }


def reset_example(gallery_conf, fname):
    """Before each example: Brian2's preferences and default clock as in a fresh process
    (examples set them), and the start time for :func:`figures_written`."""
    from brian2 import defaultclock, ms, prefs

    prefs.reset_to_defaults()
    defaultclock.dt = 0.1 * ms
    if fname is not None:  # None: entering a folder of examples
        _STARTED[Path(fname).name] = time.time()


def figures_written(block, block_vars, gallery_conf):
    """Image scraper: the PNG files an executed example wrote while it ran.

    The examples save their figures (``output/<name>.png`` relative to the working
    directory, which sphinx-gallery sets to the example's folder) and close them, so
    matplotlib's scraper sees nothing; this one copies every PNG file under the example's
    folder modified since the example started into the gallery's image paths.
    """
    from sphinx_gallery.scrapers import figure_rst

    src = Path(block_vars["src_file"])
    started = _STARTED.get(src.name)
    if started is None:
        return ""
    written = sorted(p for p in src.parent.rglob("*.png") if p.stat().st_mtime >= started)
    _STARTED[src.name] = time.time()  # a later code block shows only what it writes
    images = []
    for path, target in zip(written, block_vars["image_path_iterator"]):
        shutil.copyfile(path, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"]) if images else ""
