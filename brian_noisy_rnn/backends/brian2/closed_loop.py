"""Closed-loop play on Brian2: a NetworkOperation steps the environments every time step."""

import numpy as np

import brian2
from brian2 import NetworkOperation

from ...core.validation import check_choice
from .base import codegen_target
from .rate_network import RateCTRNN

__all__ = ["CLOSED_LOOP_TARGETS", "play_brian2"]

#: code-generation targets that can run a NetworkOperation
CLOSED_LOOP_TARGETS = ("numpy", "cython")


def play_brian2(trials, spec, noise, seed, *, target="numpy"):
    """Play ``trials`` to their end with a :class:`RateCTRNN` on the runtime device.

    A NetworkOperation at the end of every time step reads ``h``, sends ``w_out h + b_out``
    to the environments and feeds their next observations to the following step.

    Parameters
    ----------
    trials : SteppedTrials
        The environments (``observations`` (B, n_in), ``advance(outputs)``, ``done``,
        ``max_steps``, ``envs``).
    spec : CTRNNSpec
        The network (checked).
    noise : Noise
        The noise (checked against spec).
    seed : int
        ``brian2.seed`` of the run: step t's noise is row t of ``standard_normal(seed, T, B, N)``.
    target : {"numpy", "cython"}
        Brian2 code-generation target.
    """
    check_choice(target, "target", CLOSED_LOOP_TARGETS)
    B = len(trials.envs)
    with codegen_target(target):
        rnn = RateCTRNN(spec, B, noise, recurrence="dense", input_source="direct",
                        readout=False, name="ratectrnn_closed_loop")
        rnn.set_inputs(trials.observations[None], start=0 * brian2.second)
        (h,) = rnn.hidden_arrays("h")

        def act():
            trials.advance(h @ spec.w_out.T + spec.b_out)
            if trials.done:
                net.stop()
            else:  # consumed by the next step
                rnn.set_inputs(trials.observations[None])

        net = brian2.Network(rnn, NetworkOperation(act, clock=rnn.clock, when="end",
                                                   name="ratectrnn_closed_loop_envs"))
        saved = np.random.get_state()  # brian2.seed reseeds numpy's global generator
        try:
            brian2.seed(seed)
            net.run(trials.max_steps * spec.dt, namespace={})
        finally:
            np.random.set_state(saved)
