"""The ``"brian2"`` backend of :func:`~brian_noisy_rnn.simulate`: one :class:`RateCTRNN` run.

On the runtime device (numpy and cython targets) the network is a :class:`RateCTRNN` with
``input_source="direct"`` and no readout group: one per-step numpy operation computes the
dense recurrence ``w_rec h`` and the input drive ``w_in u`` with BLAS, Brian2's generated
code does the activation, the noise draw and the integration, and a second operation records
the states; the outputs are the readout's affine map applied afterwards. Under
``cpp_standalone`` the full object (TimedArray inputs, input and readout Synapses, the
dense recurrence in C++ or per-trial Synapses) runs with StateMonitors.
"""

import gc
import re

import numpy as np

import brian2
from brian2 import NetworkOperation

from ...core.validation import check_choice
from ..backend import Backend, register_backend
from .base import codegen_target, is_standalone_device
from .closed_loop import play_brian2
from .rate_network import RECURRENCES, RateCTRNN, check_method
from .standalone import StandaloneSimulator

__all__ = ["Brian2Backend", "TARGETS", "check_brian2_options", "run_brian2"]

TARGETS = ("numpy", "cython", "cpp_standalone")


def check_brian2_options(*, target="numpy", method=None, recurrence="auto", directory=None):
    """Check the options of the "brian2" backend without running anything.

    Parameters
    ----------
    target : {"numpy", "cython", "cpp_standalone"}
        Brian2 code-generation target (see :func:`run_brian2`).
    method : str or None
        Integration method of the hidden group (None: "euler").
    recurrence : {"auto", "synapses", "dense"}
        How ``w_rec h`` is computed (see :class:`RateCTRNN`).
    directory : str or None
        Standalone build folder (``target="cpp_standalone"`` only).

    Returns
    -------
    str
        The integration method (``"euler"`` for None).

    Raises
    ------
    ValueError
        Naming the option that is not valid.
    """
    check_choice(target, "target", TARGETS)
    method = check_method("euler" if method is None else method)
    check_choice(recurrence, "recurrence", RECURRENCES)
    if directory is not None and target != "cpp_standalone":
        raise ValueError("directory is only used with target='cpp_standalone'")
    return method


def run_brian2(spec, inputs, noise, seed, *, target="numpy", method=None,
               recurrence="auto", directory=None, report=None):
    """Simulate ``spec`` as a :class:`RateCTRNN` in its own Network (backend "brian2").

    Called by :func:`~brian_noisy_rnn.simulate`, which has checked ``spec``, ``inputs``,
    ``noise`` and ``seed``; this function checks its own options.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    inputs : float64 array (T, B, n_in)
        Checked inputs.
    noise : Noise
        The noise model of the run.
    seed : int or None
        Passed to ``brian2.seed`` just before the run; with the same seed the noise equals
        :func:`~brian_noisy_rnn.core.dynamics.standard_normal` (numpy/torch).
    target : {"numpy", "cython", "cpp_standalone"}
        Brian2 code-generation target. ``"cpp_standalone"`` runs a
        :class:`StandaloneSimulator`: the C++ project is compiled once per structure (sizes,
        T, B, activation, noise placement and process, method) and kept in the build cache
        (or ``directory``); weights, noise, inputs and seed are run arguments, so later
        calls only start the binary. The runtime device stays active.
    method : str or None
        Integration method of the hidden group (None: "euler", the exact discrete step).
    recurrence : {"auto", "synapses", "dense"}
        See :class:`RateCTRNN` ("auto" = "dense": BLAS on the runtime device, a C++ kernel
        with the weights held once under cpp_standalone).
    directory : str or None
        Standalone build folder instead of the build cache: new, empty, or one this package
        built in (see :class:`StandaloneSimulator`).
    report : str or None
        Passed to ``Network.run`` (e.g. "text") for progress output.

    Returns
    -------
    outputs : float64 array (T, B, n_out)
        ``outputs[t] = w_out states[t] + b_out``.
    states : float64 array (T, B, N)
        ``states[t]`` = h after consuming ``inputs[t]``.
    """
    method = check_brian2_options(target=target, method=method, recurrence=recurrence,
                                  directory=directory)
    if is_standalone_device():
        raise RuntimeError("run_brian2 needs Brian2's runtime device to be active (it switches "
                           "to cpp_standalone itself for target='cpp_standalone'); call "
                           "brian2.device.reinit() and brian2.set_device('runtime') first")
    if target == "cpp_standalone":
        return _run_standalone(spec, inputs, noise, seed, method, recurrence, directory,
                               report)
    with codegen_target(target):
        return _run_runtime(spec, inputs, noise, seed, method, recurrence, report)


class _NoCollection:
    """Keep ``Network.run``'s full ``gc.collect()`` from scanning every object of the process.

    That collection only serves Brian2's warnings about objects missing from a network
    (this network is explicit) but costs time proportional to the process's heap: 0.07 s
    per call here, 0.3 s once Cython's compiler is loaded.

    - Brian2 >= 2.11 skips it when ``prefs.logging.warn_for_unused_objects`` is False: the
      preference is switched off for the run and restored afterwards; gc is not touched.
    - Older Brian2 collects unconditionally: if nothing is frozen, ``gc.freeze()`` moves the
      existing objects out of the collector's view for the run and ``gc.unfreeze()``
      returns them (nothing is lost: they are collected later as usual). If anything is
      frozen already (by the caller, or Python 3.12's own start-up objects) gc is left
      alone: ``gc.unfreeze()`` would return those objects as well, and gc has no way to
      unfreeze only ours.
    """

    def __enter__(self):
        self.pref = self.froze = False
        if RUN_COLLECTS_ONLY_IF_WARNING:
            self.pref = True
            self.old_warn = brian2.prefs.logging.warn_for_unused_objects
            brian2.prefs.logging.warn_for_unused_objects = False
        elif gc.get_freeze_count() == 0:
            self.froze = True
            gc.freeze()
        return self

    def __exit__(self, *exc):
        if self.pref:
            brian2.prefs.logging.warn_for_unused_objects = self.old_warn
        if self.froze:
            gc.unfreeze()
        return False


def _brian2_at_least(major, minor):
    numbers = re.findall(r"\d+", brian2.__version__)[:2]
    return tuple(int(n) for n in numbers) >= (major, minor)


#: Network.run collects only if ``prefs.logging.warn_for_unused_objects`` (Brian2 >= 2.11;
#: 2.10 has the preference but still collects unconditionally)
RUN_COLLECTS_ONLY_IF_WARNING = _brian2_at_least(2, 11)


def _run_runtime(spec, inputs, noise, seed, method, recurrence, report):
    """``run_brian2`` on the runtime device (numpy/cython target): one call, fresh objects.

    The readout is not simulated: ``outputs = spec.readout(states)`` afterwards (the same
    map the readout group computes each step, with BLAS).
    """
    T, B, _ = inputs.shape
    rnn = RateCTRNN(spec, B, noise, recurrence=recurrence, method=method,
                    input_source="direct", readout=False, name="ratectrnn_run")
    rnn.set_inputs(inputs, start=0 * brian2.second)
    states = np.empty((T, B, spec.n_hidden))
    (h,) = rnn.hidden_arrays("h")
    step = iter(range(T))

    def record():
        states[next(step)] = h

    recorder = NetworkOperation(record, clock=rnn.clock, when="end", name="ratectrnn_run_record")
    net = brian2.Network(rnn, recorder)
    brian2.seed(seed)
    with _NoCollection():
        net.run(T * spec.dt, report=report, namespace={})
    return spec.readout(states), states


def _run_standalone(spec, inputs, noise, seed, method, recurrence, directory, report):
    """One :class:`StandaloneSimulator` run: compiled once per structure, in the build cache
    or ``directory`` (``report`` is not used: the binary runs without output)."""
    T, B, _ = inputs.shape
    with StandaloneSimulator(spec, T, B, noise, method=method, recurrence=recurrence,
                             directory=directory) as sim:
        return sim.run(inputs, seed=seed)


class Brian2Backend(Backend):
    """``backend="brian2"``: :func:`run_brian2`; closed loop with :func:`play_brian2`."""

    name = "brian2"

    run = staticmethod(run_brian2)

    def check_options(self, options, name="options"):
        super().check_options(options, name)
        try:
            check_brian2_options(**options)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        return options

    play = staticmethod(play_brian2)


register_backend(Brian2Backend())
