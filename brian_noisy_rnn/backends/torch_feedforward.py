"""``TorchFeedforward``: a feedforward network with hidden-layer noise as a PyTorch ``nn.Module``.

Its forward pass is :func:`brian_noisy_rnn.core.feedforward.forward`, the numpy reference's
own code run on tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.activations import get_activation
from ..core.feedforward import (FeedforwardSpec, check_feedforward_noise, check_feedforward_spec,
                                forward)
from ..core.validation import check_int

__all__ = ["TorchFeedforward"]


class TorchFeedforward(nn.Module):
    """A feedforward network with noise inside or outside each hidden activation, in PyTorch.

    Parameters
    ----------
    n_in : int
        Number of inputs, >= 1.
    hidden_sizes : sequence of int
        Units per hidden layer (at least one layer, each >= 1).
    n_out : int
        Number of outputs, >= 1.
    activation : str
        A registered activation name.
    noise : Noise or None
        The training noise (placement "none", "pre" or "post"; white; scalar sigma).
    seed : int or None
        Seeds the weight initialisation (torch's default ``nn.Linear`` init: uniform in
        +-1/sqrt(fan_in)); None: torch's global generator.
    dtype : torch.dtype
        Of the parameters (float32 by default).

    Attributes
    ----------
    layers : nn.ModuleList of nn.Linear
        The hidden layers and, last, the readout.
    activation : str
        The activation's registry name.
    noise : Noise
        The training noise.
    """

    def __init__(self, n_in, hidden_sizes, n_out, *, activation="relu", noise=None,
                 seed=None, dtype=torch.float32):
        super().__init__()
        sizes = [check_int(n_in, "n_in"), *(check_int(n, "hidden_sizes") for n in hidden_sizes),
                 check_int(n_out, "n_out")]
        if len(sizes) < 3:
            raise ValueError("hidden_sizes must name at least one hidden layer")
        self.activation = get_activation(activation).name
        self.noise = check_feedforward_noise(noise)
        gen = None
        if seed is not None:
            gen = torch.Generator().manual_seed(int(seed))
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layer = nn.Linear(a, b, dtype=dtype)
            bound = 1.0 / float(np.sqrt(a))
            with torch.no_grad():
                layer.weight.copy_(torch.rand(b, a, generator=gen, dtype=dtype) * 2 * bound
                                   - bound)
                layer.bias.copy_(torch.rand(b, generator=gen, dtype=dtype) * 2 * bound - bound)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)

    @property
    def hidden_sizes(self):
        """Units per hidden layer (tuple of int)."""
        return tuple(layer.out_features for layer in self.layers[:-1])

    def forward(self, x, *, placement=None, sigma=None, xi=None, generator=None):
        """Outputs and hidden activities for inputs ``x``.

        Parameters
        ----------
        x : tensor (B, n_in)
            Inputs (the parameters' dtype).
        placement : {"none", "pre", "post"} or None
            None: the training placement.
        sigma : float or None
            None: the training sigma.
        xi : sequence of tensors (B, N_l) or None
            Standard normal draws per hidden layer; None: drawn with ``generator``.
        generator : torch.Generator or None
            Used when ``xi`` is None and there is noise.

        Returns
        -------
        outputs : tensor (B, n_out)
            The network outputs.
        hidden : list of tensors (B, N_l)
            Hidden activities per layer.
        """
        placement = self.noise.placement if placement is None else placement
        sigma = self.noise.scalar_sigma() if sigma is None else float(sigma)
        if placement != "none" and sigma > 0 and xi is None:
            # drawn on the CPU (as training draws them), then moved to the inputs' device
            xi = [torch.randn(x.shape[0], n, generator=generator, dtype=x.dtype).to(x.device)
                  for n in self.hidden_sizes]
        return forward([layer.weight for layer in self.layers],
                       [layer.bias for layer in self.layers], x,
                       activation=self.activation, placement=placement, sigma=sigma, xi=xi)

    def to_spec(self, metadata=None):
        """The network as a :class:`FeedforwardSpec` (float64 copies of the weights).

        Parameters
        ----------
        metadata : dict or None
            Stored in the spec.

        Returns
        -------
        FeedforwardSpec
            With the module's training noise.
        """
        return FeedforwardSpec(
            [layer.weight.detach().cpu().double().numpy() for layer in self.layers],
            [layer.bias.detach().cpu().double().numpy() for layer in self.layers],
            activation=self.activation, noise=self.noise, metadata=metadata)

    @classmethod
    def from_spec(cls, spec, dtype=torch.float64):
        """A module holding ``spec``'s weights.

        Parameters
        ----------
        spec : FeedforwardSpec
            The network.
        dtype : torch.dtype
            Of the parameters.

        Returns
        -------
        TorchFeedforward
            With ``spec.noise`` as its training noise.
        """
        check_feedforward_spec(spec)
        module = cls(spec.n_in, spec.hidden_sizes, spec.n_out, activation=spec.activation,
                     noise=spec.noise, seed=0, dtype=dtype)
        with torch.no_grad():
            for layer, w, b in zip(module.layers, spec.weights, spec.biases):
                layer.weight.copy_(torch.tensor(np.array(w), dtype=dtype))
                layer.bias.copy_(torch.tensor(np.array(b), dtype=dtype))
        return module
