"""What a run checks about its machine and its results: the memory available for new
allocations, and the warning for results that are NaN or inf.

Kept in the core so that every backend (and the Brian2 objects, which the simulation
front end imports) can use them without an import cycle;
:mod:`brian_noisy_rnn.backends.simulation` re-exports both.
"""

__all__ = ["NonFiniteResultWarning", "available_memory"]


class NonFiniteResultWarning(RuntimeWarning):
    """A simulation or evaluation produced NaN or inf; the message names the run."""


def available_memory():
    """Bytes of memory available to new allocations (``MemAvailable``), or None if unknown.

    Returns
    -------
    int or None
        Bytes, read from ``/proc/meminfo``.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
