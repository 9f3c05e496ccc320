"""Output files: atomic writes with normal permissions, and checks made before long work.

Rules every file this package writes follows:

- A file appears complete at its path or not at all (:func:`atomic_write`).
- It gets the mode a plain ``open(path, "w")`` would give: ``0o666`` minus the umask for a
  new file, the existing file's mode when it replaces one.
- Only regular files are replaced. A symlink is *written through*: its target is replaced,
  the link stays. A directory, device, FIFO or socket at the path is refused (ValueError),
  and so is a read-only file (PermissionError): nothing the user did not ask to replace is.
- Outputs are checked (:func:`check_writable`) before long computations, and two outputs of
  one command never go to the same file (:func:`check_distinct`).
"""

import contextlib
import os
import stat
import tempfile

__all__ = ["atomic_write", "check_distinct", "check_writable", "checked_output_files",
           "current_umask", "resolve_output"]


def current_umask():
    """The process's umask (int), read without changing it where the OS allows.

    Returns
    -------
    int
        The umask, e.g. ``0o022``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - not on Linux
    os.umask(mask)
    return mask


def resolve_output(path, name="path"):
    """The file an output to ``path`` writes: ``path``, or a symlink's final target.

    Parameters
    ----------
    path : str or os.PathLike
        The output path (may be a symlink).
    name : str
        The argument or flag named in error messages.

    Returns
    -------
    str
        The absolute path of the regular file that will be (re)placed.

    Raises
    ------
    ValueError
        If something other than a regular file (a directory, device, FIFO, socket) is at
        the path or at the end of its symlinks.
    """
    path = os.path.abspath(os.fspath(path))
    real = os.path.realpath(path) if os.path.islink(path) else path
    if os.path.lexists(real):
        mode = os.stat(real).st_mode if os.path.exists(real) else None
        if mode is not None and not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise ValueError(f"{name}: {path!r} is {kind}; refusing to replace it "
                             "(give the name of a file to write)")
    return real


def _writable(path):
    # read-only by its mode bits counts as read-only also for root, who may write anyway
    mode = os.stat(path).st_mode
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def check_writable(path, name="path"):
    """Check, before long work, that an output can be written at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The output path (may be a symlink).
    name : str
        The argument or flag named in error messages.

    Returns
    -------
    str
        The resolved output path (see :func:`resolve_output`).

    Raises
    ------
    ValueError
        If the path holds a directory or another non-regular file, or a parent is a file.
    PermissionError
        If an existing file is read-only or its folder (or the nearest existing ancestor)
        does not allow creating files.
    """
    real = resolve_output(path, name)
    if os.path.exists(real) and not _writable(real):
        raise PermissionError(f"{name}: {real!r} is read-only; refusing to replace it")
    folder = os.path.dirname(real)
    while not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: cannot create {real!r}: {folder!r} is not a directory")
    if not _writable(folder):
        raise PermissionError(f"{name}: cannot write {real!r}: folder {folder!r} is not writable")
    return real


def check_distinct(outputs):
    """Raise ValueError if two outputs resolve to the same file.

    Parameters
    ----------
    outputs : dict of str to str, os.PathLike or None
        Output name (the argument or flag named in the error) -> path; None entries are
        skipped.
    """
    seen = {}
    for name, path in outputs.items():
        if path is None:
            continue
        real = os.path.realpath(os.fspath(path))
        if real in seen:
            raise ValueError(f"{seen[real]} and {name} name the same file {real!r}; "
                             "give them different paths")
        seen[real] = name



def checked_output_files(out_dir, file_names, name="out_dir"):
    """The paths of the files a run writes into ``out_dir``, each checked before long work.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The output folder (need not exist yet).
    file_names : mapping of str to str
        Key -> file name inside ``out_dir``.
    name : str
        The argument or flag named in error messages.

    Returns
    -------
    dict of str to str
        Key -> absolute path, in the order of ``file_names``.

    Raises
    ------
    ValueError, PermissionError
        As :func:`check_writable`, for the first path that cannot be written; ValueError
        also for a symlink in ``out_dir`` that leads outside it (the user named the folder,
        not the file the link points to, so it is not written through).
    """
    out_dir = os.path.abspath(os.fspath(out_dir))
    files = {key: os.path.join(out_dir, file) for key, file in file_names.items()}
    inside = os.path.realpath(out_dir)
    for path in files.values():
        real = check_writable(path, name)
        if os.path.islink(path) and os.path.commonpath([inside, real]) != inside:
            raise ValueError(f"{name}: {path!r} is a symlink to {real!r}, outside {out_dir!r}; "
                             "refusing to write through it (remove the link or choose "
                             "another folder)")
    return files

@contextlib.contextmanager
def atomic_write(path, *, prefix=".tmp-", suffix="", name="path"):
    """Context manager yielding a binary file object whose contents replace ``path`` on exit.

    The data go to a temporary file in the same folder, are flushed and fsync'ed, and the
    file is renamed over ``path`` (``os.replace``). An exception or interrupt inside the
    block (or during the rename) removes the temporary file and leaves ``path`` as it was.
    Missing parent folders are created.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (a symlink is written through).
    prefix : str
        Prefix of the temporary file's name.
    suffix : str
        Suffix of the temporary file's name.
    name : str
        The argument or flag named in error messages.

    Yields
    ------
    file object
        A binary file object open for writing.

    Notes
    -----
    The file gets the existing file's mode, or ``0o666`` minus the umask for a new file. A
    symlink at ``path`` is written through (its target is replaced, the link kept). A
    directory or other non-regular file (ValueError) and a read-only file
    (PermissionError) are refused before anything is written.
    """
    real = check_writable(path, name)
    folder = os.path.dirname(real)
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(real):
        mode = stat.S_IMODE(os.stat(real).st_mode)
    else:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
