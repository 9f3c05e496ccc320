"""Reading other toolkits' files safely, and recording where an imported network came from.

Every importer reads its file through these helpers, so every source refuses the same
hostile input the same way: a PyTorch file is loaded with ``weights_only=True`` (no
pickled Python object is ever executed) unless the caller says it trusts the file; an
``.npz`` archive without pickle; a missing key, a wrong shape, a non-numeric or NaN/inf
array is a ``ValueError`` naming the key; a value the file does not hold (dt, tau, the
noise) is a ``ValueError`` naming the argument the caller must give.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import zipfile
from collections.abc import Mapping

import numpy as np

from ..core.units import to_seconds

__all__ = ["array_from", "check_source_file", "file_sha256", "import_record", "load_mat_file",
           "load_npz_file", "load_torch_file", "required", "scalar_from", "seconds_or_none"]


def check_source_file(path, name="path"):
    """``path`` as a str if it names an existing regular file; raise naming ``name`` otherwise.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    name : str
        Argument name used in the error message.

    Returns
    -------
    str
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no file at {path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"{name}: {path!r} is not a regular file")
    return path


def file_sha256(path):
    """SHA-256 hex digest of the file at ``path`` (64 hexadecimal digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_torch_file(path, trust=False):
    """Read a ``torch.save`` file; pickled Python objects only if ``trust`` is True.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    trust : bool
        False (default): ``torch.load(..., weights_only=True)``, which refuses any pickled
        object other than tensors and plain containers (a file with, e.g., numpy arrays in
        nn4n's ``kwargs`` is refused with a ValueError saying so). True: a full unpickling,
        which can run code from the file: only for files you trust.

    Returns
    -------
    object
        What the file holds (on the CPU).
    """
    import torch

    path = check_source_file(path)
    if not isinstance(trust, bool):
        raise TypeError(f"trust must be True or False, got {trust!r}")
    with open(path, "rb") as f:
        head = f.read(2)
    if not zipfile.is_zipfile(path) and head[:1] != b"\x80":  # neither format torch.save writes
        raise ValueError(f"path: {path!r} is not a readable PyTorch file (neither a zip "
                         "archive nor a pickle)")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        what = f"e.g. {found.group(1)}" if found else str(err).strip().splitlines()[-1][:200]
        raise ValueError(
            f"path: {path!r} holds pickled Python objects that a weights-only load refuses "
            f"({what}); unpickling can run code from the file: pass trust=True (command line: "
            "--trust) only for a file you trust") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"path: {path!r} is not a readable PyTorch file ({err})") from None


def load_npz_file(path):
    """The arrays of a numpy ``.npz`` archive, read without pickle.

    Parameters
    ----------
    path : str or os.PathLike
        The archive.

    Returns
    -------
    dict of str to numpy.ndarray
        Every array that is not a pickled object (those, e.g. PsychRNN's ``dale_ratio``
        when it is None, are left out: no importer needs them).
    """
    path = check_source_file(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"path: {path!r} is not a readable .npz archive ({err})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"path: {path!r} holds a single array, not an .npz archive")
    out = {}
    with data:
        for key in data.files:
            try:
                out[key] = data[key]
            except ValueError:  # an object array: would need pickle
                continue
            except (OSError, zipfile.BadZipFile, EOFError) as err:
                raise ValueError(f"path: {path!r}: array {key!r} cannot be read ({err})") from None
    return out


def load_mat_file(path):
    """The variables of a MATLAB ``.mat`` file (``scipy.io.loadmat``; versions 4 to 7.2).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    dict of str to numpy.ndarray
        The variables (MATLAB's ``__header__`` entries left out).
    """
    import scipy.io

    path = check_source_file(path)
    try:
        data = scipy.io.loadmat(path)
    except NotImplementedError as err:  # v7.3 (HDF5) files
        raise ValueError(f"path: {path!r} is a MATLAB v7.3 file, which scipy cannot read "
                         f"({err}); save it with -v7 in MATLAB") from None
    except (OSError, ValueError, TypeError, EOFError) as err:
        raise ValueError(f"path: {path!r} is not a readable .mat file ({err})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _as_float_array(value, key, where):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if value.is_complex() or str(value.dtype) == "torch.bool":
            raise ValueError(f"{where}: {key!r} must hold real numbers, got dtype {value.dtype}")
        value = value.double().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{where}: {key!r} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def array_from(mapping, key, shape, where):
    """The array ``mapping[key]`` as float64 of ``shape``, or a ValueError naming ``key``.

    Parameters
    ----------
    mapping : mapping of str to array or tensor
        A state dict, an ``.npz`` archive's arrays, a ``.mat`` file's variables.
    key : str
        The entry to read.
    shape : tuple of int or None
        The shape it must have (None: any size along that axis).
    where : str
        How the file is named in messages (e.g. ``"nn4n file 'net.pth'"``).

    Returns
    -------
    float64 numpy.ndarray
        A copy, finite, of ``shape``.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where} must hold a dict of arrays, got {type(mapping).__name__}")
    if key not in mapping:
        keys = sorted(str(k) for k in mapping)
        shown = keys[:12] + (["..."] if len(keys) > 12 else [])
        raise ValueError(f"{where} lacks the key {key!r} (it holds {shown})")
    arr = _as_float_array(mapping[key], key, where)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) \
            + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{where}: {key!r} must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {key!r} contains NaN or inf")
    return arr


def scalar_from(mapping, key, where, default=None):
    """``mapping[key]`` as a finite float (any array of one element), or ``default`` if absent.

    Parameters
    ----------
    mapping : mapping
        Where to look.
    key : str
        The entry.
    where : str
        How the file is named in messages.
    default : float or None
        Returned when ``key`` is absent; None makes it required (ValueError naming it).

    Returns
    -------
    float
    """
    if key not in mapping:
        if default is None:
            raise ValueError(f"{where} lacks the key {key!r}")
        return float(default)
    value = mapping[key]
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError(f"{where}: {key!r} must be a number, got {value!r}")
    arr = _as_float_array(value, key, where)
    if arr.size != 1 or not np.isfinite(arr).all():
        raise ValueError(f"{where}: {key!r} must be one finite number, got {value!r:.80}")
    return float(arr.reshape(()))


def required(value, name, source, why):
    """``value`` unless it is None; then a ValueError naming the argument ``name``.

    Parameters
    ----------
    value : object
        What the caller gave.
    name : str
        The importer's argument (e.g. ``"dt"``).
    source : str
        The toolkit (e.g. ``"PsychRNN"``).
    why : str
        What the caller should pass, e.g. ``"the step of the training, e.g. dt=10*ms"``.

    Returns
    -------
    object
        ``value``.
    """
    if value is None:
        raise ValueError(f"{name} is required: a {source} file does not hold it ({why})")
    return value


def import_record(source, path, conventions, given, from_file, notes=()):
    """The ``metadata["imported"]`` entry of an imported spec.

    Parameters
    ----------
    source : str
        The importer's source name (e.g. ``"psychrnn"``).
    path : str or None
        The file read (None for an in-memory object).
    conventions : dict
        The source's conventions as strings (update, noise, readout, layout).
    given : dict
        Every value the file did not hold that the caller gave (times in seconds).
    from_file : dict
        Settings read from the file (JSON-serialisable).
    notes : sequence of str
        What the import does not carry over, or assumes.

    Returns
    -------
    dict
        JSON-serialisable.
    """
    record = {"source": source, "conventions": dict(conventions),
              "given_by_caller": dict(given), "from_file": dict(from_file),
              "notes": list(notes)}
    if path is not None:
        record["file"] = os.path.abspath(path)
        record["file_sha256"] = file_sha256(path)
    return {"imported": record}


def seconds_or_none(value, name):
    """``value`` (a Brian2 time) in seconds, or None if it is None."""
    return None if value is None else to_seconds(value, name)
