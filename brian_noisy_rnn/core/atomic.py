"""Atomic file writes: a file appears complete at its path or not at all."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, *, prefix=".tmp-", suffix=""):
    """Context manager yielding a binary file object whose contents replace ``path`` on exit.

    The data go to a temporary file in the same folder, are flushed and fsync'ed, and the
    file is renamed over ``path`` (``os.replace``). An exception or interrupt inside the
    block (or during the rename) removes the temporary file and leaves ``path`` as it was.
    Missing parent folders are created.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
