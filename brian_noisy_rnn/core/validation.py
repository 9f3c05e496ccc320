"""Argument checks shared across the package: each raises an error naming the argument."""

import numbers

import numpy as np


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


def check_inputs(spec, inputs, name="inputs"):
    """Return ``inputs`` as a float64 array (T, B, n_in) or raise a clear error."""
    if hasattr(inputs, "detach"):  # a torch tensor
        inputs = inputs.detach().cpu().numpy()
    try:
        arr = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a float array of shape (T, B, n_in), "
                        f"got {type(inputs).__name__}")
    if arr.ndim != 3 or arr.shape[2] != spec.n_in or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (T, B, n_in={spec.n_in}) with T, B >= 1, "
                         f"got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_seed(seed, name="seed"):
    """Return ``seed`` if it is None or an int in [0, 2**32); raise otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2 ** 32:
        raise ValueError(f"{name} must be in [0, 2**32), got {seed}")
    return int(seed)
