"""Noise averages of activations, and *noise-averaged activations* as registered activations.

``noisy_activation(name, a, sigma)`` is ``E[f(a + sigma*xi)]``, ``xi ~ N(0, 1)`` (a thin,
validated wrapper of :meth:`Activation.noise_average_and_derivative`, which holds the
closed form for relu and the quadrature for the others).

A *noise-averaged activation* is the deterministic function ``g_s(x) = E[f(x + s*xi)]``
packaged as an :class:`~brian_noisy_rnn.core.activations.Activation` named ``"<base>~<s>"``
(e.g. ``"relu~0.5"``), with numpy, PyTorch and Brian2 forms, so that a network using it
runs on every backend (see :func:`~brian_noisy_rnn.analysis.compensate`). ``s`` is written
with ``repr(float(s))``, which round-trips exactly, so the name survives ``spec.save`` /
``CTRNNSpec.load`` once :func:`ensure_activation` is called for unknown names.

Forms of ``g_s``
----------------
relu (closed form): ``g_s(x) = x*Phi(x/s) + s*phi(x/s)``, ``g_s'(x) = Phi(x/s)``. numpy
uses ``scipy.special.ndtr``, PyTorch ``torch.special.ndtr``, Brian2 a function
``bnr_ndtr`` (``0.5*erfc(-x/sqrt(2))``) that this module adds to Brian2's
``DEFAULT_FUNCTIONS`` with numpy, Cython and C++ implementations (Brian2 has no ``erf``),
so every code-generation target runs it.

other activations (no closed form): numpy uses the core's split Gauss-Legendre quadrature
(accurate to ~1e-12), PyTorch the same rule written in torch (same nodes, agrees to float
precision, differentiable), Brian2 a ``Function`` with the numpy implementation only: it
runs on Brian2's ``numpy`` target; the Cython and C++ targets raise Brian2's "function not
available" error for these names.
"""

import math
import re

import numpy as np
from scipy.special import ndtr

from .activations import (
    ACTIVATIONS,
    Activation,
    get_activation,
    normal_pdf,
    register_activation,
    register_activation_family,
    relu_noise_average,
    split_quadrature,
)
from .validation import as_dimensionless

SEPARATOR = "~"
#: The largest sigma of a noise-averaged activation: beyond it ``g_s(x)`` is about
#: ``s/sqrt(2*pi) + x/2`` for any useful ``x``, the x-dependence is lost in rounding, and
#: the backends' forms disagree (relu~1e200: 1.5e-4 between Brian2 and numpy).
MAX_AVERAGING_SIGMA = 1e6
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_NAME_RE = re.compile(r"^(?P<base>[A-Za-z_][A-Za-z0-9_]*)~(?P<sigma>[0-9.eE+\-]+)$")


def noisy_activation(name, a, sigma, *, derivative=False):
    """``E[f(a + sigma*xi)]``, ``xi ~ N(0, 1)``, elementwise, for a registered activation.

    relu has the closed form ``a*Phi(a/sigma) + sigma*phi(a/sigma)`` (derivative
    ``Phi(a/sigma)``); the others use Gauss-Legendre quadrature split at the kink
    (error ~1e-12).

    Parameters
    ----------
    name : str or Activation
        E.g. ``"relu"`` (noise-averaged names like ``"relu~0.5"`` work too).
    a : float array, any shape
        Pre-activation, dimensionless.
    sigma : float or float array broadcastable to ``a``
        Standard deviation of the noise inside f, >= 0.
    derivative : bool
        Also return ``d/da E[f(a + sigma*xi)] = E[f'(a + sigma*xi)]``.

    Returns
    -------
    mean : float64 array
        Of the broadcast shape (``f(a)`` where sigma == 0).
    dmean_da : float64 array
        Of the broadcast shape; only if ``derivative`` (then ``(mean, dmean_da)`` is
        returned).
    """
    act = ensure_activation(name) if isinstance(name, str) else get_activation(name)
    a = _as_float_array(a, "a")
    sigma = _as_float_array(sigma, "sigma")
    if np.any(sigma < 0):
        raise ValueError(f"sigma must be >= 0, got min {float(np.min(sigma))}")
    try:
        np.broadcast_shapes(a.shape, sigma.shape)
    except ValueError:
        raise ValueError(f"sigma of shape {sigma.shape} does not broadcast to a of shape {a.shape}")
    mean, deriv = act.noise_average_and_derivative(a, sigma)
    return (mean, deriv) if derivative else mean


def noise_variance(name, a, sigma):
    """``Var[f(a + sigma*xi)]`` elementwise (float64, broadcast shape of ``a`` and ``sigma``).

    Used for the variance a pre-activation-noise step injects into the state. relu has the
    closed form ``E[f^2] = (a^2 + s^2) Phi(a/s) + a s phi(a/s)``; others use the core
    quadrature applied to ``f**2``.

    Parameters
    ----------
    name : str or Activation
        The activation f.
    a : float array, any shape
        Pre-activation, dimensionless.
    sigma : float or float array broadcastable to ``a``
        Standard deviation of the noise inside f, >= 0.

    Returns
    -------
    float64 array
        The variance (>= 0), of the broadcast shape.
    """
    act = get_activation(name)
    a, sigma = np.broadcast_arrays(_as_float_array(a, "a"), _as_float_array(sigma, "sigma"))
    mean = act.noise_average(a, sigma)
    if act.name == "relu":
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0, a / np.where(sigma > 0, sigma, 1.0), 0.0)
        second = np.where(sigma > 0, (a * a + sigma * sigma) * ndtr(z) + a * sigma * normal_pdf(z),
                          np.maximum(a, 0.0) ** 2)
    else:
        sq = Activation(f"{act.name}^2", numpy=lambda x: act.numpy(x) ** 2, torch=None,
                        brian2_template="", derivative=lambda x: 2 * act.numpy(x) * act.derivative(x),
                        kink=act.kink)
        second = sq.noise_average(a, sigma)
    return np.maximum(second - mean * mean, 0.0)


# --- noise-averaged activations ------------------------------------------------------------
class NoiseAveragedActivation(Activation):
    """``g_s(x) = E[f(x + s*xi)]`` as an Activation (see the module docstring for its forms).

    Its own ``noise_average(x, t)`` is exact: ``E[g_s(x + t*xi)] = g_sqrt(s^2+t^2)(x)``.
    Besides those of :class:`Activation` it has the attributes below.

    Attributes
    ----------
    base : str
        Name of f.
    sigma : float
        The noise standard deviation s > 0.
    """

    def brian2(self, x):
        """The Brian2 expression of g_s applied to ``x``; registers the helper functions first.

        Parameters
        ----------
        x : str
            A Brian2 expression (e.g. a variable name).

        Returns
        -------
        str
            The Brian2 expression of ``g_s(x)``.
        """
        _register_brian2_functions(self.base)
        return super().brian2(x)


def averaged_name(base, sigma):
    """The registry name ``"<base>~<repr(sigma)>"`` of the noise-averaged activation.

    Parameters
    ----------
    base : str or Activation
        A plain (not noise-averaged) registered activation.
    sigma : float
        The noise standard deviation, > 0 and at most :data:`MAX_AVERAGING_SIGMA`.

    Returns
    -------
    str
        E.g. ``"relu~0.5"``.
    """
    base = get_activation(base).name
    if isinstance(get_activation(base), NoiseAveragedActivation):
        raise ValueError(f"base must be a plain activation, got the noise-averaged {base!r}")
    sigma = _check_averaging_sigma(sigma, "sigma")
    return f"{base}{SEPARATOR}{float(sigma)!r}"


def parse_averaged_name(name):
    """``(base, sigma)`` for a name like ``"relu~0.5"``, or None if ``name`` has no ``~``.

    Parameters
    ----------
    name : str
        An activation name.

    Returns
    -------
    tuple of (str, float) or None
        The base activation's name and sigma > 0.

    Raises
    ------
    ValueError
        Naming ``activation``, if the name has a ``~`` but is malformed.
    """
    if not isinstance(name, str) or SEPARATOR not in name:
        return None
    m = _NAME_RE.match(name)
    if m is None:
        raise ValueError(f"activation: {name!r} is not of the form '<name>~<sigma>' (e.g. 'relu~0.5')")
    try:
        sigma = float(m.group("sigma"))
    except ValueError:
        raise ValueError(f"activation: sigma in {name!r} is not a number")
    base = m.group("base")
    if base not in ACTIVATIONS or isinstance(ACTIVATIONS[base], NoiseAveragedActivation):
        raise ValueError(f"activation: base of {name!r} must be one of "
                         f"{sorted(k for k in ACTIVATIONS if SEPARATOR not in k)}")
    return base, _check_averaging_sigma(sigma, f"sigma in activation {name!r}")


def _check_averaging_sigma(sigma, name):
    """``sigma`` checked (finite, > 0) and at most MAX_AVERAGING_SIGMA."""
    sigma = _check_sigma(sigma, name)
    if sigma > MAX_AVERAGING_SIGMA:
        raise ValueError(f"{name} = {sigma!r} is larger than MAX_AVERAGING_SIGMA = "
                         f"{MAX_AVERAGING_SIGMA:g}: the noise average of such a sigma is a "
                         "constant plus rounding, and the backends would disagree")
    return sigma


def noise_averaged_activation(base, sigma):
    """The registered Activation ``"<base>~<sigma>"`` = ``E[f(x + sigma*xi)]`` (created on first use).

    Parameters
    ----------
    base : str
        A plain registered activation ("relu", "tanh", ...).
    sigma : float
        The noise standard deviation, > 0 (a scalar: per-neuron sigma cannot be expressed
        by one activation).

    Returns
    -------
    NoiseAveragedActivation
        Also registered under its name in ``ACTIVATIONS``.
    """
    name = averaged_name(base, sigma)
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    return register_activation(_build(get_activation(base), float(sigma), name))


def ensure_activation(name):
    """Return the activation called ``name``, registering ``"<base>~<sigma>"`` names on demand.

    This is the hook for :func:`brian_noisy_rnn.core.activations.get_activation` (so that specs
    using noise-averaged activations load in a fresh process). Unknown plain names raise
    get_activation's ValueError.

    Parameters
    ----------
    name : str or Activation
        A registered name or a ``"<base>~<sigma>"`` name; an Activation is returned as is.

    Returns
    -------
    Activation
    """
    if isinstance(name, Activation):
        return name
    if isinstance(name, str) and name not in ACTIVATIONS:
        parsed = parse_averaged_name(name)
        if parsed is not None:
            act = noise_averaged_activation(*parsed)
            if act.name != name:  # e.g. "relu~0.50" -> "relu~0.5": register the alias too
                ACTIVATIONS.setdefault(name, act)
            return act
        if SEPARATOR in name:
            raise ValueError(f"activation {name!r} is not of the form '<base>{SEPARATOR}<sigma>' "
                             f"with base one of {sorted(k for k in ACTIVATIONS if SEPARATOR not in k)}")
    return get_activation(name)


def _build(base, s, name):
    if base.name == "relu":
        def numpy_f(x):
            x = np.asarray(x, float)
            z = x / s
            return x * ndtr(z) + s * normal_pdf(z)

        def deriv(x):
            return ndtr(np.asarray(x, float) / s)

        def torch_f(x):
            import torch

            z = x / s
            return x * torch.special.ndtr(z) + s * _INV_SQRT_2PI * torch.exp(-0.5 * z * z)

        template = (f"({{x}}*bnr_ndtr({{x}}/{s!r}) + {s * _INV_SQRT_2PI!r}"
                    f"*exp(-0.5*({{x}}/{s!r})**2))")

        def closed(x, t):
            return relu_noise_average(x, np.sqrt(s * s + t * t))
    else:
        def numpy_f(x):
            return base.noise_average(x, s)

        def deriv(x):
            return base.noise_average_and_derivative(x, s)[1]

        def torch_f(x):
            import torch

            kink = 0.0 if base.kink is None else base.kink
            return split_quadrature((base.torch,), x, s, kink, xp=torch)[0]

        template = f"bnr_avg_{base.name}({{x}}, {s!r})"

        def closed(x, t):
            return base.noise_average_and_derivative(x, np.sqrt(s * s + t * t))
    act = NoiseAveragedActivation(name, numpy=numpy_f, torch=torch_f, brian2_template=template,
                                  derivative=deriv, kink=None, closed_form_average=closed)
    object.__setattr__(act, "base", base.name)
    object.__setattr__(act, "sigma", s)
    return act


_NDTR_CPP = """
#include <cmath>
double bnr_ndtr(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
"""
_NDTR_CYTHON = """
from libc.math cimport erfc as _bnr_erfc
cdef double bnr_ndtr(double x):
    return 0.5 * _bnr_erfc(-x * 0.70710678118654752440)
"""


def _register_brian2_functions(base):
    """Add ``bnr_ndtr`` (relu) or ``bnr_avg_<base>`` (others) to Brian2's DEFAULT_FUNCTIONS."""
    from brian2.core.functions import DEFAULT_FUNCTIONS, Function

    if base == "relu":
        if "bnr_ndtr" not in DEFAULT_FUNCTIONS:
            fn = Function(lambda x: ndtr(x), arg_units=[1], return_unit=1,
                          arg_types=["float"], return_type="float")
            fn.implementations.add_implementation("cpp", _NDTR_CPP)
            fn.implementations.add_implementation("cython", _NDTR_CYTHON)
            DEFAULT_FUNCTIONS["bnr_ndtr"] = fn
        return
    key = f"bnr_avg_{base}"
    if key not in DEFAULT_FUNCTIONS:
        act = get_activation(base)
        DEFAULT_FUNCTIONS[key] = Function(
            lambda x, s: act.noise_average(x, s), arg_units=[1, 1], return_unit=1,
            arg_types=["float", "float"], return_type="float")


# --- small helpers ---------------------------------------------------------------------------
def _as_float_array(x, name):
    arr = as_dimensionless(x, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _check_sigma(sigma, name="sigma"):
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float > 0, got {sigma!r}")
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"{name} must be a finite float > 0, got {sigma!r}")
    return sigma


register_activation_family(SEPARATOR, ensure_activation)
