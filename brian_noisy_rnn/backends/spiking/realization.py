"""A spiking realization of a trained rate CTRNN in Brian2, and the ``"brian2-spiking"`` backend.

Each hidden rate unit ``i`` is replaced by a population of ``M = neurons_per_unit`` spiking
neurons. With ``g = dt/tau`` (the rate network's own step), one step of the realization is

    a_n      = w_rec h_n + w_in u_n + b                (held constant during the step)
    rate     = rate_max * f(a_n)                        (Hz, per neuron of unit i's population)
    y_n      = (spikes of the population in [n dt, (n+1) dt)) / (M * rate_max * dt)
    h_{n+1}  = (1 - g) h_n + g y_n                      (the rate network's Euler step)
    z_n      = w_out h_n + b_out

i.e. ``h`` is the population spike train passed through the rate network's own
exponential synapse (time constant ``tau``, binned at ``dt``). Since ``E[y_n] = f(a_n)``, the
mean dynamics are exactly the rate network's, and the realization converges to it as ``M``
grows. The neurons themselves run on a finer clock ``dt / substeps``:

* ``neuron_model="poisson"``: ``rand() < rate*dt_fine`` each fine step (as Brian2's
  ``PoissonGroup``), so the count of a step is Binomial(``M*substeps``, ``p``),
  ``p = rate * dt_fine``;
* ``neuron_model="lif"``: deterministic leaky integrate-and-fire neurons
  (``tau_m dv/dt = I - v``, threshold 1, reset 0, refractory ``t_ref``) whose input current
  ``I`` is the inverse of their f-I curve at the target rate, with random initial
  ``v``: regular firing with random phases (much less variability than Poisson).

Membrane noise (``membrane_sigma > 0``): every neuron ``m`` of unit ``i``'s population gets
its own noise inside its transfer, in the units of the drive ``a``:

    rate_m   = rate_max * f(a_n + membrane_sigma * eta_m)

``eta_m`` is a standard normal process, independent across neurons, units and trials, drawn
with Brian2's ``randn()``: ``membrane_process="white"`` draws it once per network step
(constant over the step's fine substeps, like the rate model's ``Noise("pre", sigma)``);
``"ou"`` is an Ornstein-Uhlenbeck process with correlation time ``membrane_tau`` advanced
exactly on the fine clock (``eta' = rho eta + sqrt(1 - rho**2) xi``,
``rho = exp(-dt_fine/membrane_tau)``), started in its stationary distribution. For Poisson
neurons the noise enters the rate function; for LIF neurons the input current is the one
whose f-I curve gives that noisy rate (a noisy input current, in units of ``a``). A
population's mean rate then approaches ``rate_max * E[f(a + membrane_sigma*xi)]``
(:func:`~brian_noisy_rnn.core.noise_averages.noisy_activation`) as ``M`` grows: the spiking
counterpart of noise inside f. With ``membrane_sigma = 0`` none of this is built and the
realization is exactly the one without membrane noise.

An optional synaptic time constant ``tau_syn`` filters every spike with an exponential
kernel ``exp(-t/tau_syn)/tau_syn`` before it is binned (``y_n`` = mean of the synaptic
trace over the step): it smooths the noise and delays the signal by about ``tau_syn``.

The effective noise level is computed by :mod:`brian_noisy_rnn.backends.spiking.effective_noise`
(:func:`~brian_noisy_rnn.backends.spiking.effective_noise.effective_sigma`; derivation there and in
docs/noise_models.md).
"""

import math
import warnings

import numpy as np

import brian2
from brian2 import Clock, Hz, linked_var, second

from ...core.activations import get_activation
from ...core.noise import Noise
from ...core.units import to_seconds
from ...core.validation import as_dimensionless, check_choice, check_int
from ..brian2.base import IsolatedNeuronGroup, IsolatedSynapses, TrialBatchedObject
from ..brian2.equations import (EXTERNAL_INPUT_EQUATIONS, EXTERNAL_INPUT_READ,
                                READOUT_EQUATIONS, input_equations)
from .effective_noise import (check_nonnegative_activation, check_nonnegative_time, check_rate,
                              check_substeps, effective_sigma_seconds)

__all__ = ["INPUT_SOURCES", "MEMBRANE_PROCESSES", "NEURON_MODELS", "SpikingRealization"]

#: estimated bytes per spiking neuron (its state variables, and its synapses' indices and
#: weights to and from its unit)
_BYTES_PER_NEURON = 128


def _check_population_memory(n_neurons):
    """ValueError naming neurons_per_unit if ``n_neurons`` cannot fit in the memory available."""
    from ...core.run_checks import available_memory

    need, available = _BYTES_PER_NEURON * n_neurons, available_memory()
    if available is not None and need > available:
        raise ValueError(f"neurons_per_unit: {n_neurons} spiking neurons (n_trials x n_hidden x "
                         f"neurons_per_unit) need about {need / 2**30:.3g} GiB, more than the "
                         f"{available / 2**30:.3g} GiB of memory available")

NEURON_MODELS = ("poisson", "lif")
#: where the input drive comes from (``"external"``: a user's group, as for RateCTRNN)
INPUT_SOURCES = ("timed_array", "external")
#: time structures of the membrane noise
MEMBRANE_PROCESSES = ("white", "ou")
#: default correlation time of OU membrane noise (about a membrane time constant)
DEFAULT_MEMBRANE_TAU = 10e-3 * second

# --- the Brian2 object ----------------------------------------------------------------------

_UNIT_EQUATIONS = """
a = I_rec + I_in + I_ext + bias : 1
F = {f} : 1
I_rec : 1
I_in : 1
I_ext : 1
bias : 1 (constant)
h : 1
phase : integer
p_max : 1
"""
# y: binned (normalised) population activity of the current step
_Y_DIRECT = "y : 1\n"
_Y_FILTERED = "y : 1\ns : 1\n"
# with tau_syn: the exact solution over one fine step d of ds/dt = -s/tau_syn,
# dy/dt = s/dt_net (run in the "groups" slot, before this step's spikes arrive)
_TRACE_CODE = """
y = y + s*syn_gain
s = s*syn_decay
"""

# run at the end of every fine step; at the last fine step of a network step it applies
# the rate network's Euler step with the binned activity and starts a new bin
_STEP_CODE = """
last = int(phase == substeps - 1)
h = h + last*g*(y - h)
y = y*(1 - last)
phase = phase + 1 - substeps*last
p_max = p_max + clip(rate_max*F*dt - p_max, 0, inf)
"""

_POISSON_EQUATIONS = """
rate = rate_max*F_unit : Hz
F_unit : 1 (linked)
rate_max : Hz (constant, shared)
"""

# LIF with tau_m dv/dt = I - v, threshold 1, reset 0: rate = 1/(t_ref + tau_m log(I/(I-1)));
# inverted for the target period (minus dt/2 for the threshold detection delay). The period
# is capped at 700 tau_m: Brian2's exact integrator rewrites 1/(1 - exp(-x)) as
# exp(x)/(exp(x) - 1), which overflows to inf/inf = NaN for larger x (a neuron at rate 0
# then kept v = NaN for ever); at 700 tau_m the current is 1.0 in float already (periods
# beyond about 36 tau_m are not representable anyway), so nothing else changes
_LIF_EQUATIONS = """
dv/dt = (I_drive - v)/tau_m : 1 (unless refractory)
I_drive = 1/(1 - exp(-clip(1/(rate + 1e-9*Hz) - t_ref - 0.5*dt, 1e-3*dt, 700*tau_m)/tau_m)) : 1
rate = rate_max*F_unit : Hz
F_unit : 1 (linked)
rate_max : Hz (constant, shared)
tau_m : second (constant, shared)
t_ref : second (constant, shared)
"""


# with membrane noise: each neuron links the unit's drive ``a`` and applies f itself
_NOISY_RATE = """
rate = rate_max*{f} : Hz
a_unit : 1 (linked)
eta : 1
sigma_m : 1 (constant, shared)
"""
_LINKED_RATE = """
rate = rate_max*F_unit : Hz
F_unit : 1 (linked)
"""
# largest spike probability per fine step of each neuron (Poisson neurons with noise)
_P_MAX = "p_max : 1\n"
_P_MAX_CODE = "p_max = p_max + clip(rate*dt - p_max, 0, inf)\n"
# OU membrane noise, exact update over one fine step (after this step's thresholds)
_OU_CODE = "eta = ou_rho*eta + ou_kick*randn()\n"


def _check_membrane_sigma(value):
    """``membrane_sigma`` as a float >= 0 (a dimensionless scalar; quantities with units,
    booleans and non-finite values are errors naming the argument)."""
    arr = as_dimensionless(value, "membrane_sigma")
    if arr.ndim != 0 or not np.isfinite(arr) or arr < 0:
        raise ValueError(f"membrane_sigma must be a finite scalar >= 0, got {value!r}")
    return float(arr)


class SpikingRealization(TrialBatchedObject):
    """A rate CTRNN whose hidden units are populations of spiking neurons, B trials at once.

    ``units.h`` is advanced at the end of the last fine step of every network step, so after
    running a whole number of steps it is the state after the last step. Run for multiples
    of ``spec.dt`` only.

    Parameters
    ----------
    spec : CTRNNSpec
        The network; its activation must be non-negative (relu, softplus, sigmoid, retanh).
    neurons_per_unit : int
        M >= 1, neurons per hidden unit.
    rate_max : Brian2 frequency
        > 0, firing rate of a neuron at f(a) = 1 (the rate is ``rate_max * f(a)``; for
        bounded f it is the maximal rate).
    tau_syn : Brian2 time or None
        >= 0, extra exponential synaptic filter of each spike (None or 0*ms: none; the
        realization then converges exactly to the rate network).
    n_trials : int
        B >= 1 independent copies (B*N*M neurons).
    neuron_model : {"poisson", "lif"}
        Poisson neurons (``rand() < rate*dt`` per fine step) or leaky integrate-and-fire
        neurons driven at the target rate.
    substeps : int or None
        Fine steps per network step dt (>= 1); None: enough that
        ``rate_max * dt_fine <= 0.05``.
    tau_m : Brian2 time
        Membrane time constant of LIF neurons (LIF only).
    t_ref : Brian2 time
        Refractory period of LIF neurons (LIF only).
    membrane_sigma : float
        >= 0, dimensionless: size of each neuron's membrane noise, in the units of the drive
        ``a``: neuron m of unit i fires at ``rate_max * f(a_i + membrane_sigma * eta_m)``
        (Poisson: the rate function; LIF: the input current realizing that rate). 0
        (default): no membrane noise, the realization without it exactly.
    membrane_process : {"white", "ou"}
        Time structure of ``eta_m`` (a standard normal process, independent across neurons,
        units and trials): ``"white"`` a fresh draw each network step ``spec.dt``, constant
        over its fine substeps (as the rate model's ``Noise("pre", sigma)``); ``"ou"`` an
        Ornstein-Uhlenbeck process with correlation time ``membrane_tau``, exact update per
        fine step, stationary start.
    membrane_tau : Brian2 time or None
        > 0, correlation time of OU membrane noise (None: 10 ms, about a membrane time
        constant); only with ``membrane_process="ou"``.
    input_source : {"timed_array", "external"}
        ``"timed_array"`` (default): inputs from :meth:`set_inputs`. ``"external"``: the
        ``inputs`` group's ``u`` is a linked variable for a user's group to drive, e.g.
        ``net.inputs.u = linked_var(group, "r", index=idx)`` (``idx[b*n_in + k]`` drives
        input ``k`` of trial ``b``; link it before the first run). It is read once per
        network step at ``t_k`` (slot ``groups``, order -2, on the network-step clock) and
        held over the step's fine substeps: the convention of
        :class:`~brian_noisy_rnn.RateCTRNN`'s ``input_source="external"``.
    name : str
        Groups are called ``<name>_inputs``, ``<name>_units``, ``<name>_neurons``, ...

    Attributes
    ----------
    inputs : NeuronGroup
        B*n_in neurons, ``u``; neuron ``b*n_in + k`` (fine clock); with
        ``input_source="external"`` ``u`` is linked and ``u_step`` is the value read for
        the running network step.
    units : NeuronGroup
        B*N neurons: ``h`` (state), ``a`` (drive), ``F`` = f(a), ``y`` (binned activity of
        the running step), ``p_max`` (largest spike probability per fine step seen); neuron
        ``b*N + i`` (fine clock).
    neurons : NeuronGroup
        B*N*M spiking neurons, ``rate`` (Hz); neuron ``(b*N + i)*M + m``; with membrane
        noise also ``eta`` (the standard normal noise process), ``a_unit`` (the unit's
        drive), ``sigma_m`` and, for Poisson neurons, ``p_max``.
    readout : NeuronGroup
        B*n_out neurons, ``z = w_out h + b_out``; neuron ``b*n_out + o`` (fine clock). ``z``
        is recomputed in slot ``end`` right after ``h`` changes, so after running k steps
        it is ``w_out h_k + b_out``, the convention of ``RateCTRNN.readout.z``.
    spike_synapses : Synapses
        Each neuron's spikes into its unit's bin ``y`` (or synaptic trace).
    input_synapses : Synapses
        ``w_in u`` into the units' ``I_in``, within each trial.
    recurrent_synapses : Synapses
        ``w_rec h`` into the units' ``I_rec``, within each trial.
    readout_synapses : Synapses
        ``w_out h`` into the readout's ``z_rec``, within each trial.
    fine_clock : Clock
        Clock of the units and neurons (dt = spec.dt / substeps).
    spec : CTRNNSpec
        The network.
    n_trials : int
        B.
    neurons_per_unit : int
        M.
    rate_max : Brian2 frequency
        Rate at f(a) = 1.
    tau_syn : Brian2 time
        Extra synaptic time constant (0 s if none).
    neuron_model : str
        "poisson" or "lif".
    substeps : int
        Fine steps per network step.
    membrane_sigma : float
        Membrane noise size (0: none); assignable between runs if built with noise.
    input_source : str
        "timed_array" or "external".
    membrane_process : str
        "white" or "ou".
    membrane_tau : Brian2 time or None
        OU correlation time.
    """

    def __init__(self, spec, neurons_per_unit=100, rate_max=100 * Hz, tau_syn=None, *,
                 n_trials=1, neuron_model="poisson", substeps=None, tau_m=10e-3 * second,
                 t_ref=0 * second, membrane_sigma=0.0, membrane_process="white",
                 membrane_tau=None, input_source="timed_array", name="spikingctrnn*"):
        TrialBatchedObject.__init__(self, spec, n_trials, name, spec_clock=True)
        check_nonnegative_activation(spec.activation)
        self.neurons_per_unit = check_int(neurons_per_unit, "neurons_per_unit")
        self.rate_max_hz = check_rate(rate_max)
        self.tau_syn_seconds = check_nonnegative_time(tau_syn)
        self.neuron_model = check_choice(neuron_model, "neuron_model", NEURON_MODELS)
        self.substeps = check_substeps(substeps, spec.dt_seconds, self.rate_max_hz)
        _check_population_memory(n_trials * spec.n_hidden * self.neurons_per_unit)
        if neuron_model == "lif":
            self._tau_m = to_seconds(tau_m, "tau_m")
            self._t_ref = check_nonnegative_time(t_ref, "t_ref")
        self._membrane_sigma = _check_membrane_sigma(membrane_sigma)
        self._built_with_membrane_noise = self._membrane_sigma > 0
        self.input_source = check_choice(input_source, "input_source", INPUT_SOURCES)
        self.membrane_process = check_choice(membrane_process, "membrane_process",
                                             MEMBRANE_PROCESSES)
        if membrane_process == "ou":
            self._membrane_tau = to_seconds(
                DEFAULT_MEMBRANE_TAU if membrane_tau is None else membrane_tau, "membrane_tau")
        elif membrane_tau is not None:
            raise ValueError("membrane_tau is only used with membrane_process='ou', not "
                             f"{membrane_process!r}")
        else:
            self._membrane_tau = None
        self.fine_clock = Clock(dt=spec.dt / self.substeps, name=f"{self.name}_fineclock")
        self._build()

    @property
    def rate_max(self):
        """Firing rate at f(a) = 1 (Brian2 frequency)."""
        return self.rate_max_hz * Hz

    @property
    def membrane_tau(self):
        """Correlation time of OU membrane noise (Brian2 time), None for white noise."""
        return None if self._membrane_tau is None else self._membrane_tau * second

    @property
    def membrane_sigma(self):
        """Size of each neuron's membrane noise (float >= 0, units of the drive ``a``).

        Assignable between runs on a realization built with membrane noise (also to 0: the
        neurons then still draw their noise, so Brian2's random stream advances as
        before). A realization built without it (``membrane_sigma=0``) has no noise in its
        equations: assigning a positive value raises ValueError (build it with the
        ``membrane_sigma`` you want, or any positive one to be changed later).
        """
        return self._membrane_sigma

    @membrane_sigma.setter
    def membrane_sigma(self, value):
        value = _check_membrane_sigma(value)
        if not self._built_with_membrane_noise:
            if value > 0:
                raise ValueError(f"membrane_sigma: {self.name} was built without membrane "
                                 "noise (membrane_sigma=0), so its neurons have no noise "
                                 "term; build SpikingRealization(..., membrane_sigma=s) with "
                                 "s > 0 to change it later")
            return
        self.neurons.sigma_m = value
        self._membrane_sigma = value

    @property
    def has_membrane_noise(self):
        """True if the neurons were built with membrane noise (``membrane_sigma > 0`` when
        built; its size may since have been set to 0)."""
        return self._built_with_membrane_noise

    @property
    def tau_syn(self):
        """Extra synaptic time constant (Brian2 time; 0 s if none)."""
        return self.tau_syn_seconds * second

    # --- construction ------------------------------------------------------------------
    def _build(self):
        spec, B, M = self.spec, self.n_trials, self.neurons_per_unit
        N = spec.n_hidden
        fine = self.fine_clock
        act = get_activation(spec.activation)
        # everything that feeds the units runs on the fine clock: a summed variable is
        # updated on its target's clock, and a coarse-clock ``t`` read between two coarse
        # ticks is already the next tick's time (the inputs would arrive one step early)
        external = self.input_source == "external"
        if external:
            self.inputs = IsolatedNeuronGroup(B * spec.n_in, EXTERNAL_INPUT_EQUATIONS,
                                              clock=fine, namespace={},
                                              name=f"{self.name}_inputs")
            # once per network step (the object's own clock), as RateCTRNN reads it
            self.inputs.run_regularly(EXTERNAL_INPUT_READ, clock=self.clock, when="groups",
                                      order=-2, name=f"{self.name}_input_read")
        else:
            self._new_timed_array(np.zeros((1, B * spec.n_in)))
            self.inputs = IsolatedNeuronGroup(B * spec.n_in,
                                              input_equations(self.input_array_key),
                                              clock=fine, namespace=self.input_namespace,
                                              name=f"{self.name}_inputs")
        filtered = self.tau_syn_seconds > 0
        eqs = _UNIT_EQUATIONS.format(f=act.brian2("a")) + (_Y_FILTERED if filtered else _Y_DIRECT)
        # constants of the equations and of the step code (run_regularly uses this namespace)
        namespace = {"g": spec.gamma, "substeps": self.substeps, "rate_max": self.rate_max}
        if filtered:
            d, ts = spec.dt_seconds / self.substeps, self.tau_syn_seconds
            namespace.update(syn_decay=math.exp(-d / ts),
                             syn_gain=ts * -math.expm1(-d / ts) / spec.dt_seconds)
        self.units = IsolatedNeuronGroup(B * N, eqs, clock=fine, namespace=namespace,
                                         name=f"{self.name}_units")
        self.units.bias = np.tile(spec.b, B)
        if filtered:
            self.units.run_regularly(_TRACE_CODE, when="groups", name=f"{self.name}_trace")
        # order -2 / -1: the step and then the readout's sum run before a user's monitor
        # in slot "end" (default order 0), which therefore sees the new h and its z
        self.units.run_regularly(_STEP_CODE, when="end", order=-2, name=f"{self.name}_step")
        poisson = self.neuron_model == "poisson"
        model = _POISSON_EQUATIONS if poisson else _LIF_EQUATIONS
        kwargs = dict(threshold="rand() < rate*dt") if poisson else \
            dict(threshold="v > 1", reset="v = 0", refractory="t_ref", method="exact")
        noisy = self.has_membrane_noise
        neuron_namespace = {}
        if noisy:
            model = model.replace(_LINKED_RATE, _NOISY_RATE.format(
                f=act.brian2("a_unit + sigma_m*eta")) + (_P_MAX if poisson else ""))
            if self.membrane_process == "ou":
                rho = math.exp(-spec.dt_seconds / self.substeps / self._membrane_tau)
                neuron_namespace.update(ou_rho=rho, ou_kick=math.sqrt(-math.expm1(
                    -2 * spec.dt_seconds / self.substeps / self._membrane_tau)))
        self.neurons = IsolatedNeuronGroup(B * N * M, model, clock=fine,
                                           namespace=neuron_namespace,
                                           name=f"{self.name}_neurons", **kwargs)
        source = ("a", "a_unit") if noisy else ("F", "F_unit")
        setattr(self.neurons, source[1],
                linked_var(self.units, source[0], index=np.arange(B * N * M) // M))
        if noisy:
            self.neurons.sigma_m = self.membrane_sigma
            if self.membrane_process == "white":
                # a fresh draw per neuron at the start of every network step (the object's
                # own clock ticks at spec.dt), before the first fine step's thresholds
                self.neurons.run_regularly("eta = randn()", clock=self.clock, when="start",
                                           name=f"{self.name}_membrane_white")
            # after the thresholds of every fine step: the spike probability used (Poisson)
            # and the OU update for the next fine step
            code = (_P_MAX_CODE if poisson else "") + \
                (_OU_CODE if self.membrane_process == "ou" else "")
            if code:
                self.neurons.run_regularly(code, when="after_thresholds",
                                           name=f"{self.name}_membrane_update")
        self.neurons.rate_max = self.rate_max
        if self.neuron_model == "lif":
            self.neurons.tau_m = self._tau_m * second
            self.neurons.t_ref = self._t_ref * second
        # each spike adds 1/(M rate_max dt) to y (or 1/(M rate_max tau_syn) to the trace s)
        scale = M * self.rate_max_hz * (self.tau_syn_seconds if filtered else spec.dt_seconds)
        self.spike_synapses = IsolatedSynapses(
            self.neurons, self.units, on_pre=("s_post += c_spike" if filtered else
                                              "y_post += c_spike"),
            clock=fine, namespace={"c_spike": 1.0 / scale}, name=f"{self.name}_spike_synapses")
        self.spike_synapses.connect(i=np.arange(B * N * M), j=np.arange(B * N * M) // M)
        self.readout = IsolatedNeuronGroup(B * spec.n_out, READOUT_EQUATIONS, clock=fine,
                                           namespace={}, name=f"{self.name}_readout")
        self.readout.b_out = np.tile(spec.b_out, B)
        self.input_synapses = self.block_synapses(
            self.inputs, self.units, spec.w_in,
            f"I_in_post = w*{'u_step' if external else 'u'}_pre : 1 (summed)",
            "input_synapses", fine, namespace=self.input_namespace)
        self.recurrent_synapses = self.block_synapses(
            self.units, self.units, spec.w_rec, "I_rec_post = w*h_pre : 1 (summed)",
            "recurrent_synapses", fine)
        self.readout_synapses = self.block_synapses(
            self.units, self.readout, spec.w_out, "z_rec_post = w*h_pre : 1 (summed)",
            "readout_synapses", fine)
        # z = w_out h + b_out with the h of this very fine step: the sum runs after the step
        # code (Brian2 schedules a summed variable just before its target's state update,
        # in slot "groups", which would leave z one network step behind h)
        for updater in self.readout_synapses.summed_updaters.values():
            updater.when, updater.order = "end", -1
        self.contained_objects.extend([
            self.inputs, self.units, self.neurons, self.readout, self.spike_synapses,
            self.input_synapses, self.recurrent_synapses, self.readout_synapses])
        self.reset()

    # --- user API ----------------------------------------------------------------------
    def set_inputs(self, inputs, start=None):
        """Feed ``inputs`` (float array (T, B, n_in), one row per ``spec.dt``) from ``start``.

        Parameters
        ----------
        inputs : float array (T, B, n_in), dimensionless (a quantity with dimensions such as
            ``u*mV`` raises Brian2's ``DimensionMismatchError``)
            B = ``n_trials``; ``inputs[k]`` drives the step at ``start + k*dt``. After the
            last row, the last row is held.
        start : Brian2 time or None
            None: the current time of this object's (network-step) clock.
        """
        if self.input_source == "external":
            raise ValueError("set_inputs is not available with input_source='external': "
                             "drive inputs.u with linked_var(group, variable, index=...)")
        arr = self.check_trial_inputs(inputs)
        start_s = self._start(start)
        self._new_timed_array(arr.reshape(arr.shape[0], -1))
        self.inputs.t_start = start_s * second

    def reset(self):
        """Set ``h`` to ``spec.h0`` in every trial, empty the spike bins, restart the step phase."""
        self.units.h = np.tile(self.spec.h0, self.n_trials)
        self.units.y = 0.0
        self.units.phase = 0
        self.units.p_max = 0.0
        if self.tau_syn_seconds > 0:
            self.units.s = 0.0
        if self.neuron_model == "lif":
            self.neurons.v = "rand()"
        if self.has_membrane_noise:
            if self.neuron_model == "poisson":
                self.neurons.p_max = 0.0
            # OU: the stationary distribution; white: redrawn at the next step's start
            self.neurons.eta = "randn()" if self.membrane_process == "ou" else 0.0

    def trial_view(self, monitor, variable=None):
        """A monitor's recording as trials; spike counts of ``neurons`` as (T, B, N, M).

        As :meth:`TrialBatchedObject.trial_view
        <brian_noisy_rnn.backends.brian2.base.TrialBatchedObject.trial_view>`; a SpikeMonitor
        of :attr:`neurons` gives the spike counts per network step of neuron ``m`` of unit
        ``i``'s population in trial ``b`` as ``[t, b, i, m]``: float64 array (T, B, N, M),
        T = the whole network steps run so far.

        Parameters
        ----------
        monitor : brian2.StateMonitor or brian2.SpikeMonitor
            Records one of this object's groups.
        variable : str or None
            The recorded variable (StateMonitor); None for a SpikeMonitor.

        Returns
        -------
        float64 array (T, B, n) or (T, B, N, M)
        """
        out = super().trial_view(monitor, variable)
        if isinstance(monitor, brian2.SpikeMonitor) and monitor.source is self.neurons:
            out = out.reshape(out.shape[0], self.n_trials, self.spec.n_hidden,
                              self.neurons_per_unit)
        return out

    def effective_sigma(self, activity=0.0):
        """sigma of the equivalent ``Noise("post", sigma, process="poisson")`` (Poisson neurons).

        ``activity`` : f(a) for the Bernoulli correction (0: Poisson limit). For LIF neurons
        this is an upper bound (their firing is more regular); measure it with
        :func:`measure_effective_sigma`.
        """
        return effective_sigma_seconds(self.spec.dt_seconds, self.spec.tau_seconds,
                                self.neurons_per_unit, self.rate_max_hz, self.tau_syn_seconds,
                                self.substeps, activity)

    def effective_noise(self, activity=0.0):
        """The equivalent rate-network noise, ``Noise("post", sigma_eff, process="poisson")``."""
        return Noise("post", self.effective_sigma(activity), process="poisson")

    def check_saturation(self):
        """Warn if a neuron's spike probability per fine step exceeded 1 during the runs so far
        (its rate was then clipped: increase ``substeps`` or lower ``rate_max``). Returns p_max."""
        p_max = float(np.max(self.units.p_max[:])) if len(self.units) else 0.0
        if self.has_membrane_noise and self.neuron_model == "poisson" and len(self.neurons):
            p_max = max(p_max, float(np.max(self.neurons.p_max[:])))
        if p_max > 1.0 and self.neuron_model == "poisson":
            warnings.warn(f"spike probability per fine step reached {p_max:.2f} > 1: firing "
                          "rates were clipped; increase substeps or lower rate_max",
                          RuntimeWarning, stacklevel=2)
        return p_max

    def __repr__(self):
        return (f"SpikingRealization({self.spec!r}, neurons_per_unit={self.neurons_per_unit}, "
                f"rate_max={self.rate_max!r}, tau_syn={self.tau_syn!r}, "
                f"n_trials={self.n_trials}, neuron_model={self.neuron_model!r}, "
                f"substeps={self.substeps}, membrane_sigma={self.membrane_sigma!r}, "
                f"membrane_process={self.membrane_process!r}, "
                f"membrane_tau={self.membrane_tau!r}, name={self.name!r})")
