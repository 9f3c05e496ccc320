"""argparse ``type=`` converters that check ranges, so argparse's error names the flag.

A value outside its range gives ``brian-noisy-rnn CMD: error: argument --seed: must be an
integer >= 0, got -1`` and exit code 2, before any work starts.
"""

import argparse

from ._units import dimensionless, milliseconds

# the largest float32: training runs in float32, larger values overflow inside torch
FLOAT32_MAX = 3.4028234663852886e38


def _int(text, minimum, maximum=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < minimum or (maximum is not None and value >= maximum):
        bound = f">= {minimum}" + (f" and < {maximum}" if maximum is not None else "")
        raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {value}")
    return value


def _float(text, *, minimum=None, positive=False, limit=None, time=False):
    # a plain number; a number with a unit of the wrong dimension names the unit
    value = milliseconds(text) if time else dimensionless(text)
    if positive and value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {value:g}")
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(f"must be a number >= {minimum:g}, got {value:g}")
    if limit is not None and abs(value) > limit:
        raise argparse.ArgumentTypeError(f"must have magnitude <= {limit:.3g}, got {value:g}")
    return value


def int0(text):
    """An integer >= 0.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _int(text, 0)


def int1(text):
    """An integer >= 1.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _int(text, 1)


def seed(text):
    """A seed: an integer in [0, 2**32).

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    int

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _int(text, 0, 2 ** 32)


def nonneg_float(text):
    """A finite float >= 0.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text, minimum=0.0)


def pos_float(text):
    """A finite float > 0.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text, positive=True)


def pos_ms(text):
    """A finite time > 0 in ms: a number of ms, or a number with a time unit (``20ms``).

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float
        The time in ms.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text, positive=True, time=True)


def float32_pos(text):
    """A finite float > 0 that float32 training can hold.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text, positive=True, limit=FLOAT32_MAX)


def float32(text):
    """A finite float that float32 training can hold.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text, limit=FLOAT32_MAX)


def finite_float(text):
    """Any finite float.

    Parameters
    ----------
    text : str
        The flag's value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not such a value.
    """
    return _float(text)
