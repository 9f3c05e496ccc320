"""The caller's random state is the caller's: save and restore numpy's and Brian2's generators.

The ``"brian2"`` backend seeds Brian2 (``brian2.seed(seed)``) right before its run, so that
its ``randn()`` stream equals ``np.random.RandomState(seed).randn`` and the backends agree
bit for bit with noise on. Brian2's runtime generator *is* numpy's global ``RandomState``
(numpy target), plus, on the cython target, two buffers of 20000 pre-drawn numbers that the
generated code fills from it (``rand()`` and ``randn()``, each with a read index). Every
public helper that simulates (``simulate``, ``evaluate``, ``noise_preference``, the analysis,
the experiments) runs inside :func:`caller_random_state`, which puts all of that back as it
found it, also when the helper raises. A :class:`~brian_noisy_rnn.RateCTRNN` used directly
is an ordinary Brian2 object and draws from Brian2's generator as any group does.

Up to Brian2 2.10, ``RuntimeDevice.get_random_state`` / ``set_random_state`` save and restore
the numpy state and the buffers' *addresses*; after a cython run that refilled a buffer, the
saved address points to freed memory (the next refill would free it again). So there numpy's
state is saved with ``np.random.get_state`` and the buffers are restored by *content*, copied
into the buffer that is current at the end. From Brian2 2.11 on the device owns the buffers
(float64 arrays) and its own ``get_random_state`` / ``set_random_state`` store their contents:
they are used as they are.
"""

import contextlib
import ctypes
import functools
import sys

import numpy as np

__all__ = ["caller_random_state", "keeps_random_state"]

_BUFFERS = ("rand", "randn")


def _runtime_device():
    """Brian2's runtime device, or None if Brian2 has not been imported."""
    if "brian2" not in sys.modules:
        return None
    from brian2.devices.device import runtime_device

    return runtime_device


def _buffer_size():
    from brian2.codegen.generators import cython_generator

    return int(getattr(cython_generator, "_BUFFER_SIZE", 20000))


def _owns_buffers(device):
    """True if the device holds the cython buffers as float64 arrays (Brian2 >= 2.11), whose
    contents its own ``get_random_state`` stores; False for pointer buffers (older Brian2)."""
    buffer = getattr(device, "rand_buffer", None)
    return isinstance(buffer, np.ndarray) and buffer.dtype == np.float64 and buffer.size > 1


def _save_buffers(device):
    """``{kind: (index, contents or None)}`` of the cython target's pre-drawn numbers."""
    if _owns_buffers(device):
        return device.get_random_state()
    saved = {}
    for kind in _BUFFERS:
        index = int(getattr(device, f"{kind}_buffer_index")[0])
        address = int(getattr(device, f"{kind}_buffer")[0])
        contents = None
        if index != 0 and address != 0:  # numbers left to read: keep them
            view = (ctypes.c_double * _buffer_size()).from_address(address)
            contents = np.frombuffer(view, dtype=np.float64).copy()
        saved[kind] = (index, contents)
    return saved


def _restore_buffers(device, saved):
    if _owns_buffers(device):
        if saved is not None:
            device.set_random_state(saved)
        else:  # Brian2 imported inside the block: its buffers as on import (refilled on use)
            for kind in _BUFFERS:
                getattr(device, f"{kind}_buffer_index")[:] = 0
        return
    for kind in _BUFFERS:
        index, contents = saved[kind] if saved is not None else (0, None)
        address = int(getattr(device, f"{kind}_buffer")[0])
        if contents is not None and address != 0:
            view = (ctypes.c_double * _buffer_size()).from_address(address)
            np.frombuffer(view, dtype=np.float64)[:] = contents
        else:
            index = 0  # the next draw refills the buffer from numpy's (restored) state
        getattr(device, f"{kind}_buffer_index")[:] = index


@contextlib.contextmanager
def caller_random_state():
    """Run a block, then put numpy's global generator and Brian2's back as they were.

    Restores ``np.random.get_state()`` and Brian2's runtime generator (numpy's state and the
    cython target's buffered draws, see the module docstring), also when the block raises.
    If Brian2 was not imported before the block, its buffers are left as on import.

    Yields
    ------
    None
    """
    numpy_state = np.random.get_state()
    device = _runtime_device()
    buffers = _save_buffers(device) if device is not None else None
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        device = _runtime_device()
        if device is not None:
            _restore_buffers(device, buffers)


def keeps_random_state(function):
    """Decorator: ``function`` runs inside :func:`caller_random_state`.

    Parameters
    ----------
    function : callable
        The function to wrap.

    Returns
    -------
    callable
        Same signature and docstring; numpy's and Brian2's random states are unchanged by
        a call, whether it returns or raises.
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with caller_random_state():
            return function(*args, **kwargs)

    return wrapper
