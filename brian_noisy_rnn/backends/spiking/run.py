"""The ``"brian2-spiking"`` backend of :func:`~brian_noisy_rnn.simulate`, and measurements
of a spiking realization's effective noise by simulation."""

import math
import numbers

import numpy as np

import brian2
from brian2 import Hz, second

from ...core.noise import Noise, per_step_sigma
from ...core.spec import CTRNNSpec, check_spec
from ...core.units import to_seconds
from ...core.validation import as_dimensionless, check_choice, check_int
from ..backend import Backend, register_backend
from ..brian2.base import codegen_target, is_standalone_device
from ..brian2.run import run_brian2
from ..random_state import keeps_random_state
from .effective_noise import (check_nonnegative_activation, check_nonnegative_time, check_rate,
                              population_for_sigma)
from .realization import NEURON_MODELS, SpikingRealization

__all__ = ["NOISE_AS", "SpikingBackend", "TARGETS", "membrane_options", "measure_effective_sigma", "resolve_population", "run_spiking"]

TARGETS = ("numpy", "cython")
#: how run_spiking reads its ``noise`` argument
NOISE_AS = ("count", "membrane")


def resolve_population(spec, noise, neurons_per_unit, rate_max, tau_syn):
    """Neurons per unit and rate for a run: given explicitly, or derived from ``noise``.

    With ``neurons_per_unit=None`` the noise's (scalar) sigma is read as the target
    effective sigma (:func:`population_for_sigma`); sigma = 0 returns ``(None, rate_max)``,
    the infinite-population limit (the rate network itself).
    """
    if neurons_per_unit is not None:
        return check_int(neurons_per_unit, "neurons_per_unit"), rate_max
    if not noise.is_scalar:
        raise ValueError("backend 'brian2-spiking' derives neurons_per_unit from the noise's "
                         "sigma, which must then be a scalar; pass neurons_per_unit= instead")
    if not noise.is_active:
        return None, rate_max
    sigma = per_step_sigma(noise.scalar_sigma(), noise.scale, spec.gamma)  # in its scale
    return population_for_sigma(sigma, dt=spec.dt, tau=spec.tau,
                                rate_max=rate_max, tau_syn=tau_syn)


def membrane_options(noise):
    """The :class:`SpikingRealization` membrane-noise keywords that realize ``noise``.

    Parameters
    ----------
    noise : Noise
        Placement "pre" (noise inside f: each neuron's membrane noise, sigma in the units of
        the drive ``a``) with process "white" (a draw per network step) or "ou" (correlation
        time ``tau_noise``), or placement "none" / sigma 0 (no membrane noise).

    Returns
    -------
    dict with ``membrane_sigma`` (float), ``membrane_process`` (str) and ``membrane_tau``
    (Brian2 time or None).
    """
    if not noise.is_active:
        return dict(membrane_sigma=0.0, membrane_process="white", membrane_tau=None)
    if noise.placement != "pre":
        raise ValueError(f"noise_as='membrane' realizes noise inside f (placement 'pre') as "
                         f"membrane noise; got noise with placement {noise.placement!r}")
    if not noise.is_scalar:
        raise ValueError("noise_as='membrane' needs one sigma for all units (a scalar noise "
                         "sigma), got a per-neuron sigma")
    if noise.scale != "per_step":
        raise ValueError(f"noise_as='membrane' takes sigma per step (scale 'per_step'), got "
                         f"scale {noise.scale!r}: give Noise('pre', per_step_sigma(...))")
    return dict(membrane_sigma=noise.scalar_sigma(), membrane_process=noise.process,
                membrane_tau=noise.tau_noise if noise.process == "ou" else None)


def _plain_alias(value, plain, unit, name, plain_name, default, allow_zero):
    """Combine ``name`` (a quantity) and its unit-suffixed float alias ``plain_name``."""
    if plain is None:
        return default if value is None else value
    if value is not None:
        raise ValueError(f"give either {name} or {plain_name}, not both")
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise TypeError(f"{plain_name} must be a number, got {plain!r}")
    plain = float(plain)
    if not math.isfinite(plain) or plain < 0 or (plain == 0 and not allow_zero):
        raise ValueError(f"{plain_name} must be a finite number {'>= 0' if allow_zero else '> 0'}, "
                         f"got {plain!r}")
    return plain * unit


def run_spiking(spec, inputs, noise, seed, *, neurons_per_unit=None, rate_max=None,
                tau_syn=None, neuron_model="poisson", substeps=None, target="numpy",
                report=None, tau_m=10e-3 * second, t_ref=0 * second, rate_max_hz=None,
                tau_syn_ms=None, noise_as="count"):
    """Simulate ``spec`` as a :class:`SpikingRealization` (``simulate`` backend "brian2-spiking").

    Parameters
    ----------
    spec : CTRNNSpec
        The network (non-negative activation).
    inputs : float64 array (T, B, n_in)
        Checked inputs.
    noise : Noise
        Read as ``noise_as`` says. With ``noise_as="count"`` (default) spiking variability
        is this backend's noise: the noise model's placement and process are not simulated.
        With ``neurons_per_unit=None`` its scalar sigma is the target effective sigma
        (equivalent post-activation Poisson noise, :func:`population_for_sigma` chooses M
        and adjusts the rate); sigma = 0 (or placement "none") is the infinite-population
        limit, which is the noise-free rate network and is run as such (backend "brian2"
        without noise).
    seed : int or None
        ``brian2.seed`` before the network is built.
    neurons_per_unit : int or None
        M >= 1 neurons per unit; None: derived from ``noise`` (see there).
    rate_max : Brian2 frequency or None
        Rate at f(a) = 1 (None: 100*Hz).
    tau_syn : Brian2 time or None
        Extra synaptic filter (see :class:`SpikingRealization`).
    neuron_model : {"poisson", "lif"}
        See :class:`SpikingRealization`.
    substeps : int or None
        Fine steps per network step (see :class:`SpikingRealization`).
    target : {"numpy", "cython"}
        Brian2 code-generation target.
    report : str or None
        Passed to ``Network.run`` (e.g. "text").
    tau_m : Brian2 time
        LIF membrane time constant.
    t_ref : Brian2 time
        LIF refractory period.
    rate_max_hz : float or None
        Alternative to ``rate_max`` in Hz, for configuration files (e.g.
        ``[backend_options.brian2-spiking]`` of an experiment grid).
    tau_syn_ms : float or None
        Alternative to ``tau_syn`` in ms, for configuration files.
    noise_as : {"count", "membrane"}
        ``"count"``: ``noise`` sets (or, with ``neurons_per_unit`` given, does not affect)
        the spike-count noise, as described above. ``"membrane"``: ``noise`` is each
        neuron's membrane noise inside its transfer (:func:`membrane_options`: placement
        "pre", sigma = ``membrane_sigma`` in units of the drive, process "white" per network
        step or "ou" with ``tau_noise``); ``neurons_per_unit`` is then required. This is how
        ``noise_preference(..., backend="brian2-spiking", noise_as="membrane",
        neurons_per_unit=M)`` sweeps the membrane noise. ``tau_noise`` must be >= dt there
        (``Noise`` checks it); shorter correlation times: :class:`SpikingRealization`.

    Returns
    -------
    outputs : float64 array (T, B, n_out)
        ``outputs[t] = w_out states[t] + b_out``.
    states : float64 array (T, B, N)
        ``states[t]`` = h after the step that consumed ``inputs[t]``.
    """
    check_spec(spec)  # h-form only: the spiking realisation filters rates
    check_choice(target, "target", TARGETS)
    check_nonnegative_activation(spec.activation)
    rate_max = _plain_alias(rate_max, rate_max_hz, Hz, "rate_max", "rate_max_hz", 100 * Hz,
                            allow_zero=False)
    tau_syn = _plain_alias(tau_syn, tau_syn_ms, 1e-3 * second, "tau_syn", "tau_syn_ms", None,
                           allow_zero=True)
    check_rate(rate_max)
    check_nonnegative_time(tau_syn)
    check_choice(neuron_model, "neuron_model", NEURON_MODELS)
    if is_standalone_device():
        raise RuntimeError("run_spiking needs Brian2's runtime device; call "
                           "brian2.device.reinit() and brian2.set_device('runtime') first")
    check_choice(noise_as, "noise_as", NOISE_AS)
    membrane = {}
    if noise_as == "membrane":
        if neurons_per_unit is None:
            raise ValueError("noise_as='membrane' needs neurons_per_unit (the population size "
                             "is not derived from the membrane noise's sigma)")
        membrane = membrane_options(noise)
    m, rate = resolve_population(spec, noise, neurons_per_unit, rate_max, tau_syn)
    if m is None:
        return run_brian2(spec, inputs, Noise("none"), seed, target=target, report=report)
    with codegen_target(target):
        return _build_and_run(spec, inputs, seed, report, dict(
            neurons_per_unit=m, rate_max=rate, tau_syn=tau_syn, neuron_model=neuron_model,
            substeps=substeps, tau_m=tau_m, t_ref=t_ref, **membrane))


def _build_and_run(spec, inputs, seed, report, kwargs):
    T, B, _ = inputs.shape
    brian2.seed(seed)
    net_obj = SpikingRealization(spec, n_trials=B, name="spikingctrnn_run", **kwargs)
    net_obj.set_inputs(inputs, start=0 * second)
    mon = brian2.StateMonitor(net_obj.units, "h", record=True, dt=spec.dt, when="start",
                              name="spikingctrnn_run_states")
    net = brian2.Network(net_obj, mon)
    net.run(T * spec.dt, report=report, namespace={})
    net_obj.check_saturation()
    h = np.asarray(mon.variables["h"].get_value())  # (T, B*N): h_0 .. h_{T-1}
    final = np.asarray(net_obj.units.variables["h"].get_value())[None]
    states = np.concatenate([h[1:], final]).reshape(T, B, spec.n_hidden)
    outputs = states @ spec.w_out.T + spec.b_out
    return outputs, states.copy()


@keeps_random_state
def measure_effective_sigma(*, dt, tau, neurons_per_unit, rate_max, tau_syn=None,
                            neuron_model="poisson", substeps=None, activity=1.0, n_units=100,
                            n_steps=400, burn_in=None, seed=0, target="numpy", **options):
    """Measure the effective noise sigma of a spiking realization by simulation.

    Runs ``n_units`` isolated units (``w_rec = 0``, relu, bias = ``activity``, started at
    ``h = activity``) as a :class:`~brian_noisy_rnn.SpikingRealization` and converts the
    stationary variance of ``h`` into the sigma of ``Noise("post", sigma, process="poisson")``
    that gives the same variance: ``Var h = g sigma**2 f / (2 - g)``, ``g = dt/tau``.
    (The noise depends on the firing rate only, not on the shape of f.)

    Parameters
    ----------
    dt : Brian2 time
        The rate network's step.
    tau : Brian2 time
        The rate network's time constant.
    neurons_per_unit : int
        M >= 1 neurons per unit.
    rate_max : Brian2 frequency
        Rate at f(a) = 1.
    tau_syn : Brian2 time or None
        Extra synaptic filter (as for :class:`~brian_noisy_rnn.SpikingRealization`).
    neuron_model : {"poisson", "lif"}
        As for :class:`~brian_noisy_rnn.SpikingRealization`.
    substeps : int or None
        Fine steps per network step (None: the realization's default).
    activity : float
        > 0, f(a) of the units (their rate is ``rate_max * activity``).
    n_units : int
        Independent units simulated.
    n_steps : int
        Network steps simulated (>= 2).
    burn_in : int or None
        Steps discarded (None: 5 tau, at least 1).
    seed : int
        Brian2 seed of the run.
    target : {"numpy", "cython"}
        Brian2 code-generation target.
    **options : keyword arguments
        Passed on to the realization (``tau_m``, ``t_ref``).

    Returns
    -------
    sigma : float
        The effective sigma.
    standard_error : float
        Its standard error, from the spread over the independent units.
    mean_activity : float
        The mean of ``h`` (equal to ``activity`` up to sampling error for Poisson neurons;
        LIF rates carry a small bias).
    """
    activity = as_dimensionless(activity, "activity")
    if activity.ndim != 0 or not np.isfinite(activity) or activity <= 0:
        raise ValueError(f"activity must be a finite positive number, got {activity!r}")
    activity = float(activity)
    n_units = check_int(n_units, "n_units")
    n_steps = check_int(n_steps, "n_steps", minimum=2)
    dt_s, tau_s = to_seconds(dt, "dt"), to_seconds(tau, "tau")
    if burn_in is None:
        burn_in = max(1, int(math.ceil(5 * tau_s / dt_s)))
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    if burn_in >= n_steps - 1:
        raise ValueError(f"burn_in ({burn_in}) must be smaller than n_steps - 1 ({n_steps - 1})")
    n = n_units
    spec = CTRNNSpec(np.zeros((n, 1)), np.zeros((n, n)), np.full(n, activity),
                     np.zeros((1, n)), np.zeros(1), tau=tau, dt=dt,
                     activation="relu", h0=np.full(n, activity))
    _, states = run_spiking(spec, np.zeros((n_steps, 1, 1)), spec.noise, seed,
                            neurons_per_unit=neurons_per_unit, rate_max=rate_max,
                            tau_syn=tau_syn, neuron_model=neuron_model, substeps=substeps,
                            target=target, **options)
    h = states[burn_in:, 0, :]  # (T', n): independent units
    g = dt_s / tau_s
    mean = float(h.mean())
    per_unit = ((h - mean) ** 2).mean(axis=0)  # centred on the grand mean (no per-chain bias)
    var, var_se = float(per_unit.mean()), float(per_unit.std(ddof=1) / np.sqrt(n))
    scale = (2.0 - g) / (g * mean)
    sigma = math.sqrt(var * scale)
    return sigma, 0.5 * sigma * var_se / var if var > 0 else 0.0, mean


class SpikingBackend(Backend):
    """``backend="brian2-spiking"``: :func:`run_spiking` (a :class:`SpikingRealization`)."""

    name = "brian2-spiking"

    run = staticmethod(run_spiking)

    def check_options(self, options, name="options"):
        super().check_options(options, name)
        if "target" in options and options["target"] not in TARGETS:
            raise ValueError(f"{name}.target must be one of {TARGETS}, got {options['target']!r}")
        noise_as = options.get("noise_as", "count")
        if noise_as not in NOISE_AS:
            raise ValueError(f"{name}.noise_as must be one of {NOISE_AS}, got {noise_as!r}")
        if noise_as == "membrane" and options.get("neurons_per_unit") is None:
            raise ValueError(f"{name}.neurons_per_unit is required with noise_as = 'membrane' "
                             "(the population size is not derived from the membrane noise)")
        return options

    def check_sweep(self, options):
        """With ``neurons_per_unit`` given, only ``noise_as="membrane"`` makes sigma matter.

        Parameters
        ----------
        options : dict
            Keyword options for :meth:`run`.
        """
        if options.get("noise_as") != "membrane" and options.get("neurons_per_unit") is not None:
            # spike-count noise is set by the population size: with M given, the test sigma
            # would change nothing and the curve would be flat
            raise ValueError("noise_preference on 'brian2-spiking' with neurons_per_unit given "
                             "needs noise_as='membrane' (the swept sigma is then each neuron's "
                             "membrane noise); with noise_as='count' the swept sigma sets the "
                             "spike-count noise through the population size, so leave "
                             "neurons_per_unit out")

    def test_placement(self, options):
        """``"pre"`` with ``noise_as="membrane"`` (membrane noise is noise inside each f)."""
        return "pre" if options.get("noise_as") == "membrane" else None


register_backend(SpikingBackend())
