"""Every public function, class and method has a numpydoc docstring whose Parameters have a
type line and an indented description (checked with numpydoc's own parser)."""

import importlib
import inspect
import pkgutil

import pytest

import brian_noisy_rnn

docscrape = pytest.importorskip("numpydoc.docscrape")


def _public_objects():
    """(qualified name, object) of every public function, class and method of the package."""
    for info in pkgutil.walk_packages(brian_noisy_rnn.__path__, "brian_noisy_rnn."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # documented where it is defined
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(member):
                        yield f"{module.__name__}.{name}.{attr}", member


def _problems(qualname, obj):
    if not inspect.getdoc(obj):
        return [f"{qualname}: no docstring"]
    parsed = (docscrape.ClassDoc(obj, config={"show_class_members": False})
              if inspect.isclass(obj) else docscrape.FunctionDoc(obj))
    out = []
    for param in parsed["Parameters"]:
        if not param.type:
            out.append(f"{qualname}: parameter {param.name!r} has no type line")
        elif not param.desc:
            out.append(f"{qualname}: parameter {param.name!r} has no description")
    for section in ("Returns", "Attributes"):
        for entry in parsed[section]:
            if not entry.type and section == "Attributes":
                out.append(f"{qualname}: attribute {entry.name!r} has no type")
    return out


def test_public_docstrings_follow_numpydoc():
    problems = [p for qualname, obj in _public_objects() for p in _problems(qualname, obj)]
    assert not problems, f"{len(problems)} docstring problems:\n" + "\n".join(problems)
