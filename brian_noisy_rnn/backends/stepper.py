"""The CTRNN step of :mod:`brian_noisy_rnn.core.dynamics` one call at a time (closed loop)."""

import numpy as np

from ..core.activations import get_activation
from ..core.dynamics import NUMPY_OPS, StepRule, next_noise_sample, step, torch_ops

__all__ = ["ArrayStepper"]


class ArrayStepper:
    """A network that advances one step per call, on numpy arrays or torch tensors (float64).

    Step t draws row t of :func:`~brian_noisy_rnn.core.dynamics.standard_normal`
    ``(seed, T, B, N)``, so playing T steps consumes the stream a whole-trial run uses.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    noise : Noise
        The noise (compatible with ``spec``).
    n_trials : int
        B, trials advanced side by side, all starting from ``spec.h0``.
    seed : int or None
        Seed of the standard normal draws.
    library : {"numpy", "torch"}
        The array library.
    """

    def __init__(self, spec, noise, n_trials, seed, library="numpy"):
        self.rule = StepRule.from_spec(spec, noise)
        act = get_activation(spec.activation)
        names = ("w_in", "w_rec", "b", "w_out", "b_out", "h0")
        if library == "torch":
            import torch

            self.ops, self.f = torch_ops(), act.torch
            p = {k: torch.tensor(np.asarray(getattr(spec, k)), dtype=torch.float64) for k in names}
            self.sigma = torch.as_tensor(self.rule.sigma, dtype=torch.float64)
            self.to_array = lambda x: torch.as_tensor(x, dtype=torch.float64)
            self.to_numpy = lambda x: x.numpy()
        else:
            self.ops, self.f = NUMPY_OPS, act.numpy
            p = {k: np.asarray(getattr(spec, k), dtype=np.float64) for k in names}
            self.sigma = self.rule.sigma
            self.to_array = self.to_numpy = lambda x: x
        self.p = p
        self.h = p["h0"] + 0.0 * self.to_array(np.zeros((n_trials, 1)))
        self.shape = (n_trials, spec.n_hidden)
        self.rng = np.random.RandomState(seed) if self.rule.active else None
        self.n, self.t = None, 0

    def __call__(self, observations):
        """Advance one step.

        Parameters
        ----------
        observations : float64 array (B, n_in)
            This step's inputs.

        Returns
        -------
        float64 array (B, n_out)
            ``w_out h + b_out`` after the step.
        """
        p = self.p
        drive = self.to_array(observations) @ p["w_in"].T + p["b"]
        a = self.h @ p["w_rec"].T + drive
        if self.rule.active:
            xi = self.to_array(self.rng.randn(self.shape[0] * self.shape[1]).reshape(self.shape))
            self.n = next_noise_sample(self.n, xi, self.sigma, self.rule, first=self.t == 0)
        self.h = step(self.h, a, self.n, self.rule, self.f, self.ops)
        self.t += 1
        return self.to_numpy(self.h @ p["w_out"].T + p["b_out"])
