"""``simulate``: run a :class:`CTRNNSpec` on a chosen backend (numpy, torch, brian2, ...)."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .dynamics import NUMPY_OPS, StepRule, rollout, standard_normal
from .noise import Noise, as_noise
from .spec import check_spec


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


def check_inputs(spec, inputs, name="inputs"):
    """Return ``inputs`` as a float64 array (T, B, n_in) or raise a clear error."""
    if hasattr(inputs, "detach"):  # a torch tensor
        inputs = inputs.detach().cpu().numpy()
    try:
        arr = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a float array of shape (T, B, n_in), "
                        f"got {type(inputs).__name__}")
    if arr.ndim != 3 or arr.shape[2] != spec.n_in or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (T, B, n_in={spec.n_in}) with T, B >= 1, "
                         f"got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def check_seed(seed, name="seed"):
    """Return ``seed`` if it is None or an int in [0, 2**32); raise otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2 ** 32:
        raise ValueError(f"{name} must be in [0, 2**32), got {seed}")
    return int(seed)


def _run_numpy(spec, inputs, noise, seed):
    rule = StepRule.from_spec(spec, noise)
    T, B, _ = inputs.shape
    xi = standard_normal(seed, T, B, spec.n_hidden) if rule.active else None
    params = {k: getattr(spec, k) for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0")}
    return rollout(params, inputs, rule, spec.activation, NUMPY_OPS, xi=xi)


def _run_torch(spec, inputs, noise, seed):
    from .bridges.torch_model import run_torch

    return run_torch(spec, inputs, noise, seed)


def _run_brian2(spec, inputs, noise, seed, **options):
    from .brian2_network import run_brian2

    return run_brian2(spec, inputs, noise, seed, **options)


def _run_brian2_spiking(spec, inputs, noise, seed, **options):
    from .spiking import run_spiking

    return run_spiking(spec, inputs, noise, seed, **options)


BACKENDS = {
    "numpy": _run_numpy,
    "torch": _run_torch,
    "brian2": _run_brian2,
    "brian2-spiking": _run_brian2_spiking,
}


def check_backend(backend):
    """Raise ValueError naming ``backend`` if it is not one of :data:`BACKENDS`."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
    return backend


def simulate(spec, inputs, *, backend, noise=None, seed=None, **options):
    """Simulate ``spec`` on ``inputs`` with one backend.

    Parameters
    ----------
    spec : :class:`CTRNNSpec`
    inputs : float array (T, B, n_in), one column of B independent trials per time step
    backend : {"numpy", "torch", "brian2", "brian2-spiking"}
        ``"numpy"`` is the readable reference; ``"torch"`` runs
        :class:`~brian_noisy_rnn.bridges.TorchCTRNN` in float64; ``"brian2"`` runs
        :class:`~brian_noisy_rnn.RateCTRNN` (``options``: ``target`` = "numpy", "cython"
        or "cpp_standalone", ...).
    noise : :class:`Noise` or None
        Test-time noise; None uses ``spec.noise``.
    seed : int in [0, 2**32) or None
        With the same seed, numpy and torch draw the same standard normal stream
        (:func:`~brian_noisy_rnn.dynamics.standard_normal`), which Brian2's ``randn()``
        reproduces bit for bit: all backends then agree to float precision with noise on.

    Returns
    -------
    :class:`SimulationResult` with ``outputs`` (T, B, n_out) and ``states`` (T, B, N).

    Convention: for t = 0..T-1, ``h <- step(h, inputs[t])``; ``states[t] = h``;
    ``outputs[t] = w_out h + b_out``.
    """
    check_spec(spec)
    check_backend(backend)
    noise = spec.noise if noise is None else as_noise(noise)
    noise.check_compatible(spec.dt_seconds, spec.n_hidden)
    inputs = check_inputs(spec, inputs)
    seed = check_seed(seed)
    outputs, states = BACKENDS[backend](spec, inputs, noise, seed, **options)
    return SimulationResult(np.asarray(outputs, dtype=np.float64),
                            np.asarray(states, dtype=np.float64),
                            backend, noise, seed, spec.dt_seconds)
