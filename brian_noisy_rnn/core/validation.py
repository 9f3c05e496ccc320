"""Argument checks shared across the package: each raises an error naming the argument."""

import numbers
import sys

import numpy as np

from .units import is_quantity, unit_error

_DIMENSIONLESS = "dimensionless (a plain number or a dimensionless Brian2 quantity)"


def _check_elements(value, name):
    """Check the elements of a (nested) list/tuple or an object array one by one.

    numpy turns ``[True, 0.5]`` into floats and ``[0.5, 1*mV]`` into ``[0.5, 0.001]``
    without a word, so mixed sequences are inspected before conversion.
    """
    brian2 = sys.modules.get("brian2")
    if brian2 is not None and isinstance(value, (list, tuple)):
        from brian2.units.fundamentalunits import DimensionMismatchError

        try:
            q = brian2.Quantity(value)
        except DimensionMismatchError as err:  # elements of different units
            raise unit_error(name, value[0] if len(value) else value, _DIMENSIONLESS) from err
        except (TypeError, ValueError):
            pass  # not numeric: reported below
        else:
            if not q.is_dimensionless:
                raise unit_error(name, q, _DIMENSIONLESS)
    try:
        flat = np.array(value, dtype=object).ravel()
    except (TypeError, ValueError):
        return  # ragged: the float conversion reports it
    for v in flat:
        if is_quantity(v) and not v.is_dimensionless:
            raise unit_error(name, v, _DIMENSIONLESS)
        if isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{name} must hold numbers, not booleans (found {v!r})")
        if isinstance(v, (complex, np.complexfloating)):
            raise TypeError(f"{name} must be real: complex values would lose their imaginary "
                            f"part (found {v!r})")
        if not isinstance(v, (numbers.Real, np.number)) and not is_quantity(v):
            raise TypeError(f"{name} must hold numbers, found {type(v).__name__}")


def as_dimensionless(value, name):
    """``value`` as a float64 numpy array, refusing units, booleans and complex numbers.

    The one check behind every dimensionless argument of the package (inputs, sigmas,
    weights, initial states, analysis inputs): plain numbers, arrays, nested lists, torch
    tensors and dimensionless Brian2 quantities pass; anything that would silently change
    meaning on conversion to float is an error naming ``name``.

    Parameters
    ----------
    value : number, array-like, torch tensor or brian2.Quantity
        The argument's value, of any shape.
    name : str
        Argument name, used in error messages.

    Returns
    -------
    numpy.ndarray of float64
        Same shape as ``value`` (0-d for a scalar); not a copy when ``value`` already is a
        float64 array.

    Raises
    ------
    brian2.DimensionMismatchError
        A ``UnitMismatchError`` (also a ValueError and TypeError) if ``value`` is or holds a
        Brian2 quantity with dimensions, e.g. ``0.5*mV``: the message names ``name`` and the
        unit. Brian2 would keep only its value in SI units (0.0005).
    TypeError
        If ``value`` is or holds booleans (True is not the number 1 here), complex numbers
        (their imaginary part would be dropped), strings or other non-numbers.
    """
    if is_quantity(value):
        if not value.is_dimensionless:
            raise unit_error(name, value, _DIMENSIONLESS)
        value = np.asarray(value)
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu()
        if value.is_floating_point():  # also bfloat16 and float8, which numpy cannot hold
            value = value.double()
        value = value.numpy()
    elif isinstance(value, (list, tuple)):
        _check_elements(value, name)
    if value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got None")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, not a boolean ({value!r})")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    if arr.dtype == object:
        _check_elements(arr, name)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must hold numbers, not booleans (dtype {arr.dtype})")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real: complex values would lose their imaginary part "
                        f"(dtype {arr.dtype})")
    if arr.dtype.kind in "USVMm":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")


def check_int(value, name, minimum=1, maximum=None):
    """``value`` as an int with ``minimum <= value`` (and ``value < maximum`` if given).

    Parameters
    ----------
    value : object
        The value to check; bools are rejected.
    name : str
        Argument name used in the error message.
    minimum : int
        Smallest allowed value.
    maximum : int or None
        Exclusive upper bound; None for none.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        Naming ``name``, if ``value`` is not such an int.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value >= maximum):
        bound = f" and < {maximum}" if maximum is not None else ""
        raise ValueError(f"{name} must be an int >= {minimum}{bound}, got {value!r}")
    return int(value)


def check_choice(value, name, allowed):
    """``value`` if it is one of the strings ``allowed``; ValueError naming ``name`` otherwise.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Argument name used in the error message.
    allowed : sequence of str
        The allowed strings.

    Returns
    -------
    str
        ``value`` itself.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def check_inputs(spec, inputs, name="inputs"):
    """Return ``inputs`` as a float64 array (T, B, n_in) or raise a clear error.

    Parameters
    ----------
    spec : CTRNNSpec
        Gives ``n_in``.
    inputs : float array (T, B, n_in)
        Dimensionless inputs: array-like, torch tensor or dimensionless Brian2 quantity
        (see :func:`as_dimensionless`).
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray of float64, shape (T, B, n_in)
        The inputs as a new or the same array.

    Raises
    ------
    brian2.DimensionMismatchError, TypeError, ValueError
        For a quantity with dimensions, booleans or complex numbers (see
        :func:`as_dimensionless`), a wrong shape, NaN or inf; each names ``name``.
    """
    arr = as_dimensionless(inputs, name)
    if arr.ndim != 3 or arr.shape[2] != spec.n_in or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (T, B, n_in={spec.n_in}) with T, B >= 1, "
                         f"got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_metadata(metadata, name="metadata"):
    """``metadata`` as a new dict, or an error naming ``name``: a mapping (None: empty)
    whose content is JSON-serialisable.

    Parameters
    ----------
    metadata : dict or None
        The value to check.
    name : str
        Argument name used in error messages.

    Returns
    -------
    dict
        A shallow copy.

    Raises
    ------
    TypeError
        If it is not a mapping with str keys, or holds something JSON cannot store.
    """
    import json
    from collections.abc import Mapping

    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{name} must be a dict (JSON-serialisable), got "
                        f"{type(metadata).__name__} {metadata!r:.60}")
    bad = [k for k in metadata if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{name} keys must be str, got {bad[0]!r}")
    try:
        json.dumps(dict(metadata))
    except (TypeError, ValueError, RecursionError) as err:
        raise TypeError(f"{name} must be JSON-serialisable: {err}") from err
    return dict(metadata)


def check_seed(seed, name="seed"):
    """Return ``seed`` if it is None or an int in [0, 2**32); raise otherwise.

    Parameters
    ----------
    seed : int or None
        The seed to check (TypeError if not an int, ValueError if out of range).
    name : str
        Argument name used in error messages.

    Returns
    -------
    int or None
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2 ** 32:
        raise ValueError(f"{name} must be in [0, 2**32), got {seed}")
    return int(seed)
