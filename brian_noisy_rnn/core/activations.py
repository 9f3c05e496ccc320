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
#: abs(xi) beyond which the Gaussian weight (< 1e-32) is ignored by :func:`split_quadrature`
QUADRATURE_TAIL = 12.0
#: Gauss-Legendre nodes and weights on [-1, 1] used on each side of the kink
QUADRATURE_NODES, QUADRATURE_WEIGHTS = np.polynomial.legendre.leggauss(96)


def normal_pdf(x):
    """The standard normal density ``exp(-x**2/2) / sqrt(2 pi)`` (numpy, elementwise).

    Parameters
    ----------
    x : float or float array, any shape
        Where to evaluate the density.

    Returns
    -------
    float64 array
        Of the shape of ``x``.
    """
    return np.exp(-0.5 * x * x) / _SQRT_2PI


@dataclass(frozen=True)
class Activation:
    """One activation function in its numpy, PyTorch and Brian2 forms.

    Attributes
    ----------
    name : str
        The registry name, e.g. ``"relu"``.
    numpy : callable
        float array -> float array of the same shape.
    torch : callable
        tensor -> tensor of the same shape (differentiable).
    brian2_template : str
        A Brian2 expression in ``{x}``, e.g. ``"clip({x}, 0, inf)"``.
    derivative : callable
        numpy ``f'(x)`` (for Jacobians).
    kink : float or None
        The point where f is not smooth (quadrature splits there).
    closed_form_average : callable or None
        ``(a, sigma) -> (mean, d mean / d a)``; None to use quadrature.
    """

    name: str
    numpy: Callable
    torch: Callable
    brian2_template: str
    derivative: Callable
    kink: Optional[float] = None
    closed_form_average: Optional[Callable] = None

    def brian2(self, x):
        """The Brian2 expression of f applied to the expression string ``x``.

        Parameters
        ----------
        x : str
            A Brian2 expression (e.g. a variable name), wrapped in parentheses.

        Returns
        -------
        str
            The Brian2 expression of ``f(x)``.
        """
        return self.brian2_template.format(x=f"({x})")

    def noise_average(self, a, sigma):
        """``E[f(a + sigma*xi)]``, ``xi ~ N(0, 1)``, elementwise.

        Parameters
        ----------
        a : float array, any shape
            Pre-activation (dimensionless).
        sigma : float or float array broadcastable to ``a``
            Noise standard deviation inside f, >= 0.

        Returns
        -------
        float64 array
            Of the broadcast shape. Equals ``f(a)`` where sigma == 0.
        """
        return self.noise_average_and_derivative(a, sigma)[0]

    def noise_average_and_derivative(self, a, sigma):
        """``(E[f(a + sigma*xi)], d/da E[f(a + sigma*xi)])``, both of the broadcast shape.

        Parameters
        ----------
        a : float array, any shape
            Pre-activation (dimensionless).
        sigma : float or float array broadcastable to ``a``
            Noise standard deviation inside f, >= 0 (ValueError otherwise).

        Returns
        -------
        mean : float64 array
            ``E[f(a + sigma*xi)]``, of the broadcast shape (``f(a)`` where sigma == 0).
        derivative : float64 array
            ``d/da E[f(a + sigma*xi)]``, of the broadcast shape.
        """
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
                m, d = split_quadrature((self.numpy, self.derivative), an, sn,
                                        0.0 if self.kink is None else self.kink)
            mean[noisy], deriv[noisy] = m, d
        return mean, deriv


def split_quadrature(functions, a, sigma, kink, xp=np):
    """``[E[g(a + sigma*xi)] for g in functions]``, ``xi ~ N(0, 1)``, by Gauss-Legendre quadrature.

    The Gaussian is integrated on ``[-T, k]`` and ``[k, T]`` (``T`` =
    :data:`QUADRATURE_TAIL`, ``k = (kink - a) / sigma`` clipped to ``[-T, T]``) with 96
    nodes each, so a kink of ``g`` at ``kink`` does not spoil the accuracy (about 1e-12).

    Parameters
    ----------
    functions : sequence of callables
        Elementwise functions ``g`` of the array library ``xp``.
    a : array of any shape
        Pre-activations (numpy array, or torch tensor with ``xp=torch``).
    sigma : float, or array of the shape of ``a``
        Noise standard deviations, > 0.
    kink : float
        Where the functions are not smooth (0 if they are smooth everywhere).
    xp : module
        ``numpy`` (default) or ``torch`` (then the result is differentiable in ``a``).

    Returns
    -------
    list of arrays
        One per function, each of the shape of ``a``.
    """
    tail = QUADRATURE_TAIL
    split = xp.clip((kink - a) / sigma, -tail, tail)[..., None]
    sigma_col = sigma[..., None] if getattr(sigma, "ndim", 0) else sigma
    halves = []
    # the upper half's nodes in reverse order, added node by node to the lower half's before
    # one sum: where a sits at the kink the two rules mirror each other exactly, so each pair
    # of an odd function cancels exactly whatever order the library sums in
    for lo, hi, order in ((-tail, split, slice(None)), (split, tail, slice(None, None, -1))):
        nodes, weights = QUADRATURE_NODES[order].copy(), QUADRATURE_WEIGHTS[order].copy()
        if xp is not np:
            nodes = xp.as_tensor(nodes, dtype=a.dtype, device=a.device)
            weights = xp.as_tensor(weights, dtype=a.dtype, device=a.device)
        half = (hi - lo) / 2.0
        xi = half * nodes + (hi + lo) / 2.0  # (..., 96)
        w = half * weights * xp.exp(-0.5 * xi * xi) / _SQRT_2PI
        x = a[..., None] + sigma_col * xi
        halves.append([w * g(x) for g in functions])
    return [(lower + upper).sum(-1) for lower, upper in zip(*halves)]


def relu_noise_average(a, s):
    """``(E[relu(a + s*xi)], d/da E[relu(a + s*xi)])`` in closed form.

    ``a*Phi(a/s) + s*phi(a/s)`` and ``Phi(a/s)``, Phi and phi the standard normal cdf and pdf.

    Parameters
    ----------
    a : float array, any shape
        Pre-activations (numpy).
    s : float or float array broadcastable to ``a``
        Noise standard deviations, > 0.

    Returns
    -------
    mean : float64 array
        ``E[relu(a + s*xi)]``, of the broadcast shape.
    derivative : float64 array
        ``Phi(a/s)``, of the broadcast shape.
    """
    z = a / s
    return a * ndtr(z) + s * normal_pdf(z), ndtr(z)


def _softplus_np(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _sigmoid_np(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _t():
    import torch

    return torch


ACTIVATIONS = {}


def register_activation(act):
    """Add an :class:`Activation` to the registry (its name must be new).

    Parameters
    ----------
    act : Activation
        The activation to register; TypeError if not an Activation, ValueError if an
        activation of its name is already registered.

    Returns
    -------
    Activation
        ``act`` itself.
    """
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
    closed_form_average=relu_noise_average,
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


#: separator -> factory: names containing the separator that are not registered yet are
#: built by the factory on first use (see :func:`register_activation_family`)
_FAMILIES = {}


def register_activation_family(separator, factory):
    """Let :func:`get_activation` build unregistered names containing ``separator``.

    Parameters
    ----------
    separator : str
        E.g. ``"~"`` for the noise-averaged activations ``"relu~0.5"``.
    factory : callable
        ``factory(name) -> Activation``; it registers what it builds (and raises ValueError
        naming ``activation`` for a malformed name).
    """
    if not isinstance(separator, str) or not separator or not callable(factory):
        raise TypeError("separator must be a non-empty str and factory callable")
    _FAMILIES[separator] = factory


def get_activation(name):
    """Return the registered :class:`Activation` called ``name``.

    Names of the form ``"relu~0.5"`` denote the noise average ``E[relu(a + 0.5*xi)]`` of a
    registered activation (see :func:`brian_noisy_rnn.analysis.compensate`); they are
    registered on first use.

    Parameters
    ----------
    name : str or Activation
        A registered name (or a ``"<base>~<sigma>"`` name); an Activation is returned as is.

    Returns
    -------
    Activation
        The registered activation.

    Raises
    ------
    ValueError
        Naming ``activation`` and listing the known names, if ``name`` is unknown.
    """
    if isinstance(name, Activation):
        return name
    if isinstance(name, str) and name not in ACTIVATIONS:
        for separator, factory in _FAMILIES.items():
            if separator in name:  # e.g. "<base>~<sigma>", created on demand
                return factory(name)
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]
