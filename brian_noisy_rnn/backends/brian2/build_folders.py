"""Where standalone projects are built: folders the package owns, and the build cache.

Brian2 compiles a cpp_standalone project by writing sources into a folder and running a
plain ``make`` there. A folder is therefore only used when the package created it or owns it
(:func:`claim_build_folder`: new, empty, or holding the marker file :data:`MARKER` the package
wrote), and never when it holds a ``GNUmakefile`` or ``Makefile`` (which ``make`` would run
instead of or beside Brian2's own ``makefile``).

The build cache (:func:`cache_entry`) keeps one compiled project per structure (a key: a
JSON-serialisable dict of everything compiled into the binary) under
:func:`build_cache_root`. An entry is built in a private folder beside the cache and renamed
into place when complete (``os.rename`` of a folder is atomic), under a per-key file lock so
that concurrent processes build it once; entries are never written afterwards, so processes
can run them concurrently. Each entry's manifest lists the SHA-256 of every file in it: an
entry whose files do not match is deleted and rebuilt. The cache holds at most
:func:`max_entries` entries (the least recently used are deleted) and is emptied by
:func:`clear_build_cache`.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid

__all__ = ["CACHE_ENV", "ENTRIES_ENV", "MANIFEST", "MARKER", "build_cache_root", "cache_entry",
           "check_build_folder", "claim_build_folder", "clear_build_cache", "key_digest",
           "max_entries", "read_manifest", "write_manifest"]

#: the file that marks a folder as created by this package for builds
MARKER = ".brian_noisy_rnn_build"
#: the file that describes a finished build (written last)
MANIFEST = "brian_noisy_rnn_manifest.json"
#: environment variable: the build cache's folder
CACHE_ENV = "BRIAN_NOISY_RNN_BUILD_CACHE"
#: environment variable: the maximal number of cached builds (default 32)
ENTRIES_ENV = "BRIAN_NOISY_RNN_BUILD_CACHE_ENTRIES"
_MAKEFILES = ("GNUmakefile", "Makefile")
_FORMAT = 1


def build_cache_root():
    """The build cache's folder (not created here).

    Returns
    -------
    str
        ``$BRIAN_NOISY_RNN_BUILD_CACHE`` if set, else
        ``$XDG_CACHE_HOME/brian_noisy_rnn/standalone`` (default ``~/.cache/...``).
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        return os.path.abspath(os.path.expanduser(root))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "brian_noisy_rnn", "standalone")


def max_entries():
    """The maximal number of cached builds: ``$BRIAN_NOISY_RNN_BUILD_CACHE_ENTRIES`` or 32."""
    value = os.environ.get(ENTRIES_ENV, "32")
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENTRIES_ENV} must be an integer >= 1, got {value!r}")
    return n


def check_build_folder(path, name="directory"):
    """Raise unless ``path`` may be built in (see :func:`claim_build_folder`); change nothing.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.
    name : str
        The argument or key named in error messages.

    Returns
    -------
    str
        The absolute path.

    Raises
    ------
    ValueError
        If ``path`` is not a folder, is a non-empty folder without the marker file, or holds
        a ``GNUmakefile`` or ``Makefile``.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.lexists(path):
        return path
    if not os.path.isdir(path):
        raise ValueError(f"{name} must be a folder to build in, but {path!r} is a file")
    entries = os.listdir(path)
    planted = [f for f in _MAKEFILES if f in entries]
    if planted:
        raise ValueError(f"{name} {path!r} holds {planted[0]!r}, which Brian2's 'make' would "
                         "run: this package builds only in folders it created; choose a new "
                         "or empty folder")
    if entries and MARKER not in entries:
        shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(f"{name} {path!r} is not empty ({shown}) and was not created by "
                         f"brian_noisy_rnn (no {MARKER} file): building there would overwrite "
                         "its files; choose a new or empty folder")
    return path


def claim_build_folder(path, name="directory"):
    """Create or take over ``path`` as a build folder, after :func:`check_build_folder`.

    A missing folder is created (with its parents) and an empty one is taken over; both get
    the marker file. A folder with the marker is used as it is.

    Parameters
    ----------
    path : str or os.PathLike
        The folder.
    name : str
        The argument or key named in error messages.

    Returns
    -------
    str
        The absolute path.
    """
    path = check_build_folder(path, name)
    os.makedirs(path, exist_ok=True)
    marker = os.path.join(path, MARKER)
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write("a Brian2 standalone build folder of brian_noisy_rnn\n")
    return path


def key_digest(key):
    """The SHA-256 (hex) of ``key`` (a JSON-serialisable dict), the name of its entry."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _file_hashes(folder):
    hashes = {}
    for parent, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(parent, f)
            rel = os.path.relpath(path, folder)
            if rel in (MANIFEST, MARKER):
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            hashes[rel] = digest.hexdigest()
    return hashes


def write_manifest(folder, key, content):
    """Write ``folder``'s manifest: ``key``, ``content`` and the hash of every file in it.

    Parameters
    ----------
    folder : str
        A finished build (nothing is written to it afterwards).
    key : dict
        The build's key (JSON-serialisable).
    content : dict
        What a run needs to know (JSON-serialisable).
    """
    manifest = {"format": _FORMAT, "key": key, "content": content,
                "files": _file_hashes(folder)}
    path = os.path.join(folder, MANIFEST)
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, sort_keys=True)
    os.replace(path + ".tmp", path)


def read_manifest(folder, key):
    """The ``content`` of ``folder``'s manifest if it is a complete, intact build of ``key``.

    Parameters
    ----------
    folder : str
        A build folder.
    key : dict
        The expected key.

    Returns
    -------
    dict or None
        None if the manifest is missing, unreadable, of another format or key, or if any
        file listed in it is missing or changed (or a file was added).
    """
    try:
        with open(os.path.join(folder, MANIFEST)) as f:
            manifest = json.load(f)
        if manifest.get("format") != _FORMAT or manifest.get("key") != key:
            return None
        if _file_hashes(folder) != manifest["files"]:
            return None
        return manifest["content"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _remove(folder):
    """Rename ``folder`` out of the way (atomic for readers), then delete it."""
    trash = os.path.join(os.path.dirname(folder), f".trash-{uuid.uuid4().hex}")
    with contextlib.suppress(FileNotFoundError):
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _lock(root, digest):
    from filelock import FileLock  # a requirement of Brian2

    return FileLock(os.path.join(root, f".{digest}.lock"))


def cache_entry(key, build):
    """The cached build of ``key``, building it with ``build(folder)`` if needed.

    Parameters
    ----------
    key : dict
        JSON-serialisable description of everything compiled into the project.
    build : callable
        ``build(folder) -> content``: builds the project in the new, empty ``folder`` (may
        delete files a run does not need) and returns the manifest content (a dict).

    Returns
    -------
    folder : str
        The entry (read-only by convention: runs write elsewhere).
    content : dict
        The manifest content.
    built : bool
        True if this call built the entry.
    """
    root = build_cache_root()
    os.makedirs(root, exist_ok=True)
    digest = key_digest(key)
    folder = os.path.join(root, digest)
    content = read_manifest(folder, key)
    if content is not None:
        _touch(folder)
        return folder, content, False
    with _lock(root, digest):
        content = read_manifest(folder, key)  # built by another process meanwhile?
        if content is not None:
            _touch(folder)
            return folder, content, False
        if os.path.lexists(folder):  # incomplete or corrupted: never used
            _remove(folder)
        staging = tempfile.mkdtemp(prefix=".build-", dir=root)
        try:
            content = build(staging)
            write_manifest(staging, key, content)
            os.rename(staging, folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _evict(root, keep=folder)
    return folder, content, True


def _touch(folder):
    with contextlib.suppress(OSError):
        os.utime(folder)


def _evict(root, keep):
    """Delete the least recently used entries beyond :func:`max_entries`."""
    entries = []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if len(name) == 64 and os.path.isdir(path) and path != keep:
            with contextlib.suppress(OSError):
                entries.append((os.stat(path).st_mtime, path))
    entries.sort()
    for _, path in entries[: max(0, len(entries) + 1 - max_entries())]:
        _remove(path)


def clear_build_cache():
    """Delete every cached standalone build (see :func:`~brian_noisy_rnn.StandaloneSimulator`).

    Builds in progress in other processes are not disturbed (they are renamed into the
    cache when done); leftovers of interrupted builds older than an hour are deleted.

    Returns
    -------
    int
        The number of builds deleted.
    """
    root = build_cache_root()
    if not os.path.isdir(root):
        return 0
    count = 0
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if len(name) == 64 and os.path.isdir(path):
            _remove(path)
            count += 1
        elif name.startswith((".build-", ".trash-")) and os.path.isdir(path):
            with contextlib.suppress(OSError):
                if time.time() - os.stat(path).st_mtime > 3600:
                    shutil.rmtree(path, ignore_errors=True)
    return count
