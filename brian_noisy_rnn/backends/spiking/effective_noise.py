"""The noise of the spiking realization, as an equivalent rate-network noise level.

Effective noise (Poisson neurons). Given ``a_n``, the count noise of ``y_n`` is independent
across steps with variance ``f(a_n) (1 - p) / (M rate_max dt)``, which is exactly the
per-step variance of ``Noise("post", sigma_eff, process="poisson")``
(``f(a) + sigma sqrt(f(a)) xi``) with

    sigma_eff**2 = (1 - p) / (M * rate_max * dt)                           (tau_syn = 0)

With ``tau_syn > 0`` the binned trace is correlated across steps; matching the stationary
variance of ``h`` of an isolated unit (continuous-time trace, ``x = tau_syn/dt``,
``q = exp(-1/x)``, ``a = 1 - g``) multiplies ``sigma_eff**2`` by
``kappa = c0 + 2 a c1 / (1 - a q)``, ``c0 = 1 - x (1 - q)``, ``c1 = x (1 - q)**2 / 2``
(``kappa -> 1`` as ``tau_syn -> 0``). See :func:`effective_sigma` and docs/noise_models.md.

:func:`~brian_noisy_rnn.backends.spiking.measure_effective_sigma` measures it by simulation (for LIF neurons, whose regular
firing has no closed form here, and as a check of the formula).
"""

import math

import numpy as np
from brian2 import Hz, second
from brian2.units.fundamentalunits import Quantity, get_dimensions

from ...core.activations import get_activation
from ...core.validation import check_int
from ...core.units import to_seconds, unit_error
from ...core.validation import as_dimensionless

#: default fine step: at most this expected number of spikes per neuron and fine step at f = 1
DEFAULT_MAX_P = 0.05
#: The most fine steps per network step (a rate_max whose default needs more is refused)
MAX_SUBSTEPS = 10_000

# --- validation -----------------------------------------------------------------------------


def check_nonnegative_activation(activation):
    """Raise ValueError unless ``activation`` (name) is non-negative everywhere.

    Firing rates are ``rate_max * f(a)``, so ``f`` must not take negative values (relu,
    softplus, sigmoid and retanh qualify; tanh does not).
    """
    act = get_activation(activation)
    grid = np.concatenate([-np.logspace(-6, 3, 200), [0.0], np.logspace(-6, 3, 200)])
    if np.min(act.numpy(grid)) < 0:
        raise ValueError(
            f"the spiking realization needs a non-negative activation (firing rates are "
            f"rate_max*f(a)); activation {act.name!r} takes negative values. Use relu, "
            "softplus, sigmoid or retanh")
    return act.name


def check_rate(rate_max, name="rate_max"):
    """``rate_max`` (a Brian2 frequency such as 100*Hz, > 0) as a float in Hz.

    Raises Brian2's ``DimensionMismatchError`` (also a TypeError) for a quantity of another
    dimension, TypeError for a plain number, ValueError for a value that is not > 0.
    """
    if isinstance(rate_max, Quantity) and get_dimensions(rate_max) != Hz.dim:
        raise unit_error(name, rate_max, "a Brian2 frequency such as 100*Hz")
    if not isinstance(rate_max, Quantity) or get_dimensions(rate_max) != Hz.dim:
        raise TypeError(f"{name} must be a Brian2 frequency quantity such as 100*Hz, got "
                        f"{rate_max!r} ({type(rate_max).__name__})")
    value = np.asarray(rate_max / Hz, dtype=float)
    if value.ndim != 0 or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive scalar frequency, got {rate_max!r}")
    return float(value)


def check_nonnegative_time(tau_syn, name="tau_syn"):
    """``tau_syn`` (None, 0*ms or a positive Brian2 time) as seconds (0.0 = no extra filter)."""
    if tau_syn is None:
        return 0.0
    if isinstance(tau_syn, Quantity) and get_dimensions(tau_syn) == second.dim \
            and np.asarray(tau_syn).ndim == 0 and float(tau_syn / second) == 0.0:
        return 0.0
    return to_seconds(tau_syn, name)


def check_substeps(substeps, dt_seconds, rate_max_hz):
    """The number of fine steps per network step: ``substeps`` or the default
    ``ceil(rate_max * dt / DEFAULT_MAX_P)`` (spike probability <= 0.05 per fine step at f = 1)."""
    if substeps is None:
        needed = rate_max_hz * dt_seconds / DEFAULT_MAX_P
        if needed > MAX_SUBSTEPS:
            raise ValueError(f"rate_max = {rate_max_hz:g} Hz needs {needed:.3g} fine steps per "
                             f"network step of {dt_seconds * 1e3:g} ms (spike probability <= "
                             f"{DEFAULT_MAX_P} per fine step), more than MAX_SUBSTEPS = "
                             f"{MAX_SUBSTEPS}; use a lower rate_max")
        return max(1, int(math.ceil(needed - 1e-9)))
    return check_int(substeps, "substeps", maximum=MAX_SUBSTEPS + 1)


# --- effective noise ------------------------------------------------------------------------


def effective_sigma(*, dt, tau, neurons_per_unit, rate_max, tau_syn=None, substeps=None,
                    activity=0.0):
    """The sigma of the post-activation Poisson noise equivalent to Poisson spiking.

    The realization's noise on a unit with activity ``f(a)`` has the variance of
    ``Noise("post", sigma_eff, process="poisson")``: ``sigma_eff**2 * f(a)`` per step (see
    the module docstring for the derivation).

    Parameters
    ----------
    dt : Brian2 time
        The rate network's step.
    tau : Brian2 time
        The rate network's time constant.
    neurons_per_unit : int
        M >= 1.
    rate_max : Brian2 frequency
        Firing rate per neuron at f(a) = 1.
    tau_syn : Brian2 time or None
        Extra synaptic filter; 0*ms or None: none.
    substeps : int or None
        Fine steps per step (None: the default of the realization).
    activity : float or array
        f(a) at which to evaluate the Bernoulli correction ``1 - p``
        (``p = rate_max * f(a) * dt / substeps``); 0 gives the Poisson limit.

    Returns
    -------
    float or array
        Dimensionless; an array of the shape of ``activity`` for an array.
    """
    dt_s, tau_s = to_seconds(dt, "dt"), to_seconds(tau, "tau")
    m = check_int(neurons_per_unit, "neurons_per_unit")
    r = check_rate(rate_max)
    ts = check_nonnegative_time(tau_syn)
    k = check_substeps(substeps, dt_s, r)
    return effective_sigma_seconds(dt_s, tau_s, m, r, ts, k, as_dimensionless(activity, "activity"))


def effective_sigma_seconds(dt_s, tau_s, m, r, tau_syn_s, k, activity=0.0):
    """:func:`effective_sigma` from plain numbers (dt, tau, tau_syn in s; rate r in Hz; k substeps)."""
    p = np.clip(r * np.asarray(activity, dtype=float) * dt_s / k, 0.0, 1.0)
    var = (1.0 - p) / (m * r * dt_s) * _syn_factor(dt_s, tau_s, tau_syn_s)
    out = np.sqrt(var)
    return float(out) if out.ndim == 0 else out


def _syn_factor(dt_s, tau_s, tau_syn_s):
    """kappa: variance factor of binning an exponentially filtered spike train (1 if tau_syn=0)."""
    if tau_syn_s == 0.0:
        return 1.0
    x = tau_syn_s / dt_s
    q = math.exp(-1.0 / x)
    a = 1.0 - dt_s / tau_s
    c0 = 1.0 - x * (1.0 - q)
    c1 = 0.5 * x * (1.0 - q) ** 2
    return c0 + 2.0 * a * c1 / (1.0 - a * q)


def population_for_sigma(sigma, *, dt, tau, rate_max=100 * Hz, tau_syn=None):
    """Neurons per unit and rate that realise effective Poisson noise ``sigma`` (Poisson limit).

    ``M = max(1, round(kappa / (sigma**2 rate_max dt)))`` neurons, and the rate is then
    adjusted to ``kappa / (M sigma**2 dt)`` so that :func:`effective_sigma` (at activity 0)
    equals ``sigma`` exactly.

    Returns
    -------
    (neurons_per_unit : int, rate_max : Brian2 frequency)
    """
    sigma = as_dimensionless(sigma, "sigma")
    if sigma.ndim != 0 or not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a finite positive number, got {sigma!r}")
    sigma = float(sigma)
    dt_s, tau_s = to_seconds(dt, "dt"), to_seconds(tau, "tau")
    r = check_rate(rate_max)
    kappa = _syn_factor(dt_s, tau_s, check_nonnegative_time(tau_syn))
    m = max(1, int(round(kappa / (sigma ** 2 * r * dt_s))))
    return m, kappa / (m * sigma ** 2 * dt_s) * Hz
