"""Build a :class:`RateCTRNN` under ``cpp_standalone`` once, run it again and again.

``simulate(..., backend="brian2", target="cpp_standalone")`` generates, compiles and runs a
C++ project on every call (seconds of fixed cost). :class:`StandaloneSimulator` builds the
project once for a given network, number of steps and of trials, and then reruns the
compiled binary with new inputs and a new seed through Brian2's
``device.run(run_args=...)`` (Brian2 >= 2.6): no code generation, no compilation.

The seed becomes a run argument this way: Brian2's ``seed(s)`` under standalone is written
literally into ``main.cpp``; here a one-neuron group ``<name>_rng`` holds ``seed_value``, and
code inserted right after the command-line values are applied reseeds every thread's
generator with ``seed_value + thread`` -- what Brian2's ``seed(s)`` does -- so a run with seed
``s`` draws the same ``randn()`` stream as the NumPy reference with seed ``s``.
"""

import contextlib
import os
import shutil
import tempfile

import numpy as np

import brian2

from ...core.spec import FORMS, check_spec
from ...core.validation import check_choice, check_int, check_seed
from .base import is_standalone_device, padded_rows
from .rate_network import RECURRENCES, RateCTRNN, check_method

__all__ = ["StandaloneSimulator"]


class StandaloneSimulator:
    """One compiled cpp_standalone project of a network, rerun with new inputs and seeds.

    While it is open, Brian2's ``cpp_standalone`` device is active (build nothing else with
    Brian2 in the meantime); :meth:`close` (or leaving a ``with`` block) restores the
    runtime device. The first :meth:`run` generates and compiles the project; later runs
    only start the binary.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    n_steps : int
        T >= 1, the number of steps of every run.
    n_trials : int
        B >= 1, the number of trials of every run.
    noise : Noise or None
        The noise model (None: ``spec.noise``).
    method : str
        Brian2 integration method of the hidden group (default ``"euler"``, the exact step).
    recurrence : {"auto", "dense", "synapses"}
        See :class:`RateCTRNN` ("auto" = "dense": a C++ kernel, the weights held once).
    directory : str or None
        Build folder (None: a temporary folder, deleted by :meth:`close`).

    Attributes
    ----------
    rnn : RateCTRNN
        The network object of the project.
    n_builds : int
        How many times the project was compiled (1 after the first :meth:`run`).

    Examples
    --------
    >>> with StandaloneSimulator(spec, n_steps=500, n_trials=64) as sim:   # doctest: +SKIP
    ...     outputs, states = sim.run(inputs, seed=1)     # builds (seconds)
    ...     outputs2, states2 = sim.run(inputs2, seed=2)  # reruns the binary
    """

    def __init__(self, spec, n_steps, n_trials, noise=None, *, method="euler",
                 recurrence="auto", directory=None):
        from brian2.devices.device import device, set_device

        check_spec(spec, forms=FORMS)
        self.n_steps = check_int(n_steps, "n_steps")
        self.n_trials = check_int(n_trials, "n_trials")
        noise = spec.noise if noise is None else spec.check_noise(noise)
        check_method(method)
        check_choice(recurrence, "recurrence", RECURRENCES)
        if is_standalone_device():
            raise RuntimeError("StandaloneSimulator needs Brian2's runtime device to be "
                               "active when it is created (it switches to cpp_standalone)")
        self.spec, self.n_builds = spec, 0
        self._own_dir = directory is None
        self.directory = tempfile.mkdtemp(prefix="ratectrnn_standalone_") if self._own_dir \
            else os.fspath(directory)
        set_device("cpp_standalone", directory=self.directory, build_on_run=False)
        self._device, self._open = device, True
        try:
            self._setup(noise, method, recurrence)
        except BaseException:
            self.close()
            raise

    def _setup(self, noise, method, recurrence):
        spec, T, B = self.spec, self.n_steps, self.n_trials
        name = "ratectrnn_session"
        self.rnn = RateCTRNN(spec, B, noise, recurrence=recurrence, method=method, name=name)
        self.rnn.set_inputs(np.zeros((T, B, spec.n_in)), start=0 * brian2.second)
        self._states = brian2.StateMonitor(self.rnn.hidden, "h", record=True, when="end",
                                           name=f"{name}_states")
        self._outputs = brian2.StateMonitor(self.rnn.readout, "z", record=True, when="end",
                                            name=f"{name}_outputs")
        # after every initial value (those are main.cpp statements before this point)
        self._seed_group = brian2.NeuronGroup(1, "seed_value : 1 (shared, constant)",
                                              name=f"{name}_rng")
        self._seed_group.seed_value = -1
        self._device.apply_run_args()  # main.cpp: set_from_command_line(args) here,
        self._device.insert_code(      # then reseed from the (overridden) seed value
            "main",
            f"{{ const double _s = brian::_array_{self._seed_group.name}_seed_value[0];\n"
            "  if (_s >= 0) for (size_t _t = 0; _t < brian::_random_generators.size(); _t++)\n"
            "      brian::_random_generators[_t].seed((unsigned long)_s + _t); }")
        net = brian2.Network(self.rnn, self._states, self._outputs, self._seed_group)
        net.run(T * spec.dt, namespace={})
        self._net = net

    def run(self, inputs, seed=None):
        """Run the network on ``inputs`` with ``seed`` (compiling the project the first time).

        Parameters
        ----------
        inputs : float array (T, B, n_in)
            T = ``n_steps``, B = ``n_trials``; dimensionless.
        seed : int in [0, 2**32) or None
            Seed of Brian2's generator for this run; the noise then equals
            :func:`~brian_noisy_rnn.core.dynamics.standard_normal` with the same seed, as in
            ``simulate``. None: unseeded (differs from run to run).

        Returns
        -------
        outputs : float64 array (T, B, n_out)
        states : float64 array (T, B, N)
            ``states[t]`` = h after consuming ``inputs[t]``;
            ``outputs[t] = w_out states[t] + b_out``.
        """
        if not self._open:
            raise RuntimeError("this StandaloneSimulator is closed")
        arr = self.rnn.check_trial_inputs(inputs)
        if arr.shape[0] != self.n_steps:
            raise ValueError(f"inputs must have n_steps={self.n_steps} rows, got {arr.shape[0]}")
        seed = check_seed(seed)
        if self.n_builds == 0:
            self._device.build(directory=self.directory, compile=True, run=False,
                               with_output=False)
            self.n_builds += 1
        values = padded_rows(arr.reshape(self.n_steps, -1))
        run_args = {self.rnn.input_timed_array: values,
                    self._seed_group.seed_value: -1.0 if seed is None else float(seed)}
        self._device.run(directory=self.directory, with_output=False, run_args=run_args)
        T, B = self.n_steps, self.n_trials
        # get_value reads a fresh array from the results file (no cache): no copy needed
        states = np.asarray(self._states.variables["h"].get_value()).reshape(T, B, -1)
        outputs = np.asarray(self._outputs.variables["z"].get_value()).reshape(T, B, -1)
        # the run's argument files (inputs, seed: static_arrays/init_*.dat) are not needed
        # again; without this every run would leave its inputs on disk
        self._device.delete(code=False, data=False, run_args=True, directory=False)
        for name in self._device.run_args_arrays:  # and the lock files Brian2 leaves
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.directory, "static_arrays", name + ".lock"))
        return outputs, states

    def close(self):
        """Restore Brian2's runtime device and delete a temporary build folder (idempotent)."""
        if not getattr(self, "_open", False):
            return
        from brian2.devices.device import reset_device

        self._open = False
        self._device.reinit()
        reset_device()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return (f"StandaloneSimulator({self.spec!r}, n_steps={self.n_steps}, "
                f"n_trials={self.n_trials}, directory={self.directory!r})")
