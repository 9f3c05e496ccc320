"""Lazy attributes for packages: heavy submodules are imported on first access (PEP 562)."""

from importlib import import_module

__all__ = ["lazy_attributes"]


def lazy_attributes(package, mapping, namespace, submodules=()):
    """Return ``(__getattr__, __dir__)`` for ``package`` resolving names lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    mapping : dict
        Public name -> relative module that defines it (e.g. ``".training"``).
    namespace : dict
        The package's ``globals()``; a resolved name is cached there.
    submodules : sequence of str
        Names of subpackages or modules returned themselves (``package.tasks``).

    Returns
    -------
    (__getattr__, __dir__) : functions to assign in the package's ``__init__``.
    """

    def __getattr__(name):
        if name in mapping:
            value = getattr(import_module(mapping[name], package), name)
        elif name in submodules:
            value = import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(mapping) | set(submodules))

    return __getattr__, __dir__
