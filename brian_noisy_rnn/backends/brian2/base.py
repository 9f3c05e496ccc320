"""The base of the plugin's Brian2 objects: B independent trials of one network side by side.

:class:`TrialBatchedObject` holds what :class:`~brian_noisy_rnn.RateCTRNN` and
:class:`~brian_noisy_rnn.SpikingRealization` share: the argument checks, trial-blocked
``Synapses`` (weights within each trial, none across), the input ``TimedArray`` behind
:meth:`~TrialBatchedObject.set_inputs`, and the choice of the code-generation target.

Index convention: unit ``i`` of trial ``b`` is neuron ``b*n + i`` of a group with ``n``
units per trial (trial-major), for inputs, hidden units and outputs alike.
"""

import contextlib
import re

import numpy as np

import brian2
from brian2 import NeuronGroup, Synapses, TimedArray
from brian2.core.base import BrianObject

from ...core.spec import check_spec
from ...core.units import unit_error
from ...core.validation import check_inputs, check_int

__all__ = ["IsolatedNeuronGroup", "IsolatedSynapses", "TrialBatchedObject", "block_indices",
           "check_external_input", "codegen_target", "is_standalone_device", "padded_rows"]


class _OwnNamesOnly:
    """Mixin: resolve external names in the group's own ``namespace`` only, never in the run
    namespace (the caller's names collected by ``run()``, or ``Network.run(namespace=...)``).

    Brian2 consults a group's explicit ``namespace`` *and* the run namespace; a name found in
    both, or an internal variable (``h``, ``tau``, ``w``) that the caller also defines, makes
    Brian2 warn on every run. Every code object of a group (state update, ``run_regularly``
    operations, summed-variable updates, thresholds, unit checks) resolves its names through
    :meth:`resolve_all` of its owner, so this one override isolates them all.
    """

    def resolve_all(self, identifiers, run_namespace, user_identifiers=None,
                    additional_variables=None):
        """Brian2's ``Group.resolve_all``, with ``run_namespace`` ignored (an empty one)."""
        return super().resolve_all(identifiers, {}, user_identifiers=user_identifiers,
                                   additional_variables=additional_variables)


class IsolatedNeuronGroup(_OwnNamesOnly, NeuronGroup):
    """A ``brian2.NeuronGroup`` that resolves external names only in its own ``namespace``.

    Takes exactly the arguments of ``NeuronGroup``. Names that are neither variables of the
    group nor in its ``namespace`` (nor Brian2's units, constants and functions) raise
    instead of being looked up among the caller's variables, and the caller's variables
    never change the group or cause warnings. The plugin creates all its groups this way.
    This also holds for string expressions assigned to its variables
    (``group.bias = "b0 + 0.1*i"`` needs ``b0`` in ``group.namespace``); a user's own
    Synapses or linked variables reading or driving the group resolve their names as usual.
    """


class IsolatedSynapses(_OwnNamesOnly, Synapses):
    """A ``brian2.Synapses`` that resolves external names only in its own ``namespace``.

    Takes exactly the arguments of ``Synapses`` (see :class:`IsolatedNeuronGroup`).
    """


def check_external_input(inputs, name):
    """Raise ValueError unless ``inputs.u`` (an ``input_source="external"`` input group) is
    linked to a state variable of a user's group.

    Parameters
    ----------
    inputs : NeuronGroup
        The object's input group.
    name : str
        The object's name, for the message.
    """
    from brian2.core.variables import Subexpression

    if "u" not in inputs.variables:
        raise ValueError(f"{name}.inputs.u is not linked (input_source='external')"
                         ": set rnn.inputs.u = linked_var(group, variable, index=...) "
                         "before running")
    if isinstance(inputs.variables["u"], Subexpression):
        raise ValueError(f"{name}.inputs.u must be linked to a state variable, "
                         "not to a subexpression (Brian2 would resolve its names in "
                         "the input group): give the driver a state variable, e.g. "
                         "'r : 1' set by run_regularly(..., when='start')")


def is_standalone_device():
    """True if Brian2's current device is a standalone device (e.g. cpp_standalone)."""
    from brian2.devices.device import RuntimeDevice, get_device

    return not isinstance(get_device(), RuntimeDevice)


@contextlib.contextmanager
def codegen_target(target):
    """Run the block with ``brian2.prefs.codegen.target = target``, then restore the old one."""
    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = target
    try:
        yield
    finally:
        brian2.prefs.codegen.target = old


def block_indices(n_pre, n_post, n_trials):
    """Pre/post indices of all-to-all blocks within each of ``n_trials`` copies.

    Returns
    -------
    (pre, post) : int arrays of shape (n_trials*n_post*n_pre,), in synapse order
        (trial, post, pre): synapse ``(b, j, i)`` connects ``b*n_pre + i`` to ``b*n_post + j``.

    Examples
    --------
    >>> pre, post = block_indices(n_pre=2, n_post=1, n_trials=2)
    >>> pre.tolist(), post.tolist()
    ([0, 1, 2, 3], [0, 0, 1, 1])
    """
    b, post, pre = np.meshgrid(np.arange(n_trials), np.arange(n_post), np.arange(n_pre),
                               indexing="ij")
    return (b * n_pre + pre).ravel(), (b * n_post + post).ravel()


def padded_rows(values):
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


def start_seconds(start):
    """``start`` (a Brian2 time >= 0) in seconds; ValueError naming ``start`` otherwise
    (Brian2's ``DimensionMismatchError``, also a ValueError, for a quantity of another
    dimension)."""
    if isinstance(start, brian2.Quantity) and start.dim != brian2.second.dim:
        raise unit_error("start", start, "a Brian2 time >= 0 such as 0*ms")
    if not isinstance(start, brian2.Quantity) or start.dim != brian2.second.dim \
            or np.ndim(start) != 0 or not np.isfinite(float(start)) or float(start) < 0:
        raise ValueError(f"start must be a Brian2 time >= 0 (e.g. 0*ms) or None, got {start!r}")
    return float(start / brian2.second)


class TrialBatchedObject(BrianObject):
    """Base class: a :class:`~brian_noisy_rnn.CTRNNSpec` as Brian2 objects, B trials at once.

    Subclasses build their groups in ``__init__`` after calling this constructor, add them to
    ``contained_objects`` and, if they read inputs from a TimedArray, create their input
    group with :meth:`input_group`.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    n_trials : int
        B >= 1, the number of independent copies simulated side by side.
    name : str
        Name of the object; its groups are called ``<name>_<part>``.
    spec_clock : bool
        True: this object's default clock (``self.clock``) runs at ``spec.dt``; False:
        Brian2's default clock (a subclass may then set its own ``_clock``).

    Attributes
    ----------
    spec : CTRNNSpec
    n_trials : int
    """

    add_to_magic_network = True
    #: name of the input TimedArray on the runtime device: fixed, so that the generated
    #: code (and Brian2's cython cache) does not depend on the object's name
    input_array_key = "ctrnn_u_values"

    #: the network forms a subclass simulates (see :data:`brian_noisy_rnn.core.spec.FORMS`)
    forms = ("h",)

    def __init__(self, spec, n_trials, name, spec_clock=False):
        check_spec(spec, forms=self.forms)
        n_trials = check_int(n_trials, "n_trials")
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\*?", name):
            raise ValueError(f"name must be a Brian2 name: letters, digits and underscores, not "
                             f"starting with a digit, optionally ending in '*' (a unique "
                             f"number is added), got {name!r}")
        BrianObject.__init__(self, dt=spec.dt if spec_clock else None, name=name)
        self.spec, self.n_trials = spec, n_trials
        self._standalone = is_standalone_device()
        self._n_arrays = 0
        #: namespace shared by the input group and the synapses reading it (the TimedArray)
        self.input_namespace = {}
        self._timed_array = None

    # --- building blocks -----------------------------------------------------------------
    def block_synapses(self, source, target, weights, summed, suffix, clock=None,
                       namespace=None):
        """Summed-variable Synapses ``source -> target`` with ``weights`` within each trial.

        Parameters
        ----------
        source, target : NeuronGroup
            Groups of ``B*n_pre`` and ``B*n_post`` neurons.
        weights : array (n_post, n_pre)
            The same weights in every trial (stored per synapse: B*n_post*n_pre values).
        summed : str
            The summed-variable equation, e.g. ``"I_in_post = w*u_pre : 1 (summed)"``.
        suffix : str
            The Synapses are named ``<name>_<suffix>``.
        clock : Clock or None
            None: this object's clock.
        namespace : dict or None
            Explicit namespace (names not found there raise instead of being looked up in
            the caller's frames).
        """
        n_post, n_pre = weights.shape
        pre, post = block_indices(n_pre, n_post, self.n_trials)
        syn = IsolatedSynapses(source, target, "w : 1 (constant)\n" + summed,
                               clock=self.clock if clock is None else clock,
                               namespace={} if namespace is None else namespace,
                               name=f"{self.name}_{suffix}")
        syn.connect(i=pre, j=post)
        syn.w = np.tile(np.asarray(weights).ravel(), self.n_trials)
        return syn

    def _new_timed_array(self, values):
        """A TimedArray of ``values`` (T, B*n_in), registered in :attr:`input_namespace`."""
        key = self.input_array_key
        name = f"{self.name}_u_values_{self._n_arrays}" if self._standalone else key
        self._n_arrays += 1
        ta = TimedArray(padded_rows(values), dt=self.spec.dt, name=name)
        self.input_namespace[key] = ta
        self._timed_array = ta
        return ta

    @property
    def input_timed_array(self):
        """The TimedArray the input group reads now (None if there is none), shape
        (T', B*n_in) padded (see :func:`padded_rows`): e.g. a key of cpp_standalone's
        ``device.run(run_args=...)``."""
        return self._timed_array

    def check_trial_inputs(self, inputs):
        """``inputs`` as float64 (T, B, n_in) with B = ``n_trials``, or a clear error."""
        arr = check_inputs(self.spec, inputs)
        if arr.shape[1] != self.n_trials:
            raise ValueError(f"inputs must have shape (T, B={self.n_trials}, "
                             f"n_in={self.spec.n_in}), got {arr.shape}")
        return arr

    def trial_view(self, monitor, variable=None):
        """A monitor's recording of one of this object's groups as (T, B, n) trials.

        Parameters
        ----------
        monitor : brian2.StateMonitor or brian2.SpikeMonitor
            A StateMonitor recording ``variable`` of one of this object's groups (e.g.
            ``hidden``, ``readout``, ``inputs``, ``units``) with ``record=True`` (every
            neuron, in order), or a SpikeMonitor of one of its groups (e.g. a
            :class:`~brian_noisy_rnn.SpikingRealization`'s ``neurons``).
        variable : str or None
            The recorded variable, e.g. ``"h"`` or ``"z"`` (StateMonitor); None for a
            SpikeMonitor.

        Returns
        -------
        float64 array (T, B, n)
            StateMonitor: T recorded time points, B = ``n_trials``, n = neurons per trial of
            the group (N for ``hidden``, n_out for ``readout``); ``[t, b, i]`` is neuron
            ``b*n + i`` at ``monitor.t[t]``. Values are in the variable's base unit (all the
            plugin's variables are dimensionless); a copy. SpikeMonitor: spike counts per
            network step ``spec.dt`` (step k counts the spikes in ``[k dt, (k+1) dt)``),
            T = the whole steps run so far; a SpikingRealization's ``neurons`` give
            (T, B, N, M).
        """
        mine = [obj for obj in self.contained_objects if isinstance(obj, brian2.NeuronGroup)]
        if isinstance(monitor, brian2.SpikeMonitor):
            if not any(monitor.source is group for group in mine):
                raise ValueError(f"monitor must record a group of {self.name!r} (one of "
                                 f"{[g.name for g in mine]}), not {monitor.source.name!r}")
            if variable is not None:
                raise ValueError(f"variable must be None for a SpikeMonitor, got {variable!r}")
            return self._spike_counts(monitor)
        if not isinstance(monitor, brian2.StateMonitor):
            raise TypeError(f"monitor must be a brian2.StateMonitor or SpikeMonitor, got "
                            f"{monitor!r}")
        if not any(monitor.source is group for group in mine):
            raise ValueError(f"monitor must record a group of {self.name!r} (one of "
                             f"{[g.name for g in mine]}), not {monitor.source.name!r}")
        if not isinstance(variable, str) or variable not in monitor.record_variables:
            raise ValueError(f"variable must be one of the monitor's recorded variables "
                             f"{monitor.record_variables}, got {variable!r}")
        n_neurons = len(monitor.source)
        if not np.array_equal(np.asarray(monitor.record), np.arange(n_neurons)):
            raise ValueError("monitor must record every neuron of its group in order "
                             "(StateMonitor(..., record=True))")
        values = np.asarray(monitor.variables[variable].get_value(), dtype=np.float64)
        return values.reshape(len(values), self.n_trials, n_neurons // self.n_trials).copy()

    def before_run(self, run_namespace):
        """Brian2's hook before a run: with ``input_source="external"``, check that
        ``inputs.u`` is linked to a state variable (:func:`check_external_input`).

        Parameters
        ----------
        run_namespace : dict
            The run namespace Brian2 passes (the plugin's groups do not use it).
        """
        if getattr(self, "input_source", None) == "external":
            check_external_input(self.inputs, self.name)
        super().before_run(run_namespace)

    def _spike_counts(self, monitor):
        """Spike counts (T, B, n) per network step of a SpikeMonitor of one of the groups."""
        dt = self.spec.dt_seconds
        now = float(np.asarray(self.clock.variables["t"].get_value()).item())
        n_steps = int(np.floor(now / dt + 1e-9))
        n_neurons = len(monitor.source)
        t = np.asarray(monitor.variables["t"].get_value(), dtype=np.float64)
        i = np.asarray(monitor.variables["i"].get_value(), dtype=np.int64)
        step = np.floor(t / dt + 1e-9).astype(np.int64)
        keep = step < n_steps
        counts = np.zeros((n_steps, n_neurons))
        np.add.at(counts, (step[keep], i[keep]), 1.0)
        return counts.reshape(n_steps, self.n_trials, n_neurons // self.n_trials)

    def _start(self, start):
        """Start time in seconds: ``start``, or the current time of this object's clock."""
        if start is None:
            return float(np.asarray(self.clock.variables["t"].get_value()).item())
        return start_seconds(start)
