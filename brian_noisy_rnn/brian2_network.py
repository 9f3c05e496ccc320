"""The CTRNN as native Brian2 objects (:class:`RateCTRNN`) and the ``"brian2"`` backend.

A :class:`RateCTRNN` holds ordinary Brian2 objects that run on their own clock at
``spec.dt``, whatever the user's ``defaultclock``:

* ``inputs``  -- NeuronGroup of B*n_in neurons, ``u`` read from a 2-D TimedArray
  (neuron ``b*n_in + k`` is input ``k`` of trial ``b``), set with :meth:`RateCTRNN.set_inputs`;
* ``hidden``  -- NeuronGroup of B*N neurons with state ``h`` (neuron ``b*N + i``, trial-major);
* ``readout`` -- NeuronGroup of B*n_out neurons with ``z = w_out h + b_out``;
* Synapses for ``w_in`` and ``w_out`` (within each trial), and for ``w_rec`` either
  per-trial Synapses (``recurrence="synapses"``, every device) or one dense matrix product
  per step in a ``NetworkOperation`` (``recurrence="dense"``, runtime targets only: the
  weights are held once for all trials and the product uses BLAS).

Scheduling within one step (slot ``groups`` unless noted): the recurrent input
(``before_groups`` for dense) and the input drive are summed, OU noise advances
(``before_groups``), ``h`` is updated (order 0), then the readout sums ``w_out h`` with the
*new* ``h`` (order 1). So after any run ``hidden.h`` and ``readout.z`` are the current
state and output, and a ``StateMonitor(..., when="end")`` records ``states[t]`` = h after
consuming ``inputs[t]``, exactly like the numpy reference.
"""

import gc
import os
import shutil
import tempfile

import numpy as np

import brian2
from brian2 import NetworkOperation, NeuronGroup, Synapses, TimedArray
from brian2.core.base import BrianObject

from .brian2_support import block_indices, is_standalone_device
from .validation import check_choice, check_int
from .brian2_equations import OU_UPDATE, READOUT_EQUATIONS, hidden_equations, input_equations
from .dynamics import StepRule
from .noise import as_noise
from .simulate import check_inputs, check_seed
from .spec import check_spec

RECURRENCES = ("auto", "synapses", "dense")
TARGETS = ("numpy", "cython", "cpp_standalone")
_TA_KEY = "ratectrnn_u_values"  # name of the input TimedArray in the model equations


def _check_method(method):
    """Raise unless ``method`` names a registered Brian2 integration method."""
    from brian2.stateupdaters.base import StateUpdateMethod

    known = sorted(StateUpdateMethod.stateupdaters)
    if not isinstance(method, str) or method not in known:
        raise ValueError(f"method must be a Brian2 integration method, one of {known}; "
                         f"got {method!r}")
    return method


def _start_seconds(start):
    """``start`` (a Brian2 time >= 0) in seconds."""
    if not isinstance(start, brian2.Quantity) or start.dim != brian2.second.dim \
            or np.ndim(start) != 0 or not np.isfinite(float(start)) or float(start) < 0:
        raise ValueError(f"start must be a Brian2 time >= 0 (e.g. 0*ms) or None, got {start!r}")
    return float(start / brian2.second)


def _padded(values):
    """``values`` (T, C) padded to powers of two: rows with the last row, columns with zeros.

    The generated code of a 2-D TimedArray contains its shape; padding (which does not
    change what is read: rows after the last repeat it, extra columns are never indexed)
    lets runs with similar T and B reuse compiled (cython) code instead of recompiling.
    """
    rows, cols = (1 << max(int(n) - 1, 0).bit_length() for n in values.shape)
    out = np.zeros((rows, cols))
    out[: values.shape[0], : values.shape[1]] = values
    out[values.shape[0]:, : values.shape[1]] = values[-1]
    return out


class RateCTRNN(BrianObject):
    """A :class:`~brian_noisy_rnn.CTRNNSpec` as Brian2 objects, B independent trials at once.

    Add it to a ``brian2.Network`` (or use the magic ``run()``) beside other groups, and
    connect to it like to any group: e.g. ``linked_var(rnn.readout, "z")``, or Synapses
    writing the hidden group's extra input ``I_ext``.

    Parameters
    ----------
    spec : CTRNNSpec
    n_trials : int >= 1
        B, the number of independent copies (trials) simulated side by side.
    noise : Noise or None
        Noise model; None uses ``spec.noise``. Its random numbers are drawn with Brian2's
        RNG (seed it with ``brian2.seed``): one ``randn()`` per hidden neuron and step.
    recurrence : {"auto", "synapses", "dense"}
        How ``w_rec h`` is computed. ``"synapses"``: per-trial Synapses (B*N**2 synapses;
        works on every device). ``"dense"``: one (B, N) @ (N, N) product per step in a
        NetworkOperation, weights stored once (runtime targets numpy/cython only).
        ``"auto"``: dense on the runtime device, synapses under a standalone device.
    method : str
        Brian2 integration method of the hidden group; ``"euler"`` (default) gives the
        discrete CTRNN step exactly; other methods integrate the continuous-time equation.
    name : str
        Name of this object; groups are called ``<name>_inputs``, ``<name>_hidden``,
        ``<name>_readout``, ...

    Attributes
    ----------
    inputs : NeuronGroup (B*n_in), ``u`` (dimensionless) -- neuron ``b*n_in + k``
    hidden : NeuronGroup (B*N), ``h``, ``a`` (pre-activation), ``I_rec``, ``I_in``, ``I_ext``,
        ``bias``, ``tau``; with noise also ``sigma`` (per neuron) and ``eta`` -- neuron ``b*N + i``
    readout : NeuronGroup (B*n_out), ``z`` = w_out h + b_out -- neuron ``b*n_out + o``
    input_synapses, readout_synapses : Synapses; recurrent_synapses : Synapses or None
    recurrent_operation : NetworkOperation or None (dense recurrence)
    spec, noise, n_trials, recurrence
    """

    add_to_magic_network = True

    def __init__(self, spec, n_trials=1, noise=None, *, recurrence="auto", method="euler",
                 name="ratectrnn*"):
        check_spec(spec)
        n_trials = check_int(n_trials, "n_trials")
        noise = spec.noise if noise is None else as_noise(noise)
        noise.check_compatible(spec.dt_seconds, spec.n_hidden)
        if not isinstance(recurrence, str) or recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")
        standalone = is_standalone_device()
        if recurrence == "auto":
            recurrence = "synapses" if standalone else "dense"
        if recurrence == "dense" and standalone:
            raise ValueError("recurrence='dense' needs the runtime device (a NetworkOperation); "
                             "use recurrence='synapses' with a standalone device")
        _check_method(method)
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        BrianObject.__init__(self, name=name)
        # an explicit clock name (not "<name>_clock*"): it appears in the generated code
        # (through t), so it must not change while an earlier object awaits collection
        self._clock = brian2.Clock(dt=spec.dt, name=f"{self.name}_clock")
        self.spec, self.noise, self.n_trials, self.recurrence = spec, noise, n_trials, recurrence
        self._rule = StepRule.from_spec(spec, noise)
        self._build(method, standalone)

    # --- construction ------------------------------------------------------------------
    def _build(self, method, standalone):
        spec, B, clock = self.spec, self.n_trials, self.clock
        N, n_in, n_out = spec.n_hidden, spec.n_in, spec.n_out
        # a fixed TimedArray name in runtime mode keeps the generated code (and the cython
        # cache) independent of this object's name; standalone needs a unique name per array
        self._standalone = standalone
        self._n_arrays = 0
        self._ta_namespace = {}
        self._set_timed_array(np.zeros((1, B * n_in)), 0.0)
        self.inputs = NeuronGroup(B * n_in, input_equations(_TA_KEY), clock=clock,
                                  namespace=self._ta_namespace, name=f"{self.name}_inputs")
        self.hidden = NeuronGroup(B * N, hidden_equations(spec.activation, self.noise),
                                  method=method, clock=clock, order=0,
                                  name=f"{self.name}_hidden")
        self.readout = NeuronGroup(B * n_out, READOUT_EQUATIONS, clock=clock, order=2,
                                   name=f"{self.name}_readout")
        self.hidden.tau = spec.tau
        self.hidden.bias = np.tile(spec.b, B)
        self.readout.b_out = np.tile(spec.b_out, B)
        objects = [self.inputs, self.hidden, self.readout]
        if self._rule.active:
            self.hidden.sigma = np.tile(self._rule.sigma, B)
            if self.noise.process == "ou":
                self.hidden.ou_rho = self._rule.rho
                self.hidden.ou_scale = float(np.sqrt(1.0 - self._rule.rho ** 2))
                self.hidden.run_regularly(OU_UPDATE, when="before_groups",
                                          name=f"{self.name}_ou_update")
        objects += self._io_synapses()
        self.recurrent_synapses = self.recurrent_operation = None
        self._dense_views = None
        if self.recurrence == "synapses":
            self.recurrent_synapses = self._block_synapses(
                self.hidden, self.hidden, spec.w_rec, "I_rec_post = w*h_pre : 1 (summed)",
                "recurrent_synapses")
            objects.append(self.recurrent_synapses)
        else:
            self.recurrent_operation = NetworkOperation(
                self._dense_recurrence, clock=clock, when="before_groups",
                name=f"{self.name}_dense_recurrence")
            self._w_rec_t = np.ascontiguousarray(spec.w_rec.T)  # (N, N), once for all trials
            objects.append(self.recurrent_operation)
        self.contained_objects.extend(objects)
        self.reset()

    def _io_synapses(self):
        """Create ``input_synapses`` (w_in u -> I_in) and ``readout_synapses`` (w_out h -> z_rec)."""
        self.input_synapses = self._block_synapses(
            self.inputs, self.hidden, self.spec.w_in, "I_in_post = w*u_pre : 1 (summed)",
            "input_synapses", namespace=self._ta_namespace)
        self.readout_synapses = self._block_synapses(
            self.hidden, self.readout, self.spec.w_out, "z_rec_post = w*h_pre : 1 (summed)",
            "readout_synapses")
        return [self.input_synapses, self.readout_synapses]

    def _block_synapses(self, source, target, weights, summed, suffix, namespace=None):
        """Synapses ``source -> target`` with weights (n_post, n_pre) within each trial."""
        n_post, n_pre = weights.shape
        pre, post = block_indices(n_pre, n_post, self.n_trials)
        syn = Synapses(source, target, "w : 1 (constant)\n" + summed, clock=self.clock,
                       namespace=namespace, name=f"{self.name}_{suffix}")
        syn.connect(i=pre, j=post)
        syn.w = np.tile(np.asarray(weights).ravel(), self.n_trials)
        return syn

    def hidden_arrays(self, *names):
        """(B, N) views of the hidden group's arrays ``names`` (runtime device only).

        Writing into them changes the group's variables (neuron ``b*N + i`` is row ``b``,
        column ``i``); the runtime device never reallocates a NeuronGroup's arrays.
        """
        shape = (self.n_trials, self.spec.n_hidden)
        return tuple(self.hidden.variables[n].get_value().reshape(shape) for n in names)

    def _dense_recurrence(self):
        if self._dense_views is None:
            self._dense_views = self.hidden_arrays("h", "I_rec")
        h, i_rec = self._dense_views
        np.matmul(h, self._w_rec_t, out=i_rec)

    def _set_timed_array(self, values, start_seconds):
        name = f"{self.name}_u_values_{self._n_arrays}" if self._standalone else _TA_KEY
        self._n_arrays += 1
        ta = TimedArray(values, dt=self.spec.dt, name=name)
        self._ta_namespace[_TA_KEY] = ta  # one dict, shared by the input group and its synapses
        self._timed_array = ta
        if hasattr(self, "inputs"):
            self.inputs.t_start = start_seconds * brian2.second

    # --- user API ----------------------------------------------------------------------
    def set_inputs(self, inputs, start=None):
        """Feed ``inputs`` from time ``start`` on (one row per step of ``spec.dt``).

        Parameters
        ----------
        inputs : float array (T, B, n_in), B = ``n_trials``; ``inputs[k]`` is consumed by
            the step at ``start + k*dt`` (the state after it is ``states[k]``). After the
            last row the last row is held.
        start : Brian2 time or None; None = the current time of this object's clock (so
            calling it between runs continues with the new inputs).
        """
        arr = check_inputs(self.spec, inputs)
        if arr.shape[1] != self.n_trials:
            raise ValueError(f"inputs must have shape (T, B={self.n_trials}, "
                             f"n_in={self.spec.n_in}), got {arr.shape}")
        start_s = float(self.clock.t_[:]) if start is None else _start_seconds(start)
        self._set_timed_array(_padded(arr.reshape(arr.shape[0], -1)), start_s)

    def reset(self):
        """Set ``h`` to ``spec.h0`` in every trial and restart the noise (OU stationary start)."""
        self.hidden.h = np.tile(self.spec.h0, self.n_trials)
        if self._rule.active and self.noise.process == "ou":
            self.hidden.eta = 0.0
            self.hidden.ou_started = 0.0

    def __repr__(self):
        return (f"RateCTRNN({self.spec!r}, n_trials={self.n_trials}, noise={self.noise!r}, "
                f"recurrence={self.recurrence!r}, name={self.name!r})")


# --- the "brian2" backend of simulate() ---------------------------------------------------
def run_brian2(spec, inputs, noise=None, seed=None, *, target="numpy", method=None,
               recurrence="auto", directory=None, report=None):
    """Simulate ``spec`` as a :class:`RateCTRNN` in its own Network (backend "brian2").

    Parameters
    ----------
    spec : CTRNNSpec
    inputs : float array (T, B, n_in)
    noise : Noise or None (None: ``spec.noise``)
    seed : int or None, passed to ``brian2.seed`` just before the run; with the same seed
        the noise equals :func:`~brian_noisy_rnn.dynamics.standard_normal` (numpy/torch).
    target : {"numpy", "cython", "cpp_standalone"}, Brian2 code-generation target.
        ``"cpp_standalone"`` builds a C++ project (in ``directory``, or a temporary folder
        that is deleted afterwards) and restores the previous device when done.
    method : str or None, integration method of the hidden group (None: "euler", the exact
        discrete step).
    recurrence : {"auto", "synapses", "dense"}, see :class:`RateCTRNN`.
    directory : str or None, standalone build folder (reusing one lets ``make`` skip
        unchanged files).
    report : passed to ``Network.run`` (e.g. "text") for progress output.

    Returns
    -------
    outputs (T, B, n_out), states (T, B, N): float64; ``states[t]`` = h after consuming
    ``inputs[t]``, ``outputs[t] = w_out states[t] + b_out``.

    Notes
    -----
    On the runtime targets the states are recorded by one per-step operation (no
    StateMonitor) and the outputs are computed from them afterwards; with dense
    recurrence that operation also computes ``w_in u`` and ``w_rec h`` (BLAS), so Brian2
    runs one generated code object per step besides the noise draw: the hidden group's
    activation, noise and integration. See :func:`_run_runtime`.
    """
    check_spec(spec)
    noise = spec.noise if noise is None else as_noise(noise)
    noise.check_compatible(spec.dt_seconds, spec.n_hidden)
    inputs = check_inputs(spec, inputs)
    seed = check_seed(seed)
    check_choice(target, "target", TARGETS)
    method = _check_method("euler" if method is None else method)
    if not isinstance(recurrence, str) or recurrence not in RECURRENCES:
        raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")
    if directory is not None and target != "cpp_standalone":
        raise ValueError("directory is only used with target='cpp_standalone'")
    if is_standalone_device():
        raise RuntimeError("run_brian2 needs Brian2's runtime device to be active (it switches "
                           "to cpp_standalone itself for target='cpp_standalone'); call "
                           "brian2.device.reinit() and brian2.set_device('runtime') first")
    if target == "cpp_standalone":
        if recurrence == "dense":
            raise ValueError("recurrence='dense' is not available with target='cpp_standalone'")
        return _run_standalone(spec, inputs, noise, seed, method, directory, report)
    old_target = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = target
    try:
        return _run_runtime(spec, inputs, noise, seed, method, recurrence, report)
    finally:
        brian2.prefs.codegen.target = old_target


class _RunStep:
    """The per-step numpy work of :func:`run_brian2` on the runtime device, in one call.

    Runs before the groups of each step ``k`` (``rnn.clock``): stores ``h`` (the state after
    step ``k-1``) as ``states[k-1]`` -- replacing a StateMonitor -- and, for dense
    recurrence, sets ``I_rec = w_rec h`` and ``I_in = w_in inputs[k]`` with BLAS in place
    of the (then inactive) recurrent operation and input synapses. The hidden group's
    Brian2 state update (activation, noise, integration) is unchanged.
    """

    def __init__(self, rnn, states, inputs):
        self.rnn, self.states, self.step = rnn, states, 0
        self.dense = rnn.recurrence == "dense"
        names = ("h", "I_rec", "I_in") if self.dense else ("h",)
        self.views = rnn.hidden_arrays(*names)
        self.inputs = inputs
        self.w_in_t = np.ascontiguousarray(rnn.spec.w_in.T)  # (n_in, N)

    def __call__(self):
        k = self.step
        h = self.views[0]
        if k > 0:
            self.states[k - 1] = h
        if self.dense:
            np.matmul(h, self.rnn._w_rec_t, out=self.views[1])
            np.matmul(self.inputs[k], self.w_in_t, out=self.views[2])
        self.step = k + 1

    def finish(self):
        """Store the final state (after the last step) as ``states[-1]``."""
        self.states[self.step - 1] = self.views[0]


class _NoCollection:
    """Keep ``Network.run``'s full ``gc.collect()`` from scanning every object of the process.

    That collection only serves Brian2's warnings about objects missing from a network
    (this network is explicit) but costs time proportional to the process's heap: 0.07 s
    per call here, 0.3 s once Cython's compiler is loaded. ``gc.freeze()`` moves the
    existing objects out of the collector's view for the run; ``gc.unfreeze()`` returns
    them, so nothing is lost -- they are collected later as usual. A process that froze
    objects itself is left alone.
    """

    def __enter__(self):
        self.froze = gc.get_freeze_count() == 0
        if self.froze:
            gc.freeze()
        return self

    def __exit__(self, *exc):
        if self.froze:
            gc.unfreeze()
        return False


class _DenseRunCTRNN(RateCTRNN):
    """The RateCTRNN of a dense runtime :func:`run_brian2` call: no input and readout
    synapses (:class:`_RunStep` computes ``I_in``, the readout is computed afterwards)."""

    def _io_synapses(self):
        self.input_synapses = self.readout_synapses = None
        return []


def _run_runtime(spec, inputs, noise, seed, method, recurrence, report):
    """``run_brian2`` on the runtime device (numpy/cython target): one call, fresh objects.

    The readout is not simulated: ``outputs = states @ w_out.T + b_out`` afterwards (the
    same affine map the readout group computes each step, with BLAS). States are recorded
    by :class:`_RunStep`; with dense recurrence it also computes the input and recurrent
    currents (the hidden group's activation, noise and integration stay Brian2 code).
    """
    T, B, _ = inputs.shape
    if recurrence == "synapses":
        rnn = RateCTRNN(spec, B, noise, recurrence="synapses", method=method,
                        name="ratectrnn_run")
        rnn.set_inputs(inputs, start=0 * brian2.second)
        rnn.readout_synapses.active = False
    else:
        rnn = _DenseRunCTRNN(spec, B, noise, recurrence="dense", method=method,
                             name="ratectrnn_run")
        rnn.recurrent_operation.active = False
        rnn.inputs.active = False
    rnn.readout.active = False
    states = np.empty((T, B, spec.n_hidden))
    step = _RunStep(rnn, states, inputs)
    operation = NetworkOperation(step, clock=rnn.clock, when="before_groups",
                                 name="ratectrnn_run_step")
    net = brian2.Network(rnn, operation)
    brian2.seed(seed)
    with _NoCollection():
        net.run(T * spec.dt, report=report, namespace={})
    step.finish()
    outputs = states.reshape(T * B, -1) @ spec.w_out.T + spec.b_out
    return outputs.reshape(T, B, spec.n_out), states


def _build_and_run(spec, inputs, noise, seed, method, report, build):
    """``run_brian2`` under a standalone device: monitors record, ``build()`` runs."""
    T, B, _ = inputs.shape
    rnn = RateCTRNN(spec, B, noise, recurrence="synapses", method=method, name="ratectrnn_run")
    rnn.set_inputs(inputs, start=0 * brian2.second)
    state_mon = brian2.StateMonitor(rnn.hidden, "h", record=True, when="end",
                                    name="ratectrnn_run_states")
    out_mon = brian2.StateMonitor(rnn.readout, "z", record=True, when="end",
                                  name="ratectrnn_run_outputs")
    net = brian2.Network(rnn, state_mon, out_mon)
    brian2.seed(seed)
    net.run(T * spec.dt, report=report, namespace={})
    build()
    states = np.asarray(state_mon.variables["h"].get_value()).reshape(T, B, spec.n_hidden)
    outputs = np.asarray(out_mon.variables["z"].get_value()).reshape(T, B, spec.n_out)
    return outputs.copy(), states.copy()


def _run_standalone(spec, inputs, noise, seed, method, directory, report):
    from brian2.devices.device import device, reset_device, set_device

    # free the objects of earlier runs, so that names (hence the generated files) are the
    # same as last time and make only recompiles what changed
    gc.collect()
    own_dir = directory is None
    build_dir = tempfile.mkdtemp(prefix="ratectrnn_standalone_") if own_dir \
        else os.fspath(directory)
    set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    try:
        def build():
            device.build(directory=build_dir, compile=True, run=True, with_output=False)

        return _build_and_run(spec, inputs, noise, seed, method, report, build)
    finally:
        device.reinit()
        reset_device()
        if own_dir:
            shutil.rmtree(build_dir, ignore_errors=True)
