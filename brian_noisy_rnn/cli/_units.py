"""argparse types for the command line's physical and dimensionless flags.

A time flag (``--dt-ms 20``) takes a number of milliseconds or a number with a Brian2 time
unit (``20ms``, ``20*ms``, ``0.02 second``); a dimensionless flag (``--sigma 0.5``) takes a
plain number. A unit of the wrong dimension (``--dt-ms 20mV``, ``--sigma 0.5mV``) is an
argparse error naming the flag and the unit given, as Brian2's ``DimensionMismatchError``
would; so are non-finite values.
"""

import argparse
import math
import re

_NUMBER_WITH_UNIT = re.compile(
    r"\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*(?P<unit>[A-Za-z]\w*)?\s*")


def _parse(text):
    """``(value, unit)``: a finite float and a Brian2 unit (or None without a unit)."""
    m = _NUMBER_WITH_UNIT.fullmatch(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"expected a finite number (optionally with a unit such as 20ms), got {text!r}")
    value = float(m.group("value"))
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    name = m.group("unit")
    if name is None:
        return value, None
    import brian2.units
    from brian2.units.fundamentalunits import Unit

    unit = brian2.units.second if name == "s" else getattr(brian2.units, name, None)
    if not isinstance(unit, Unit):
        raise argparse.ArgumentTypeError(f"{name!r} in {text!r} is not a Brian2 unit "
                                         "(e.g. ms, second)")
    return value, unit


def _shown(text, unit):
    """``'20mV' (unit mV, a quantity in V)``: what was given and its dimension's base unit."""
    from brian2.units.fundamentalunits import get_unit

    return f"{text!r} (unit {unit}, a quantity in {get_unit(unit.dim)})"


def milliseconds(text):
    """argparse type of a time flag: milliseconds (float), from ``"20"`` or ``"20ms"``.

    Parameters
    ----------
    text : str
        A number of ms, or a number with a Brian2 time unit (``20ms``, ``0.02*second``).

    Returns
    -------
    float
        The time in ms.

    Raises
    ------
    argparse.ArgumentTypeError
        For a unit that is not a time (the message names the unit) or a non-number.
    """
    value, unit = _parse(text)
    if unit is None:
        return value
    from brian2 import second

    if unit.dim != second.dim:
        raise argparse.ArgumentTypeError(
            f"expected a time (a number of ms, or e.g. 20ms), got {_shown(text, unit)}")
    return float(value * unit / second) * 1000.0


def dimensionless(text):
    """argparse type of a dimensionless flag (e.g. ``--sigma``): a plain finite float.

    Parameters
    ----------
    text : str
        The flag's value, e.g. ``"0.5"``.

    Returns
    -------
    float
        The value.

    Raises
    ------
    argparse.ArgumentTypeError
        For a number with a unit (the message names the unit) or a non-number.
    """
    value, unit = _parse(text)
    if unit is not None and not unit.is_dimensionless:
        raise argparse.ArgumentTypeError(
            f"expected a dimensionless number, got {_shown(text, unit)}")
    return float(value) if unit is None else float(value * unit)
