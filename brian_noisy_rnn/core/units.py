"""Conversion of Brian2 time quantities, checked, to plain floats in seconds."""

import numpy as np


def to_seconds(value, name, *, allow_none=False):
    """Return a Brian2 time quantity as a positive float in seconds.

    Parameters
    ----------
    value : brian2.Quantity with dimension of time (e.g. ``100*ms``), or None if allowed.
    name : str
        Argument name used in error messages.

    Raises
    ------
    TypeError
        If ``value`` is not a Brian2 quantity with the dimension of time.
    ValueError
        If it is not a finite, strictly positive scalar.
    """
    from brian2 import Quantity, second
    from brian2.units.fundamentalunits import get_dimensions

    if value is None and allow_none:
        return None
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
    """Return a float number of seconds as a Brian2 quantity (displayed in ms)."""
    from brian2 import second

    return float(seconds) * second


def check_time_constants(tau, dt):
    """Validate a CTRNN's ``tau`` and ``dt`` (Brian2 times, dt < tau); return both in seconds."""
    tau_s = to_seconds(tau, "tau")
    dt_s = to_seconds(dt, "dt")
    if dt_s >= tau_s:
        raise ValueError(f"dt ({dt}) must be smaller than tau ({tau})")
    return tau_s, dt_s
