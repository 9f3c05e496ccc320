"""Settings declared once: a dataclass field that carries its help text, unit and parser kind.

A settings dataclass (:class:`~brian_noisy_rnn.bridges.TrainConfig`,
:class:`~brian_noisy_rnn.evaluation.config.EvalConfig`) declares each setting once with
:func:`setting`: its name, type annotation, default, unit and help text. The command line
(``cli/_arguments.py``: ``add_setting_arguments``) derives each flag's name
(``--`` + the field name with dashes, or the declared ``flag``), default and help from that
declaration instead of re-listing them, so a setting has one spelling in Python and on the
command line.

>>> from dataclasses import dataclass
>>> @dataclass
... class Example:
...     n_trials: int = setting(1000, help="test trials", kind="int1")
>>> setting_info(Example, "n_trials").flag
'--n-trials'
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import MISSING, dataclass

__all__ = ["SettingInfo", "renamed_keyword", "setting", "setting_info", "settings_of"]

# parser kinds the command line knows (cli/_types.py holds one parser per kind)
KINDS = ("int0", "int1", "seed", "float32_pos", "float32", "nonneg_float", "pos_float", "pos_ms",
         "str")


@dataclass(frozen=True)
class SettingInfo:
    """What :func:`setting` declared about one field.

    Attributes
    ----------
    name : str
        The field name (the Python keyword).
    default : object
        The field's default (``dataclasses.MISSING`` if it has none).
    help : str
        One line for ``--help`` and docs, without the default.
    unit : str or None
        The unit of the command-line value (e.g. ``"ms"``); None: dimensionless.
    kind : str
        How the command line parses the value (one of ``KINDS``).
    flag : str
        The command-line flag: ``--`` + the name with dashes, unless declared otherwise
        (e.g. ``--tau-ms`` for a time given in ms).
    """

    name: str
    default: object
    help: str
    unit: str | None
    kind: str
    flag: str


def setting(default=MISSING, *, help: str, kind: str = "str", unit: str | None = None,
            flag: str | None = None, default_factory=MISSING):
    """A dataclass field declaring one setting (use as ``name: type = setting(...)``).

    Parameters
    ----------
    default : object
        The default (omit for a required setting, or give ``default_factory``).
    help : str
        One line of help text, without the default.
    kind : str
        The command-line parser of the value, one of ``KINDS``.
    unit : str or None
        The unit of the command-line value (e.g. ``"ms"``).
    flag : str or None
        The command-line flag; None: ``--`` + the field name with dashes.
    default_factory : callable
        As for :func:`dataclasses.field`.

    Returns
    -------
    dataclasses.Field
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    metadata = {"help": help, "kind": kind, "unit": unit, "flag": flag}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"setting": metadata})


def _info(f):
    meta = f.metadata["setting"]
    default = f.default if f.default_factory is MISSING else f.default_factory()
    return SettingInfo(name=f.name, default=default, help=meta["help"], unit=meta["unit"],
                       kind=meta["kind"], flag=meta["flag"] or "--" + f.name.replace("_", "-"))


def settings_of(cls) -> dict[str, SettingInfo]:
    """The declared settings of a settings dataclass, by field name (fields in order).

    Parameters
    ----------
    cls : dataclass type
        E.g. ``TrainConfig``.

    Returns
    -------
    dict of str to SettingInfo
        Only the fields declared with :func:`setting`.
    """
    return {f.name: _info(f) for f in dataclasses.fields(cls) if "setting" in f.metadata}


def setting_info(cls, name: str) -> SettingInfo:
    """One declared setting of ``cls``.

    Parameters
    ----------
    cls : dataclass type
        E.g. ``TrainConfig``.
    name : str
        The field name.

    Returns
    -------
    SettingInfo

    Raises
    ------
    KeyError
        Naming the field if ``cls`` does not declare it with :func:`setting`.
    """
    found = settings_of(cls)
    if name not in found:
        raise KeyError(f"{cls.__name__} declares no setting {name!r}; it has {sorted(found)}")
    return found[name]


def renamed_keyword(function: str, old: str, new: str, old_value, new_value, *, unset=None):
    """The value of a keyword renamed to ``new``, accepting ``old`` for one release with a warning.

    Parameters
    ----------
    function : str
        The function's name, for the messages.
    old, new : str
        The deprecated and the current keyword.
    old_value, new_value : object
        What the caller passed for each (``unset`` if not passed).
    unset : object
        The value meaning "not passed" (default None).

    Returns
    -------
    object
        ``new_value``, or ``old_value`` (with a DeprecationWarning naming ``new``) if only
        the old keyword was given.

    Raises
    ------
    TypeError
        If both keywords were given.
    """
    if old_value is unset:
        return new_value
    if new_value is not unset:
        raise TypeError(f"{function}() got both {new}= and its deprecated spelling {old}=; "
                        f"give {new}= only")
    warnings.warn(f"{function}({old}=...) is deprecated and will be removed in the next "
                  f"release; use {new}=", DeprecationWarning, stacklevel=3)
    return old_value
