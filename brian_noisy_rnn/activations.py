"""Activation functions, one registry for numpy, PyTorch and Brian2, with their noise averages.

Each :class:`Activation` gives the same function ``f`` three ways (a numpy ufunc-style
callable, a torch callable, a Brian2 expression template) plus its derivative and its
*noise average* ``E[f(a + sigma*xi)]``, ``xi ~ N(0, 1)``: in closed form for relu, by
Gauss-Legendre quadrature split at the activation's kink for the others (accurate to
about 1e-12).
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy.special import ndtr

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_TAIL = 12.0  # |xi| beyond which the Gaussian weight (< 1e-32) is ignored
_GL_X, _GL_W = np.polynomial.legendre.leggauss(96)


def _phi(x):
    return np.exp(-0.5 * x * x) / _SQRT_2PI


@dataclass(frozen=True)
class Activation:
    """One activation function in its numpy, PyTorch and Brian2 forms.

    Attributes
    ----------
    name : str
    numpy : callable, float array -> float array of the same shape
    torch : callable, tensor -> tensor of the same shape (differentiable)
    brian2_template : str, a Brian2 expression in ``{x}``, e.g. ``"clip({x}, 0, inf)"``
    derivative : callable, numpy f'(x) (for Jacobians)
    kink : float or None, the point where f is not smooth (quadrature splits there)
    closed_form_average : callable ``(a, sigma) -> (mean, d mean / d a)`` or None
    """

    name: str
    numpy: Callable
    torch: Callable
    brian2_template: str
    derivative: Callable
    kink: Optional[float] = None
    closed_form_average: Optional[Callable] = None

    def brian2(self, x):
        """The Brian2 expression of f applied to the expression string ``x``."""
        return self.brian2_template.format(x=f"({x})")

    def noise_average(self, a, sigma):
        """``E[f(a + sigma*xi)]``, ``xi ~ N(0, 1)``, elementwise.

        Parameters
        ----------
        a : float array, any shape (pre-activation)
        sigma : float or array broadcastable to ``a``, >= 0 (noise std inside f)

        Returns
        -------
        float64 array of the broadcast shape. Equals ``f(a)`` where sigma == 0.
        """
        return self.noise_average_and_derivative(a, sigma)[0]

    def noise_average_and_derivative(self, a, sigma):
        """``(E[f(a + sigma*xi)], d/da E[f(a + sigma*xi)])``, both of the broadcast shape."""
        a, sigma = np.broadcast_arrays(np.asarray(a, float), np.asarray(sigma, float))
        if np.any(sigma < 0):
            raise ValueError("sigma must be >= 0")
        mean = np.empty(a.shape)
        deriv = np.empty(a.shape)
        zero = sigma == 0
        mean[zero] = self.numpy(a[zero])
        deriv[zero] = self.derivative(a[zero])
        noisy = ~zero
        if np.any(noisy):
            an, sn = a[noisy], sigma[noisy]
            if self.closed_form_average is not None:
                m, d = self.closed_form_average(an, sn)
            else:
                m, d = _quadrature(self, an, sn)
            mean[noisy], deriv[noisy] = m, d
        return mean, deriv


def _quadrature(act, a, sigma):
    """Gauss-Legendre quadrature of E[f(a+s xi)] and E[f'(a+s xi)] on [-T, k] and [k, T]."""
    kink = 0.0 if act.kink is None else act.kink
    split = np.clip((kink - a) / sigma, -_TAIL, _TAIL)[..., None]
    mean = np.zeros(a.shape)
    deriv = np.zeros(a.shape)
    for lo, hi in ((-_TAIL, split), (split, _TAIL)):
        half = (hi - lo) / 2.0
        xi = half * _GL_X + (hi + lo) / 2.0  # (n, 96)
        w = half * _GL_W * _phi(xi)
        x = a[..., None] + sigma[..., None] * xi
        mean += np.sum(w * act.numpy(x), axis=-1)
        deriv += np.sum(w * act.derivative(x), axis=-1)
    return mean, deriv


def _relu_average(a, s):
    z = a / s
    return a * ndtr(z) + s * _phi(z), ndtr(z)


def _softplus_np(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid_np(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _t():
    import torch

    return torch


ACTIVATIONS = {}


def register_activation(act):
    """Add an :class:`Activation` to the registry (its name must be new)."""
    if not isinstance(act, Activation):
        raise TypeError(f"act must be an Activation, got {type(act).__name__}")
    if act.name in ACTIVATIONS:
        raise ValueError(f"an activation named {act.name!r} is already registered")
    ACTIVATIONS[act.name] = act
    return act


register_activation(Activation(
    "relu",
    numpy=lambda x: np.maximum(x, 0.0),
    torch=lambda x: _t().relu(x),
    brian2_template="clip({x}, 0, inf)",
    derivative=lambda x: (np.asarray(x) > 0).astype(float),
    kink=0.0,
    closed_form_average=_relu_average,
))
register_activation(Activation(
    "softplus",
    numpy=_softplus_np,
    # written out (not torch.nn.functional.softplus, whose threshold=20 cut-off differs by 2e-9)
    torch=lambda x: _t().relu(x) + _t().log1p(_t().exp(-x.abs())),
    brian2_template="(clip({x}, 0, inf) + log1p(exp(-abs({x}))))",
    derivative=_sigmoid_np,
))
register_activation(Activation(
    "tanh",
    numpy=np.tanh,
    torch=lambda x: _t().tanh(x),
    brian2_template="tanh({x})",
    derivative=lambda x: 1.0 - np.tanh(x) ** 2,
))
register_activation(Activation(
    "sigmoid",
    numpy=_sigmoid_np,
    torch=lambda x: 0.5 * (1.0 + _t().tanh(0.5 * x)),
    brian2_template="(0.5*(1 + tanh(0.5*{x})))",
    derivative=lambda x: _sigmoid_np(x) * (1.0 - _sigmoid_np(x)),
))
register_activation(Activation(
    "retanh",
    numpy=lambda x: np.maximum(np.tanh(x), 0.0),
    torch=lambda x: _t().relu(_t().tanh(x)),
    brian2_template="clip(tanh({x}), 0, inf)",
    derivative=lambda x: np.where(np.asarray(x) > 0, 1.0 - np.tanh(x) ** 2, 0.0),
    kink=0.0,
))


def get_activation(name):
    """Return the registered :class:`Activation` called ``name``.

    Names of the form ``"relu~0.5"`` denote the noise average ``E[relu(a + 0.5*xi)]`` of a
    registered activation (see :func:`brian_noisy_rnn.analysis.compensate`); they are
    registered on first use. Raises ValueError naming ``activation`` and listing the known
    names if unknown.
    """
    if isinstance(name, Activation):
        return name
    if isinstance(name, str) and name not in ACTIVATIONS and "~" in name:
        # "<base>~<sigma>": the noise average of a registered activation, created on demand
        from .analysis.noise_averages import ensure_activation

        return ensure_activation(name)
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
