"""Strict JSON output for ``--json``: NaN and infinities become ``null``."""

import json
import math

import numpy as np


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def json_dumps(obj, **kwargs):
    """``json.dumps`` of ``obj`` with NaN / inf as ``null`` and numpy scalars as numbers.

    Parameters
    ----------
    obj : JSON-like object
        Dicts, lists, numbers, strings, numpy scalars and arrays.
    **kwargs : keyword arguments
        Passed to :func:`json.dumps`.

    Returns
    -------
    str
        Valid JSON (``allow_nan=False``: never ``NaN``).
    """
    return json.dumps(_clean(obj), allow_nan=False, **kwargs)
