"""``simulate``: run a :class:`CTRNNSpec` on a chosen backend (numpy, torch, brian2, ...)."""

from dataclasses import dataclass
from importlib import import_module
from typing import Optional

import numpy as np

from ..core.noise import Noise, as_noise
from ..core.spec import check_spec
from ..core.validation import check_inputs, check_seed
from .random_state import keeps_random_state


@dataclass
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    outputs : float64 array (T, B, n_out), ``w_out h_t + b_out`` after each step
    states : float64 array (T, B, N), hidden state h after each step
    backend : str
    noise : :class:`Noise` used for this run
    seed : int or None
    dt : float, time step in seconds
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
    """Raise ValueError naming ``backend`` if it is not one of :data:`BACKENDS`."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
    return backend


@keeps_random_state
def simulate(spec, inputs, *, backend, noise=None, seed=None, **options):
    """Simulate ``spec`` on ``inputs`` with one backend.

    Parameters
    ----------
    spec : :class:`CTRNNSpec`
    inputs : float array (T, B, n_in), one column of B independent trials per time step
        Dimensionless: plain numbers or a dimensionless Brian2 quantity; ``u*kHz`` raises
        Brian2's ``DimensionMismatchError``, booleans and complex values a TypeError.
    backend : {"numpy", "torch", "brian2", "brian2-spiking"}
        ``"numpy"`` is the readable reference; ``"torch"`` runs
        :class:`~brian_noisy_rnn.bridges.TorchCTRNN` in float64; ``"brian2"`` runs
        :class:`~brian_noisy_rnn.RateCTRNN` (``options``: ``target`` = "numpy", "cython"
        or "cpp_standalone", ...).
    noise : :class:`Noise` or None
        Test-time noise; None uses ``spec.noise``.
    seed : int in [0, 2**32) or None
        With the same seed, numpy and torch draw the same standard normal stream
        (:func:`~brian_noisy_rnn.core.dynamics.standard_normal`), which Brian2's ``randn()``
        reproduces bit for bit: all backends then agree to float precision with noise on.

    Returns
    -------
    :class:`SimulationResult` with ``outputs`` (T, B, n_out) and ``states`` (T, B, N).

    Convention: for t = 0..T-1, ``h <- step(h, inputs[t])``; ``states[t] = h``;
    ``outputs[t] = w_out h + b_out``.

    Notes
    -----
    The caller's random state is left as found: numpy's global generator and Brian2's
    (including the cython target's buffered draws) are restored after the run, also when it
    raises (:func:`~brian_noisy_rnn.backends.random_state.caller_random_state`). The
    ``"brian2"`` backend seeds Brian2 with ``seed`` inside that block only.
    """
    check_spec(spec)
    check_backend(backend)
    noise = spec.noise if noise is None else as_noise(noise)
    noise.check_compatible(spec.dt_seconds, spec.n_hidden)
    inputs = check_inputs(spec, inputs)
    seed = check_seed(seed)
    module, function = BACKENDS[backend]
    run = getattr(import_module(module, __package__), function)
    outputs, states = run(spec, inputs, noise, seed, **options)
    return SimulationResult(np.asarray(outputs, dtype=np.float64),
                            np.asarray(states, dtype=np.float64),
                            backend, noise, seed, spec.dt_seconds)
