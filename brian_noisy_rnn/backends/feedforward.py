"""Feedforward networks on numpy (the reference) and torch: :func:`run_feedforward`,
:class:`~brian_noisy_rnn.backends.torch_feedforward.TorchFeedforward`.

Both call :func:`brian_noisy_rnn.core.feedforward.forward`; with the same draws
(:func:`~brian_noisy_rnn.core.feedforward.layer_normal`) they agree to float precision at
every sigma. There is no Brian2 version: a feedforward network has no dynamics to simulate.
"""

from __future__ import annotations

import numpy as np

from ..core.feedforward import check_feedforward_noise, check_feedforward_spec, forward, layer_normal
from ..core.validation import check_choice, check_int

__all__ = ["FEEDFORWARD_BACKENDS", "run_feedforward"]

#: backends that run a :class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`
FEEDFORWARD_BACKENDS = ("numpy", "torch")


def run_feedforward(spec, x, *, backend="numpy", noise=None, seed=None, xi=None):
    """Outputs and hidden activities of ``spec`` for inputs ``x``.

    Parameters
    ----------
    spec : FeedforwardSpec
        The network.
    x : float array (B, n_in)
        The inputs, one row per sample.
    backend : {"numpy", "torch"}
        numpy (the reference) or torch (float64).
    noise : Noise or None
        Test noise ("none", "pre" or "post", white, scalar sigma); None: ``spec.noise``.
    seed : int or None
        Seed of the draws :func:`~brian_noisy_rnn.core.feedforward.layer_normal` ``(seed, B,
        spec.hidden_sizes)`` (ignored without noise); None: fresh entropy unless ``xi`` is
        given.
    xi : sequence of float arrays (B, N_l) or None
        The standard normal draws per hidden layer (instead of ``seed``).

    Returns
    -------
    outputs : float64 array (B, n_out)
        The network outputs.
    hidden : list of float64 arrays (B, N_l)
        Hidden activities per layer.

    Raises
    ------
    ValueError
        For an unknown backend, inputs of the wrong shape or draws that do not fit.
    """
    check_feedforward_spec(spec)
    check_choice(backend, "backend", FEEDFORWARD_BACKENDS)
    noise = spec.noise if noise is None else check_feedforward_noise(noise)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != spec.n_in:
        raise ValueError(f"x must have shape (B, {spec.n_in}), got {x.shape}")
    check_int(x.shape[0], "x.shape[0] (samples)", 1)
    sigma = noise.scalar_sigma()
    if noise.is_active:
        if xi is None:
            xi = layer_normal(seed, x.shape[0], spec.hidden_sizes) if seed is not None else \
                [np.random.default_rng().standard_normal((x.shape[0], n))
                 for n in spec.hidden_sizes]
        xi = [np.asarray(v, dtype=np.float64) for v in xi]
        want = [(x.shape[0], n) for n in spec.hidden_sizes]
        if [v.shape for v in xi] != want:
            raise ValueError(f"xi must hold arrays of shapes {want}, got {[v.shape for v in xi]}")
    if backend == "numpy":
        out, hidden = forward(spec.weights, spec.biases, x, activation=spec.activation,
                              placement=noise.placement, sigma=sigma, xi=xi)
        return out, hidden
    import torch

    from .torch_feedforward import TorchFeedforward

    module = TorchFeedforward.from_spec(spec, dtype=torch.float64)
    with torch.no_grad():
        txi = None if xi is None else [torch.as_tensor(v) for v in xi]
        out, hidden = module(torch.as_tensor(x), placement=noise.placement, sigma=sigma, xi=txi)
    return out.numpy(), [h.numpy() for h in hidden]
