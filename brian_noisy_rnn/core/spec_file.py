"""The file format shared by :class:`~brian_noisy_rnn.CTRNNSpec` and
:class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`: one ``.npz`` archive of plain
arrays plus a JSON header (``meta``) naming the format and its version, written atomically
and read without pickle; and the content hash of such a header and arrays.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_write

__all__ = ["content_hash", "load_spec_file", "save_spec_file"]


def content_hash(meta: dict, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 hex digest of a JSON-serialisable header and named arrays.

    Parameters
    ----------
    meta : dict
        The settings to hash (JSON-serialisable; keys are sorted).
    arrays : mapping of str to numpy.ndarray
        Named arrays, hashed in the mapping's order (name, then the C-ordered bytes).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name, arr in arrays.items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def save_spec_file(path: str | os.PathLike, meta: dict,
                   arrays: Mapping[str, np.ndarray]) -> str:
    """Write ``meta`` (as JSON) and ``arrays`` to one ``.npz`` file, atomically.

    The file is written to a temporary name in the same folder and renamed, so an
    interrupted save never leaves a truncated file at ``path``; it gets the permissions a
    plain ``open()`` would give (see :func:`brian_noisy_rnn.core.atomic.atomic_write`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (conventionally ending in ``.npz``).
    meta : dict
        The JSON-serialisable header, stored as the array ``meta``.
    arrays : mapping of str to numpy.ndarray
        The arrays to store under their names (not ``meta``).

    Returns
    -------
    str
        ``path`` as a str.
    """
    path = os.fspath(path)
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    with atomic_write(path, suffix=".npz", name="path") as f:
        f.write(buf.getvalue())
    return path


def load_spec_file(path: str | os.PathLike, file_format: str, version: int,
                   kind: str) -> tuple[dict, dict]:
    """Read a file written by :func:`save_spec_file` and check its format and version.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    file_format : str
        The ``meta["format"]`` the file must have.
    version : int
        The ``meta["version"]`` the file must have.
    kind : str
        The class name used in error messages (e.g. ``"CTRNNSpec"``).

    Returns
    -------
    meta : dict
        The JSON header.
    arrays : dict of str to numpy.ndarray
        Every other array of the archive.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is truncated or corrupt, not an ``.npz`` archive, not a ``kind`` file, or of
        another version.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no spec file at {path!r}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy array or a text file
            raise ValueError(f"it holds a single {type(data).__name__}, not an .npz archive")
        with data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as err:
        raise ValueError(f"path: {path!r} is not a readable {kind} file ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != file_format:
        raise ValueError(f"path: {path!r} is not a {kind} file")
    if meta.get("version") != version:
        raise ValueError(f"path: {path!r} has format version {meta.get('version')!r}; "
                         f"this brian-noisy-rnn reads version {version}")
    return meta, arrays
