"""Brian2 units at the package's boundary: time quantities to seconds, and the error for a
quantity whose dimensions do not belong where it was passed.

Brian2 is imported only when a quantity is seen: a value cannot be a Brian2 quantity unless
Brian2 is loaded, so plain numbers never pay for the import.
"""

import functools
import sys

import numpy as np


def is_quantity(value):
    """True if ``value`` is a Brian2 ``Quantity`` (without importing Brian2 if it is not loaded).

    Parameters
    ----------
    value : object
        Any value.

    Returns
    -------
    bool
    """
    brian2 = sys.modules.get("brian2")
    return brian2 is not None and isinstance(value, brian2.Quantity)


@functools.lru_cache(maxsize=None)
def unit_error_class():
    """The class of :func:`unit_error`'s errors, created on first use (it needs Brian2).

    Returns
    -------
    type
        ``UnitMismatchError``: a subclass of Brian2's ``DimensionMismatchError`` (what a
        Brian2 user catches), of ``ValueError`` (a wrong value) and of ``TypeError`` (this
        package's error for a time argument of the wrong kind), so every existing handler
        catches it.
    """
    from brian2.units.fundamentalunits import DimensionMismatchError

    class UnitMismatchError(DimensionMismatchError, TypeError, ValueError):
        """A Brian2 quantity with the wrong dimensions for an argument of this package."""

    UnitMismatchError.__module__ = __name__
    UnitMismatchError.__qualname__ = "UnitMismatchError"
    return UnitMismatchError


def unit_error(name, value, expected):
    """The error for argument ``name`` given the quantity ``value`` where ``expected`` belongs.

    Parameters
    ----------
    name : str
        Argument name, first word of the message.
    value : brian2.Quantity
        The offending quantity; its unit is named in the message.
    expected : str
        What the argument takes, e.g. ``"dimensionless (a plain number)"``.

    Returns
    -------
    UnitMismatchError
        The error (see :func:`unit_error_class`), with Brian2's ``dim`` of ``value``; str()
        reads ``"<name> must be <expected>, got <value> (unit is <unit>)."``.
    """
    from brian2.units.fundamentalunits import get_dimensions

    shown = value if np.size(value) <= 6 else f"an array of shape {np.shape(value)}"
    return unit_error_class()(f"{name} must be {expected}, got {shown}", get_dimensions(value))


def to_seconds(value, name, *, allow_none=False):
    """Return a Brian2 time quantity as a positive float in seconds.

    Parameters
    ----------
    value : brian2.Quantity
        With the dimension of time (e.g. ``100*ms``), or None if ``allow_none``.
    name : str
        Argument name used in error messages.
    allow_none : bool
        Accept None (returned unchanged).

    Returns
    -------
    float or None
        The time in seconds.

    Raises
    ------
    UnitMismatchError
        (a ``DimensionMismatchError`` and a ``TypeError``) if ``value`` is a quantity of
        another dimension, e.g. ``5*mV``.
    TypeError
        If ``value`` is not a Brian2 quantity (a plain number has no unit).
    ValueError
        If it is not a finite, strictly positive scalar.
    """
    from brian2 import Quantity, second
    from brian2.units.fundamentalunits import get_dimensions

    if value is None and allow_none:
        return None
    if isinstance(value, Quantity) and get_dimensions(value) != second.dim:
        raise unit_error(name, value, "a Brian2 time quantity such as 100*ms")
    if not isinstance(value, Quantity) or get_dimensions(value) != second.dim:
        raise TypeError(
            f"{name} must be a Brian2 time quantity such as 100*ms, got {value!r} "
            f"({type(value).__name__})"
        )
    seconds = np.asarray(value / second, dtype=float)
    if seconds.ndim != 0:
        raise ValueError(f"{name} must be a scalar time, got shape {seconds.shape}")
    seconds = float(seconds)
    if not np.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a finite positive time, got {value!r}")
    return seconds


def from_seconds(seconds):
    """Return a float number of seconds as a Brian2 quantity (displayed in ms).

    Parameters
    ----------
    seconds : float
        A time in seconds.

    Returns
    -------
    Brian2 time quantity
    """
    from brian2 import second

    return float(seconds) * second


def check_time_constants(tau, dt):
    """Validate a CTRNN's ``tau`` and ``dt`` (Brian2 times, dt <= tau); return both in seconds.

    ``dt == tau`` (``gamma = 1``) is the discrete-time RNN ``h' = f(a)`` (e.g. ``torch.nn.RNN``):
    Brian2's Euler step of ``tau dh/dt = -h + f(a)`` gives exactly that.

    Parameters
    ----------
    tau : Brian2 time quantity
        The time constant.
    dt : Brian2 time quantity
        The time step; ValueError unless 0 < dt <= tau.

    Returns
    -------
    tau_s : float
        tau in seconds.
    dt_s : float
        dt in seconds.
    """
    tau_s = to_seconds(tau, "tau")
    dt_s = to_seconds(dt, "dt")
    if dt_s > tau_s:
        raise ValueError(f"dt ({dt}) must be at most tau ({tau})")
    return tau_s, dt_s
