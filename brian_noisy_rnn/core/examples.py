"""Built-in example networks, usable without training anything."""

from __future__ import annotations

import numpy as np

from .noise import Noise
from .spec import CTRNNSpec
from .validation import check_int


def example_spec(n_hidden: int = 32, *, noise: Noise | None = None, seed: int = 0) -> CTRNNSpec:
    """A small random relu CTRNN with 1 input and 1 output (tau = 100 ms, dt = 20 ms).

    The recurrent weights are N(0, 0.5**2 / n_hidden), so the network is stable and
    settles for a constant input; input weights U[-1, 1]; readout weights
    N(0, 1 / n_hidden); biases 0.1. Deterministic for ``seed``.

    Parameters
    ----------
    n_hidden : int
        Number of hidden units, >= 1.
    noise : Noise or None
        The network's noise model; None for ``Noise("pre", sigma=0.5)``.
    seed : int
        Seed of the random weights.

    Returns
    -------
    CTRNNSpec
        With n_in = 1, n_out = 1.
    """
    from brian2 import ms

    check_int(n_hidden, "n_hidden")
    rng = np.random.default_rng(seed)
    return CTRNNSpec(
        w_in=rng.uniform(-1, 1, size=(n_hidden, 1)),
        w_rec=rng.normal(0, 0.5 / np.sqrt(n_hidden), size=(n_hidden, n_hidden)),
        b=np.full(n_hidden, 0.1),
        w_out=rng.normal(0, 1 / np.sqrt(n_hidden), size=(1, n_hidden)),
        b_out=np.zeros(1),
        tau=100 * ms, dt=20 * ms, activation="relu",
        noise=Noise("pre", sigma=0.5) if noise is None else noise,
        metadata={"name": "example_spec", "seed": int(seed)},
    )


def step_input(n_steps: int = 100, n_trials: int = 4, *, level: float = 1.0,
               onset: int = 20) -> np.ndarray:
    """A step input: 0 before step ``onset``, then ``level`` scaled per trial by
    linspace(-1, 1, n_trials).

    Parameters
    ----------
    n_steps : int
        Number of time steps T.
    n_trials : int
        Number of trials B.
    level : float
        Step height (dimensionless) of the trial scaled by +1.
    onset : int
        Index of the first step with the input on.

    Returns
    -------
    float64 array (n_steps, n_trials, 1)
        The inputs, time-major.
    """
    u = np.zeros((n_steps, n_trials, 1))
    u[onset:, :, 0] = level * np.linspace(-1, 1, n_trials)
    return u
