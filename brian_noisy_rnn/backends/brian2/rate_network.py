"""The CTRNN as native Brian2 objects: :class:`RateCTRNN`.

A :class:`RateCTRNN` holds ordinary Brian2 objects that run on their own clock at
``spec.dt``, whatever the user's ``defaultclock``:

* ``inputs``  -- NeuronGroup of B*n_in neurons (neuron ``b*n_in + k`` is input ``k`` of
  trial ``b``) whose ``u`` is read from a 2-D TimedArray set with :meth:`RateCTRNN.set_inputs`,
  or (``input_source="external"``) a linked variable driven by a user's group;
* ``hidden``  -- NeuronGroup of B*N neurons with state ``h`` (neuron ``b*N + i``, trial-major);
* ``readout`` -- NeuronGroup of B*n_out neurons with ``z = w_out h + b_out``;
* Synapses for ``w_in`` and ``w_out`` (within each trial), and for ``w_rec`` either
  per-trial Synapses (``recurrence="synapses"``, B copies of the weights) or one dense
  product per step with the weights held once (``recurrence="dense"``): a NumPy/BLAS
  ``NetworkOperation`` on the runtime device, a C++ ``Function`` called by a
  ``run_regularly`` operation under ``cpp_standalone`` (:mod:`.dense`).

Scheduling within one step (slot ``groups`` unless noted): the recurrent input
(``before_groups`` for dense) and the input drive are summed, OU noise advances
(``before_groups``), ``h`` is updated (order 0), then the readout sums ``w_out h`` with the
*new* ``h`` (order 2). So after any run ``hidden.h`` and ``readout.z`` are the current
state and output, and a ``StateMonitor(..., when="end")`` records ``states[t]`` = h after
consuming ``inputs[t]``, exactly like the numpy reference.

Inputs from Brian2 (``input_source="external"``): at time ``t_k = t0 + k*dt`` of step k the
input group reads ``u`` (slot ``groups``, order -2: just before the input sum at order -1
and the hidden update at order 0) into ``u_step``, i.e. the driving variable *as it is at
that moment*: a driver updated at ``t_k`` in an earlier slot (e.g.
``run_regularly("r = ...", when="start")``) is read with that update -- the convention
of ``set_inputs(inputs, start=t0)`` with ``inputs[k]`` = the driver's value at ``t_k``; a
driver updated later in the step (slot ``groups`` with the default order 0, or
``thresholds``, ``synapses`` ... after it) is read as it was after its update at
``t_{k-1}``, i.e. one step late. ``u`` must be linked to a
*state variable* of the driver (Brian2 resolves a linked subexpression's names in the linking
group, which sees only its own names here).
"""

import warnings

import numpy as np

import brian2
from brian2 import NetworkOperation
from brian2.core.variables import LinkedVariable, Subexpression

from ...core.dynamics import StepRule
from ...core.activations import get_activation
from ...core.noise import as_noise
from ...core.run_checks import NonFiniteResultWarning
from ...core.spec import FORMS
from ...core.validation import check_choice
from .base import IsolatedNeuronGroup, TrialBatchedObject, is_standalone_device
from .dense import DenseRecurrence
from .equations import (EXTERNAL_INPUT_EQUATIONS, EXTERNAL_INPUT_READ,
                        READOUT_EQUATIONS, hidden_equations, input_equations)

__all__ = ["INPUT_SOURCES", "RECURRENCES", "RateCTRNN", "check_method", "parameter_values"]

RECURRENCES = ("auto", "synapses", "dense")
INPUT_SOURCES = ("timed_array", "direct", "external")


def _check_input_link(group, link):
    """Refuse a link of ``group.u`` to a subexpression (ValueError), and warn when a
    1-neuron driver is linked without an index to a group of several inputs (Brian2 would
    broadcast its value to every trial and input channel without a word)."""
    source = f"{link.group.name}.{link.name}"
    if isinstance(link.variable, Subexpression):
        raise ValueError(f"{group.name}.u cannot be linked to the subexpression {source} "
                         "(Brian2 would resolve its names in the input group): give the "
                         "driver a state variable, e.g. 'r : 1' set by "
                         "run_regularly(..., when='start')")
    if link.index is None and len(link.group) == 1 and len(group) > 1:
        warnings.warn(f"{group.name}.u is linked to {source} of a 1-neuron group without an "
                      f"index: that one value drives all {len(group)} inputs (B*n_in: every "
                      "trial and input channel); give index=... to say which neuron drives "
                      f"which input (index=np.zeros({len(group)}, dtype=int) if one value is "
                      "meant for all)", UserWarning, stacklevel=3)


class _ExternalInputs(IsolatedNeuronGroup):
    """The input group of ``input_source="external"``: a link to ``u`` is checked when it
    is made (see :func:`_check_input_link`)."""

    def __setattr__(self, name, value):
        if name == "u" and isinstance(value, LinkedVariable):
            _check_input_link(self, value)
            self.__dict__["driver"] = f"{value.group.name}.{value.name}"
        super().__setattr__(name, value)


def parameter_values(spec, noise, n_trials):
    """The values a :class:`RateCTRNN` gives its groups' parameters, by ``"<group>.<var>"``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    noise : Noise
        The noise model (checked against ``spec``).
    n_trials : int
        B.

    Returns
    -------
    dict
        ``"hidden.h"`` (the initial state), ``"hidden.bias"`` and ``"hidden.sigma"`` (float64
        (B*N,), trial-major), ``"hidden.tau"`` (seconds), ``"readout.b_out"`` (B*n_out,) and
        the noise process's constants as ``"hidden.<name>"`` (floats,
        :meth:`~brian_noisy_rnn.core.noise_processes.NoiseProcess.brian2_constants`, e.g.
        OU's ``ou_rho`` and ``ou_scale``); the noise entries only when the noise is active.
    """
    rule = StepRule.from_spec(spec, noise)
    values = {"hidden.h": np.tile(spec.h0, n_trials), "hidden.bias": np.tile(spec.b, n_trials),
              "hidden.tau": spec.tau_seconds, "readout.b_out": np.tile(spec.b_out, n_trials)}
    if rule.active:
        sigma = rule.sigma  # per step; Brian2's "state" noise is sigma*sqrt(2/tau)*xi
        if noise.placement == "state":
            sigma = sigma / np.sqrt(2.0 * rule.gamma)
        values["hidden.sigma"] = np.tile(sigma, n_trials)
        values.update({f"hidden.{name}": value for name, value
                       in rule.noise_process.brian2_constants(rule).items()})
    return values


def check_method(method):
    """``method`` if it names a registered Brian2 integration method; ValueError otherwise."""
    from brian2.stateupdaters.base import StateUpdateMethod

    known = sorted(StateUpdateMethod.stateupdaters)
    if not isinstance(method, str) or method not in known:
        raise ValueError(f"method must be a Brian2 integration method, one of {known}; "
                         f"got {method!r}")
    return method


class RateCTRNN(TrialBatchedObject):
    """A :class:`~brian_noisy_rnn.CTRNNSpec` as Brian2 objects, B independent trials at once.

    Both network forms run: in an x-form network (``spec.form == "x"``) the hidden group's
    ``h`` is the state before f and ``r = f(h)`` is the rate the synapses read.

    Add it to a ``brian2.Network`` (or use the magic ``run()``) beside other groups, and
    connect to it like to any group: e.g. ``linked_var(rnn.readout, "z")``, or Synapses
    writing the hidden group's extra input ``I_ext``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    n_trials : int
        B >= 1, the number of independent copies (trials) simulated side by side.
    noise : Noise or None
        Noise model; None uses ``spec.noise``. Its random numbers are drawn with Brian2's
        RNG (seed it with ``brian2.seed``): one ``randn()`` per hidden neuron and step.
    recurrence : {"auto", "synapses", "dense"}
        How ``w_rec h`` is computed. ``"synapses"``: per-trial Synapses (B*N**2 synapses).
        ``"dense"``: one (B, N) @ (N, N) product per step, weights stored once -- a NumPy
        ``NetworkOperation`` on the runtime device (numpy, cython), a C++ function in a
        ``run_regularly`` operation (``dense_operation``) under ``cpp_standalone``.
        ``"auto"``: ``"dense"``.
    method : str
        Brian2 integration method of the hidden group; ``"euler"`` (default) gives the
        discrete CTRNN step exactly; other methods integrate the continuous-time equation.
    input_source : {"timed_array", "direct", "external"}
        Where the hidden group's input drive ``I_in = w_in u`` comes from.
        ``"timed_array"`` (default): an ``inputs`` group reads ``u`` from a TimedArray (see
        :meth:`set_inputs`) and ``input_synapses`` sum ``w_in u``. ``"external"``: the
        ``inputs`` group's ``u`` is a linked variable for a user's group to drive, e.g.
        ``rnn.inputs.u = linked_var(group, "r", index=idx)`` with ``idx[b*n_in + k]`` the
        neuron of ``group`` that drives input ``k`` of trial ``b`` (link it before the
        first run; :meth:`set_inputs` is not available; scheduling: module docstring).
        ``"direct"`` (runtime device only): no input group; the per-step operation that
        computes the dense recurrence also writes ``I_in`` from the array given to
        :meth:`set_inputs` (one BLAS product per step; the fast path of
        ``simulate(backend="brian2")``).
    readout : bool
        Build the ``readout`` group (default True). Without it, compute outputs from the
        recorded states as ``states @ w_out.T + b_out``.
    name : str
        Name of this object; groups are called ``<name>_inputs``, ``<name>_hidden``,
        ``<name>_readout``, ...

    Attributes
    ----------
    inputs : NeuronGroup (B*n_in) or None
        ``u`` (dimensionless; linked with ``input_source="external"``); neuron
        ``b*n_in + k``. None with ``input_source="direct"``.
    hidden : NeuronGroup (B*N)
        ``h``, ``a`` (pre-activation), ``I_rec``, ``I_in``, ``I_ext``, ``bias``, ``tau``; with
        noise also ``sigma`` (per neuron) and ``eta``; neuron ``b*N + i``.
    readout : NeuronGroup (B*n_out) or None
        ``z = w_out h + b_out``; neuron ``b*n_out + o``.
    input_synapses, readout_synapses, recurrent_synapses : Synapses or None
    recurrent_operation : NetworkOperation or None
        The per-step numpy operation (dense recurrence and/or direct inputs; runtime only).
    dense_operation : CodeRunner or None
        The dense recurrence's ``run_regularly`` operation of the hidden group (standalone).
    spec : CTRNNSpec
        The network.
    noise : Noise
        The noise model simulated; assignable between runs within the equations the
        network was built with (see the property).
    n_trials : int
        B.
    recurrence : {"synapses", "dense"}
        The recurrence in use ("auto" resolved).
    input_source : {"timed_array", "direct", "external"}
        Where the input drive comes from.
    """

    forms = FORMS

    def __init__(self, spec, n_trials=1, noise=None, *, recurrence="auto", method="euler",
                 input_source="timed_array", readout=True, name="ratectrnn*"):
        TrialBatchedObject.__init__(self, spec, n_trials, name)
        noise = spec.noise if noise is None else spec.check_noise(noise)
        check_choice(recurrence, "recurrence", RECURRENCES)
        check_choice(input_source, "input_source", INPUT_SOURCES)
        x_form = spec.form == "x"
        if x_form and recurrence == "dense" and self._standalone:
            raise ValueError("recurrence='dense' under a standalone device reads h, not f(h): "
                             "an x-form network (form='x') needs recurrence='synapses' there")
        if recurrence == "auto":
            recurrence = "synapses" if x_form and self._standalone else "dense"
        if self._standalone and input_source == "direct":
            raise ValueError("input_source='direct' needs the runtime device (a "
                             "NetworkOperation); use input_source='timed_array' or "
                             "'external' with a standalone device")
        check_method(method)
        if not isinstance(readout, bool):
            raise TypeError(f"readout must be True or False, got {readout!r}")
        # an explicit clock name (not "<name>_clock*"): it appears in the generated code
        # (through t), so it must not change while an earlier object awaits collection
        self._clock = brian2.Clock(dt=spec.dt, name=f"{self.name}_clock")
        self.recurrence, self.input_source = recurrence, input_source
        self._noise = self._built_noise = noise  # _built_noise: the equations' noise model
        self._rule = StepRule.from_spec(spec, noise)
        self._w_rec_t = np.ascontiguousarray(spec.w_rec.T)  # (N, N), once for all trials
        self._w_in_t = np.ascontiguousarray(spec.w_in.T)  # (n_in, N)
        self._direct_inputs, self._direct_start = np.zeros((1, n_trials, spec.n_in)), 0.0
        self._views = None
        self._rate = get_activation(spec.activation).numpy  # f, read by x-form's dense product
        self._build(method, readout)

    # --- construction ------------------------------------------------------------------
    def _build(self, method, readout):
        spec, B, clock = self.spec, self.n_trials, self.clock
        rate = "r" if spec.form == "x" else "h"  # what w_rec and w_out read
        self.hidden = IsolatedNeuronGroup(B * spec.n_hidden,
                                          hidden_equations(spec.activation, self._built_noise,
                                                           spec.form),
                                          method=method, clock=clock, order=0, namespace={},
                                          name=f"{self.name}_hidden")
        values = parameter_values(spec, self.noise, B)
        self.hidden.tau = spec.tau
        self.hidden.bias = values["hidden.bias"]
        objects = [self.hidden]
        if self._rule.active:
            self.hidden.sigma = values["hidden.sigma"]
            process = self._built_noise.noise_process
            process.brian2_setup(self.hidden, self._rule)
            if process.brian2_update:
                self.hidden.run_regularly(process.brian2_update, when="before_groups",
                                          name=f"{self.name}_{process.name}_update")
        self.inputs = self.input_synapses = None
        if self.input_source == "timed_array":
            self._new_timed_array(np.zeros((1, B * spec.n_in)))
            self.inputs = IsolatedNeuronGroup(B * spec.n_in,
                                              input_equations(self.input_array_key),
                                              clock=clock, namespace=self.input_namespace,
                                              name=f"{self.name}_inputs")
        elif self.input_source == "external":
            self.inputs = _ExternalInputs(B * spec.n_in, EXTERNAL_INPUT_EQUATIONS,
                                              clock=clock, namespace={},
                                              name=f"{self.name}_inputs")
            self.inputs.run_regularly(EXTERNAL_INPUT_READ, when="groups", order=-2,
                                      name=f"{self.name}_input_read")
        if self.inputs is not None:
            u = "u_step" if self.input_source == "external" else "u"
            self.input_synapses = self.block_synapses(
                self.inputs, self.hidden, spec.w_in, f"I_in_post = w*{u}_pre : 1 (summed)",
                "input_synapses", namespace=self.input_namespace)
            objects += [self.inputs, self.input_synapses]
        self.readout = self.readout_synapses = None
        if readout:
            self.readout = IsolatedNeuronGroup(B * spec.n_out, READOUT_EQUATIONS, clock=clock,
                                               order=2, namespace={},
                                               name=f"{self.name}_readout")
            self.readout.b_out = values["readout.b_out"]
            self.readout_synapses = self.block_synapses(
                self.hidden, self.readout, spec.w_out, f"z_rec_post = w*{rate}_pre : 1 (summed)",
                "readout_synapses")
            objects += [self.readout, self.readout_synapses]
        self.recurrent_synapses = self.recurrent_operation = self.dense_operation = None
        if self.recurrence == "dense" and self._standalone:
            self.dense_operation = DenseRecurrence(spec.w_rec, self.hidden, B).attach(
                name=f"{self.name}_dense_recurrence")
        if self.recurrence == "synapses":
            self.recurrent_synapses = self.block_synapses(
                self.hidden, self.hidden, spec.w_rec, f"I_rec_post = w*{rate}_pre : 1 (summed)",
                "recurrent_synapses")
            objects.append(self.recurrent_synapses)
        if (self.recurrence == "dense" and not self._standalone) \
                or self.input_source == "direct":
            self.recurrent_operation = NetworkOperation(
                self._before_step, clock=clock, when="before_groups",
                name=f"{self.name}_dense_recurrence")
            objects.append(self.recurrent_operation)
        self.contained_objects.extend(objects)
        self.reset()

    def after_run(self):
        """Brian2's hook after a run: with ``input_source="external"``, warn
        (:class:`~brian_noisy_rnn.core.run_checks.NonFiniteResultWarning`) if ``h`` holds
        NaN or inf (runtime device), naming the driver linked to ``inputs.u``."""
        super().after_run()
        if self.input_source != "external" or is_standalone_device():
            return
        h = np.asarray(self.hidden.h[:])
        bad = int(np.count_nonzero(~np.isfinite(h)))
        if bad:
            u = np.asarray(self.inputs.u_step[:])
            driver = self.inputs.__dict__.get("driver", "the driver")
            hint = (f"the input read at the last step is not finite: check {driver}, linked "
                    "to inputs.u" if not np.all(np.isfinite(u)) else
                    f"check {driver} (linked to inputs.u) and the weights")
            warnings.warn(f"{self.name}: h holds NaN or inf in {bad} of {h.size} units after "
                          f"the run; {hint}", NonFiniteResultWarning, stacklevel=2)

    def hidden_arrays(self, *names):
        """(B, N) views of the hidden group's arrays ``names`` (runtime device only).

        Writing into them changes the group's variables (neuron ``b*N + i`` is row ``b``,
        column ``i``); the runtime device never reallocates a NeuronGroup's arrays.
        """
        shape = (self.n_trials, self.spec.n_hidden)
        return tuple(self.hidden.variables[n].get_value().reshape(shape) for n in names)

    def recurrent_input(self, h, out=None):
        """The recurrent drive ``w_rec h`` of every trial: ``h @ w_rec.T``.

        Parameters
        ----------
        h : float64 array (B, N)
            Hidden states, one row per trial.
        out : float64 array (B, N) or None
            Where to write the result (e.g. a view of the hidden group's ``I_rec``).

        Returns
        -------
        float64 array (B, N)
        """
        return np.matmul(h, self._w_rec_t, out=out)

    def _before_step(self):
        """The per-step numpy work before the groups update: ``I_rec`` and/or ``I_in``."""
        if self._views is None:
            self._views = self.hidden_arrays("h", "I_rec", "I_in")
        h, i_rec, i_in = self._views
        if self.recurrence == "dense" and self.dense_operation is None:
            self.recurrent_input(self._rate(h) if self.spec.form == "x" else h, out=i_rec)
        if self.input_source == "direct":
            u = self._direct_inputs
            t = float(np.asarray(self.clock.variables["t"].get_value()).item())
            k = int(round((t - self._direct_start) / self.spec.dt_seconds))
            np.matmul(u[min(max(k, 0), len(u) - 1)], self._w_in_t, out=i_in)

    # --- user API ----------------------------------------------------------------------
    def state_monitor(self, variable="h", name="statemonitor*"):
        """A ``StateMonitor`` that records ``states[t]`` (or ``outputs[t]``) at index t.

        ``StateMonitor(rnn.hidden, "h", record=True)`` with Brian2's default slot
        (``when="start"``) records h *before* each step: index t holds the state after
        t - 1 steps (``h0`` at t = 0), one step behind ``simulate``'s ``states[t]``. This
        monitor records every neuron in slot ``end``, after the step and the readout, on
        this object's clock, so ``rnn.trial_view(mon, variable)[t]`` is the state (or
        output) after consuming ``inputs[t]``.

        Parameters
        ----------
        variable : str
            A variable of the hidden group (``"h"``, ``"a"``, ``"I_rec"``, ...) or ``"z"``
            of the readout group.
        name : str
            The monitor's name.

        Returns
        -------
        brian2.StateMonitor
            Not yet in any network: add it to yours beside this object.
        """
        group = self.readout if variable == "z" else self.hidden
        if group is None or not isinstance(variable, str) or variable not in group.variables:
            raise ValueError(f"variable must be a variable of {self.name}.hidden or 'z' of its "
                             f"readout group, got {variable!r}")
        return brian2.StateMonitor(group, variable, record=True, when="end", clock=self.clock,
                                   name=name)

    def set_inputs(self, inputs, start=None):
        """Feed ``inputs`` from time ``start`` on (one row per step of ``spec.dt``).

        Parameters
        ----------
        inputs : float array (T, B, n_in), dimensionless (a quantity with dimensions such as
            ``u*mV`` raises Brian2's ``DimensionMismatchError``)
            B = ``n_trials``; ``inputs[k]`` is consumed by the step at ``start + k*dt`` (the
            state after it is ``states[k]``). After the last row the last row is held.
        start : Brian2 time or None
            None: the current time of this object's clock (so calling it between runs
            continues with the new inputs).
        """
        if self.input_source == "external":
            raise ValueError("set_inputs is not available with input_source='external': "
                             "drive rnn.inputs.u with linked_var(group, variable, index=...)")
        arr = self.check_trial_inputs(inputs)
        start_s = self._start(start)
        if self.input_source == "direct":
            self._direct_inputs, self._direct_start = arr, start_s
            return
        self._new_timed_array(arr.reshape(arr.shape[0], -1))
        self.inputs.t_start = start_s * brian2.second

    @property
    def noise(self):
        """The noise model simulated (:class:`~brian_noisy_rnn.Noise`).

        Assigning a new model changes the next runs when the network's equations already
        hold it: a noise of the placement and process it was built with (its sigma, per
        neuron or scalar, and an OU ``tau_noise`` are written into the groups), or no noise
        (``Noise("none")`` or sigma 0 on a network built with noise: sigma becomes 0, and
        the network still draws its ``randn()`` per neuron and step, so Brian2's random
        stream advances as before). Anything else (noise on a network built without it,
        another placement or process) needs other equations: ValueError naming what to
        build instead, and nothing changes.
        """
        return self._noise

    @noise.setter
    def noise(self, noise):
        noise = as_noise(noise)
        noise.check_compatible(self.spec.dt_seconds, self.spec.n_hidden)
        built = self._built_noise
        if noise.is_active and (not built.is_active or (noise.placement, noise.process)
                                != (built.placement, built.process)):
            was = "without noise" if not built.is_active else \
                f"with {built.placement!r} noise of process {built.process!r}"
            raise ValueError(f"noise: {self.name} was built {was}; its equations cannot take "
                             f"{noise!r}. Build RateCTRNN(spec, noise=...) with the placement "
                             "and process you want (its sigma can then be changed, also to 0)")
        if built.is_active:
            if noise.is_active:  # the sigma and constants a network built with it has
                values = parameter_values(self.spec, noise, self.n_trials)
                self.hidden.sigma = values["hidden.sigma"]
                built.noise_process.brian2_setup(self.hidden, StepRule.from_spec(self.spec, noise))
            else:
                self.hidden.sigma = 0.0
            # restart the process from its new stationary distribution (OU; white: nothing)
            built.noise_process.brian2_reset(self.hidden)
        self._noise = noise

    def reset(self):
        """Set ``h`` to ``spec.h0`` in every trial and restart the noise (OU stationary start)."""
        self.hidden.h = np.tile(self.spec.h0, self.n_trials)
        if self._rule.active:
            self._built_noise.noise_process.brian2_reset(self.hidden)

    def __repr__(self):
        return (f"RateCTRNN({self.spec!r}, n_trials={self.n_trials}, noise={self.noise!r}, "
                f"recurrence={self.recurrence!r}, input_source={self.input_source!r}, "
                f"name={self.name!r})")
