"""``simulate``: run a :class:`CTRNNSpec` on a chosen backend (numpy, torch, brian2, ...)."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from importlib import import_module
from typing import Optional

import numpy as np

from ..core.noise import Noise
from ..core.spec import FORMS, CTRNNSpec, check_spec
from ..core.validation import check_choice, check_inputs, check_seed
from .random_state import keeps_random_state


class NonFiniteResultWarning(RuntimeWarning):
    """A simulation or evaluation produced NaN or inf; the message names the run."""


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


#: backend name -> (module relative to this package, function) run by :func:`simulate`;
#: each function takes checked ``(spec, inputs, noise, seed, **options)`` and returns
#: ``(outputs (T, B, n_out), states (T, B, N))``
BACKENDS = {
    "numpy": (".reference", "run_numpy"),
    "torch": (".torch_backend", "run_torch"),
    "brian2": (".brian2.run", "run_brian2"),
    "brian2-spiking": (".spiking.run", "run_spiking"),
}


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


#: options of every backend function that are not user options
_INTERNAL_OPTIONS = ("report",)


def _backend_function(backend):
    module, function = BACKENDS[check_backend(backend)]
    return getattr(import_module(module, __package__), function)


def check_backend_options(backend, options, name="options"):
    """Check a backend's keyword options (names, and values where that is cheap) without running.

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
        ``options`` itself.

    Raises
    ------
    ValueError
        Naming the unknown option or the invalid value.
    """
    run = _backend_function(backend)
    known = sorted(n for n, p in inspect.signature(run).parameters.items()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in _INTERNAL_OPTIONS)
    for key in options:
        if key not in known:
            raise ValueError(f"{name}.{key}: unknown option of backend {backend!r}; known: {known}")
    if backend == "brian2":
        from .brian2.run import check_brian2_options

        try:
            check_brian2_options(**options)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    elif backend == "brian2-spiking":
        from .spiking.run import NOISE_AS, TARGETS

        if "target" in options and options["target"] not in TARGETS:
            raise ValueError(f"{name}.target must be one of {TARGETS}, got {options['target']!r}")
        noise_as = options.get("noise_as", "count")
        if noise_as not in NOISE_AS:
            raise ValueError(f"{name}.noise_as must be one of {NOISE_AS}, got {noise_as!r}")
        if noise_as == "membrane" and options.get("neurons_per_unit") is None:
            raise ValueError(f"{name}.neurons_per_unit is required with noise_as = 'membrane' "
                             "(the population size is not derived from the membrane noise)")
    return options


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
    backend : {"numpy", "torch", "brian2", "brian2-spiking"}
        ``"numpy"`` is the readable reference; ``"torch"`` runs
        :class:`~brian_noisy_rnn.bridges.TorchCTRNN` in float64; ``"brian2"`` runs
        :class:`~brian_noisy_rnn.RateCTRNN` (``options``: ``target`` = "numpy", "cython"
        or "cpp_standalone", ...).
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
    check_backend(backend)
    noise = spec.noise if noise is None else spec.check_noise(noise)
    if hasattr(inputs, "shape") and len(inputs.shape) == 3:  # before any copy is made
        check_memory(spec, inputs.shape, noise)
    inputs = check_inputs(spec, inputs)
    seed = check_seed(seed)
    run = _backend_function(backend)
    outputs, states = run(spec, inputs, noise, seed, **options)
    result = SimulationResult(np.asarray(outputs, dtype=np.float64),
                              np.asarray(states, dtype=np.float64),
                              backend, noise, seed, spec.dt_seconds)
    if not np.all(np.isfinite(result.outputs)):
        warnings.warn(f"simulate({backend!r}): the outputs contain NaN or inf (the network's "
                      "activity diverged; check its weights, e.g. max |w_rec| = "
                      f"{float(np.max(np.abs(spec.w_rec))):.3g})", NonFiniteResultWarning,
                      stacklevel=2)
    return result
