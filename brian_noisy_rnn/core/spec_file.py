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
import re
import zipfile
from collections.abc import Mapping

import numpy as np

from .atomic import atomic_write

__all__ = ["MAX_JSON_DEPTH", "MAX_SPEC_BYTES", "MAX_SPEC_MEMBERS", "content_hash", "load_spec_file",
           "save_spec_file"]


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


#: The most bytes of array data a spec file may declare (the sum of its members' uncompressed
#: sizes, checked in the zip directory before anything is read): 512 MiB, e.g. a float64
#: recurrent matrix of 8192 x 8192 units. A larger declaration is refused as a zip bomb.
MAX_SPEC_BYTES = 512 * 2**20

#: The most members a spec file may hold.
MAX_SPEC_MEMBERS = 1024

#: The deepest nesting of the JSON header (objects and lists inside each other).
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


def _unique_keys(pairs):
    """``object_pairs_hook`` for :func:`json.loads` that refuses a key given twice."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one JSON object")
        out[key] = value
    return out


def _json_depth(text):
    """The deepest nesting of brackets in JSON ``text`` (outside strings)."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _parse_header(text, where):
    """The JSON header of a spec file as a dict (ValueError naming ``where``)."""
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{where}: the JSON header nests {depth} levels deep "
                         f"(at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def _checked_members(zf, label, file_size):
    """The zip directory of a spec file as ``{array name: ZipInfo}``, checked before any
    member is read: every member once, a ``.npy`` name, stored or deflated, not encrypted,
    within the file (stored members) and within :data:`MAX_SPEC_BYTES` in total."""
    infos = zf.infolist()
    if len(infos) > MAX_SPEC_MEMBERS:
        raise ValueError(f"{label} has {len(infos)} members (at most {MAX_SPEC_MEMBERS})")
    members, total = {}, 0
    for info in infos:
        where = f"{label}, member {info.filename!r}"
        if not info.filename.endswith(".npy"):
            raise ValueError(f"{where}: not a .npy array")
        name = info.filename[:-4]
        if name in members:
            raise ValueError(f"{where} appears twice in the archive")
        if info.flag_bits & 0x1:
            raise ValueError(f"{where} is encrypted")
        if info.compress_type not in _METHODS:
            raise ValueError(f"{where} uses zip compression method {info.compress_type}; "
                             f"spec files use {sorted(_METHODS.values())}")
        if info.compress_size > file_size or (info.compress_type == zipfile.ZIP_STORED
                                              and info.file_size != info.compress_size):
            raise ValueError(f"{where} declares {info.file_size} bytes, more than the file holds")
        total += info.file_size
        if total > MAX_SPEC_BYTES:
            raise ValueError(f"{where}: the members declare more than MAX_SPEC_BYTES = "
                             f"{MAX_SPEC_BYTES} bytes of arrays in total; refusing to read them")
        members[name] = info
    return members


def _read_member(zf, info, where):
    """One ``.npy`` member, its header checked against its declared size before the data
    is read (no pickle)."""
    fmt = np.lib.format
    with zf.open(info) as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"{where}: .npy format version {version} is not supported")
        if dtype.hasobject:
            raise ValueError(f"{where} holds Python objects (dtype {dtype}); no pickle is loaded")
        count = 1
        for n in shape:
            count *= int(n)
        if count * dtype.itemsize > info.file_size:
            raise ValueError(f"{where} declares shape {shape} of {dtype}, larger than the member")
        data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"{where} is truncated")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def load_spec_file(path: str | os.PathLike, file_format: str, version: int,
                   kind: str, allowed=None) -> tuple[dict, dict]:
    """Read a file written by :func:`save_spec_file` and check its format and version.

    The archive is checked before any array is read: each member once, no unknown members,
    stored or deflated (not encrypted), a JSON header without repeated keys and at most
    :data:`MAX_JSON_DEPTH` levels deep, and at most :data:`MAX_SPEC_BYTES` of declared
    array data (a zip bomb is refused unread).

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    file_format : str
        The ``meta["format"]`` the file must have.
    version : int
        The ``meta["version"]`` the file must have (an int, never a bool).
    kind : str
        The class name used in error messages (e.g. ``"CTRNNSpec"``).
    allowed : collection of str, or callable(meta) -> collection of str, or None
        The array names the file may hold besides ``meta`` (a callable gets the header);
        None: any.

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
        If it is truncated or corrupt, not an ``.npz`` archive, not a ``kind`` file, of
        another version, or fails a check above (the message names the file and the member
        or key).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike naming a {kind} file, "
                        f"got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no spec file at {path!r}")
    label = f"path: {path!r}"
    try:
        if not zipfile.is_zipfile(path):
            raise ValueError("it is not an .npz archive")
        with zipfile.ZipFile(path) as zf:
            members = _checked_members(zf, label, os.path.getsize(path))
            if "meta" not in members:
                raise ValueError(f"{label} is not a {kind} file (no member 'meta.npy')")
            header = _read_member(zf, members["meta"], f"{label}, member 'meta.npy'")
            if header.dtype.kind not in "US" or header.shape != ():
                raise ValueError(f"{label}, member 'meta.npy' is not a JSON string")
            meta = _parse_header(str(header[()]), f"{label}, member 'meta.npy'")
            if not isinstance(meta, dict) or meta.get("format") != file_format:
                raise ValueError(f"{label} is not a {kind} file")
            found = meta.get("version")
            if isinstance(found, bool) or not isinstance(found, int) or found != version:
                raise ValueError(f"{label} has format version {found!r} (key 'version'); "
                                 f"this brian-noisy-rnn reads version {version} (an integer)")
            if allowed is not None:
                names = set(allowed(meta) if callable(allowed) else allowed)
                unknown = sorted(set(members) - names - {"meta"})
                if unknown:
                    raise ValueError(f"{label} holds unknown members "
                                     f"{[n + '.npy' for n in unknown]}; a {kind} file holds "
                                     f"{sorted(n + '.npy' for n in names)}")
            arrays = {name: _read_member(zf, info, f"{label}, member {info.filename!r}")
                      for name, info in members.items() if name != "meta"}
    except ValueError as err:
        if str(err).startswith("path:"):
            raise
        raise ValueError(f"{label} is not a readable {kind} file ({err})") from err
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, RuntimeError,
            NotImplementedError) as err:
        raise ValueError(f"{label} is not a readable {kind} file ({err})") from err
    return meta, arrays
