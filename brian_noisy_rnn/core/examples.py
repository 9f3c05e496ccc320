"""Built-in example networks, usable without training anything."""

import numpy as np

from .noise import Noise
from .spec import CTRNNSpec
from .validation import check_int


def example_spec(n_hidden=32, *, noise=None, seed=0):
    """A small random relu CTRNN with 1 input and 1 output (tau = 100 ms, dt = 20 ms).

    The recurrent weights are N(0, 0.5**2 / n_hidden), so the network is stable and
    settles for a constant input; input weights U[-1, 1]; readout weights
    N(0, 1 / n_hidden); biases 0.1. Deterministic for ``seed``.

    Parameters
    ----------
    n_hidden : int >= 1
    noise : :class:`Noise` or None (default ``Noise("pre", sigma=0.5)``)
    seed : int

    Returns
    -------
    :class:`CTRNNSpec` with n_in = 1, n_out = 1.
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


def step_input(n_steps=100, n_trials=4, *, level=1.0, onset=20):
    """A step input of shape (n_steps, n_trials, 1): 0 before step ``onset``, then ``level``
    scaled per trial by linspace(-1, 1, n_trials)."""
    u = np.zeros((n_steps, n_trials, 1))
    u[onset:, :, 0] = level * np.linspace(-1, 1, n_trials)
    return u
