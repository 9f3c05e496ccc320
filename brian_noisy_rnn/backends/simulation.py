"""``simulate``: run a :class:`CTRNNSpec` on a chosen backend (numpy, torch, brian2, ...)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..core.noise import Noise
from ..core.run_checks import NonFiniteResultWarning, available_memory
from ..core.spec import FORMS, CTRNNSpec, check_spec
from ..core.validation import check_choice, check_inputs, check_seed
from .backend import BACKENDS, get_backend
from .random_state import keeps_random_state


@dataclass
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    outputs : float64 array (T, B, n_out)
        ``w_out h_t + b_out`` after each step.
    states : float64 array (T, B, N)
        Hidden state h after each step.
    backend : str
        The backend that ran.
    noise : Noise
        The noise used for this run.
    seed : int or None
        The noise seed.
    dt : float
        Time step in seconds.
    """

    outputs: np.ndarray
    states: np.ndarray
    backend: str
    noise: Noise
    seed: Optional[int]
    dt: float


def check_backend(backend):
    """Raise ValueError naming ``backend`` if it is not one of :data:`BACKENDS`.

    Parameters
    ----------
    backend : str
        The backend name to check.

    Returns
    -------
    str
        ``backend`` itself.
    """
    return check_choice(backend, "backend", sorted(BACKENDS))


def check_backend_options(backend, options, name="options"):
    """``get_backend(backend).check_options(options, name)``: check options without running.

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS`.
    options : dict
        Keyword options for :func:`simulate`.
    name : str
        How the options are named in error messages (e.g. a grid key).

    Returns
    -------
    dict
        ``options`` itself; ValueError naming an unknown option or invalid value
        (:meth:`Backend.check_options <brian_noisy_rnn.backends.Backend.check_options>`).
    """
    return get_backend(backend).check_options(options, name)


def check_memory(spec, shape, noise, name="inputs"):
    """Raise ValueError naming ``name`` if a run of input ``shape`` cannot fit in memory.

    Parameters
    ----------
    spec : CTRNNSpec
        The network (gives N and n_out).
    shape : tuple of int
        The input shape (T, B, n_in).
    noise : Noise
        The run's noise (its draws take T*B*N more floats).
    name : str
        The argument named in the message.

    Notes
    -----
    Counts float64 states (T, B, N) twice (the backend's and the result's copy), the
    outputs (T, B, n_out) and, with active noise, the standard normal draws (T, B, N).
    """
    T, B = int(shape[0]), int(shape[1])
    per_step = 2 * spec.n_hidden + spec.n_out + (spec.n_hidden if noise.is_active else 0)
    need = 8 * T * B * per_step
    available = available_memory()
    if available is not None and need > available:
        raise ValueError(f"{name} of shape {tuple(shape)} need about {need / 2**30:.1f} GiB for "
                         f"states, outputs and noise, more than the {available / 2**30:.1f} GiB "
                         "of memory available; simulate fewer trials or steps at a time")


@keeps_random_state
def simulate(spec: CTRNNSpec, inputs: np.ndarray, *, backend: str, noise: Noise | None = None,
             seed: int | None = None, **options) -> SimulationResult:
    """Simulate ``spec`` on ``inputs`` with one backend.

    Parameters
    ----------
    spec : CTRNNSpec
        The network, of either form ("h" or "x"; "brian2-spiking" runs h-form only).
    inputs : float array (T, B, n_in)
        One column of B independent trials per time step. Dimensionless: plain numbers or
        a dimensionless Brian2 quantity; ``u*kHz`` raises Brian2's
        ``DimensionMismatchError``, booleans and complex values a TypeError.
    backend : str
        A name in :data:`BACKENDS` (:func:`~brian_noisy_rnn.backends.register_backend` adds
        one). Built in: ``"numpy"`` is the readable reference; ``"torch"`` runs
        :class:`~brian_noisy_rnn.bridges.TorchCTRNN` in float64; ``"brian2"`` runs
        :class:`~brian_noisy_rnn.RateCTRNN` (``options``: ``target`` = "numpy", "cython"
        or "cpp_standalone", ...); ``"brian2-spiking"`` a
        :class:`~brian_noisy_rnn.SpikingRealization`.
    noise : Noise or None
        Test-time noise; None uses ``spec.noise``.
    seed : int or None
        In [0, 2**32); None draws fresh entropy. With the same seed, numpy and torch draw
        the same standard normal stream
        (:func:`~brian_noisy_rnn.core.dynamics.standard_normal`), which Brian2's ``randn()``
        reproduces bit for bit: all backends then agree to float precision with noise on.
    **options : keyword arguments
        Backend options (e.g. ``target="cython"`` for ``"brian2"``); an option the
        backend does not take raises a TypeError.

    Returns
    -------
    SimulationResult
        With ``outputs`` (T, B, n_out) and ``states`` (T, B, N).

    Notes
    -----
    Convention: for t = 0..T-1, ``h <- step(h, inputs[t])``; ``states[t] = h``;
    ``outputs[t] = w_out h + b_out``.

    The caller's random state is left as found: numpy's global generator and Brian2's
    (including the cython target's buffered draws) are restored after the run, also when it
    raises (:func:`~brian_noisy_rnn.backends.random_state.caller_random_state`). The
    ``"brian2"`` backend seeds Brian2 with ``seed`` inside that block only.
    """
    check_spec(spec, forms=FORMS)
    runner = get_backend(backend)
    backend = runner.name
    noise = spec.noise if noise is None else spec.check_noise(noise)
    runner.check_noise(noise)
    if hasattr(inputs, "shape") and len(inputs.shape) == 3:  # before any copy is made
        check_memory(spec, inputs.shape, noise)
    inputs = check_inputs(spec, inputs)
    seed = check_seed(seed)
    outputs, states = runner.run(spec, inputs, noise, seed, **options)
    result = SimulationResult(np.asarray(outputs, dtype=np.float64),
                              np.asarray(states, dtype=np.float64),
                              backend, noise, seed, spec.dt_seconds)
    if not np.all(np.isfinite(result.outputs)):
        warnings.warn(f"simulate({backend!r}): the outputs contain NaN or inf (the network's "
                      "activity diverged; check its weights, e.g. max |w_rec| = "
                      f"{float(np.max(np.abs(spec.w_rec))):.3g})", NonFiniteResultWarning,
                      stacklevel=2)
    return result
