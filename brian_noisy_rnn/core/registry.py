"""A registry of named extension objects (backends, noise processes), as Brian2's ``all_devices``.

A :class:`Registry` is a read-only mapping ``name -> object``; :meth:`Registry.register`
adds an object under its ``name`` attribute. An entry may also be the dotted path of a module
that registers the object when imported (how the built-in backends stay unimported until
first used).
"""

from collections.abc import Mapping
from importlib import import_module

from .validation import check_choice

__all__ = ["Registry"]


class Registry(Mapping):
    """Named objects of one kind: a read-only mapping with ``register`` and ``unregister``.

    Parameters
    ----------
    kind : str
        What an entry is called in error messages (e.g. ``"backend"``).
    base : type
        The class every registered object is an instance of.
    lazy : dict of str to str or None
        name -> dotted path of the module that registers that name when imported.
    """

    def __init__(self, kind, base, lazy=None):
        self.kind, self.base = kind, base
        self._entries = dict(lazy or {})

    def register(self, obj, *, replace=False):
        """Add ``obj`` under ``obj.name``.

        Parameters
        ----------
        obj : object
            An instance of the registry's base class with a non-empty ``name`` (str).
        replace : bool
            Allow replacing another object of the same name.

        Returns
        -------
        object
            ``obj`` itself.

        Raises
        ------
        TypeError
            If ``obj`` is not an instance of the base class.
        ValueError
            If the name is empty or taken by another object (and not ``replace``).
        """
        if not isinstance(obj, self.base):
            raise TypeError(f"{self.kind} must be a {self.base.__module__}.{self.base.__name__}, "
                            f"got {type(obj).__name__}")
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind}.name must be a non-empty str, got {name!r}")
        current = self._entries.get(name)
        if isinstance(current, self.base) and current is not obj and not replace:
            raise ValueError(f"a {self.kind} named {name!r} is already registered ({current!r}); "
                             "pass replace=True to replace it")
        self._entries[name] = obj
        return obj

    def unregister(self, name):
        """Remove the entry ``name``; ValueError naming the registry's kind if there is none.

        Parameters
        ----------
        name : str
            A registered name.
        """
        check_choice(name, self.kind, sorted(self._entries))
        del self._entries[name]

    def lookup(self, name):
        """The object registered as ``name`` (importing its module first if it is lazy).

        Parameters
        ----------
        name : str
            A registered name.

        Returns
        -------
        object

        Raises
        ------
        ValueError
            Naming the kind and the registered names.
        """
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            check_choice(name, self.kind, sorted(self._entries))
        if isinstance(entry, str):
            import_module(entry)  # registers itself
            module, entry = entry, self._entries[name]
            if not isinstance(entry, self.base):
                raise RuntimeError(f"module {module!r} did not register {self.kind} {name!r}")
        return entry

    def __getitem__(self, name):
        if name not in self._entries:
            raise KeyError(name)
        return self.lookup(name)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(list(self._entries))

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"Registry({self.kind!r}, {list(self._entries)})"
