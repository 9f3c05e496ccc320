"""One thread per numerical library in processes that run many small cells (no numpy import).

numpy's BLAS (OpenBLAS), MKL and OpenMP read their thread counts from the environment when
they load, so the settings must be in place before numpy or torch is imported: in the
environment of a worker process when it is spawned, or at the start of a command-line run.
At the sizes simulated and trained here (tens to hundreds of units) more threads only
compete: with two OpenBLAS threads the dense recurrence of the Brian2 runtime path (``h @
W.T`` for 1000 trials x 32 units) took 8 ms of CPU per step on a busy 2-core machine instead
of 0.06 ms. Settings the user made are kept.
"""

import contextlib
import os
import sys

__all__ = ["ONE_THREAD_ENV", "one_thread_environment", "prefer_one_thread"]

#: environment variables that limit numpy's BLAS, MKL and OpenMP to one thread
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def one_thread_environment():
    """Set :data:`ONE_THREAD_ENV` (where the user has not) for the block, then restore.

    For spawning worker processes: a child inherits the environment of the moment it starts.
    """
    values = {k: os.environ.get(k, v) for k, v in ONE_THREAD_ENV.items()}
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prefer_one_thread():
    """Set :data:`ONE_THREAD_ENV` (where the user has not) for this process, if numpy and torch
    are not loaded yet (otherwise it would not take effect, and nothing is changed).

    Returns
    -------
    bool
        Whether the settings were applied.
    """
    if "numpy" in sys.modules or "torch" in sys.modules:
        return False
    for k, v in ONE_THREAD_ENV.items():
        os.environ.setdefault(k, v)
    return True
