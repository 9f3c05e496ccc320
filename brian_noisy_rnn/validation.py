"""Argument checks shared across the package: each raises an error naming the argument."""

import numbers


def check_int(value, name, minimum=1, maximum=None):
    """``value`` as an int with ``minimum <= value`` (and ``value < maximum`` if given).

    Raises ValueError naming ``name`` otherwise (bools are rejected).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value >= maximum):
        bound = f" and < {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be an int >= {minimum}{bound}, got {value!r}")
    return int(value)


def check_choice(value, name, allowed):
    """``value`` if it is one of the strings ``allowed``; ValueError naming ``name`` otherwise."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value
