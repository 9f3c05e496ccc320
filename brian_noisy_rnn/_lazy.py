"""Lazy attributes for packages: heavy submodules are imported on first access (PEP 562)."""

from importlib import import_module


def lazy_attributes(package, mapping, namespace):
    """Return ``(__getattr__, __dir__)`` for ``package`` resolving ``mapping``'s names lazily.

    package : str, the package's ``__name__``
    mapping : dict, public name -> relative module name that defines it (e.g. ``".training"``)
    namespace : dict, the package's ``globals()`` (a resolved name is cached there)
    """

    def __getattr__(name):
        if name in mapping:
            value = getattr(import_module(mapping[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(mapping))

    return __getattr__, __dir__
