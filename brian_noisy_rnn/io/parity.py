"""Parity of an imported network with its source: the source's own forward pass against
``simulate`` on every backend, without noise and with the same noise draws.

The source's forward pass is the real library where it is installed (``torch.nn.RNN``;
nn4n's own forward in float32 is checked by the tests) and otherwise a line-for-line
transcription of the source's equations (``run_*`` of each importer module, each citing its
source). With noise, both sides are fed the same standard normal draws
(:func:`~brian_noisy_rnn.core.dynamics.standard_normal`, which Brian2's ``randn()``
reproduces), so they must agree to float precision: a stronger check than agreement in
distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backends.simulation import simulate
from ..core.dynamics import standard_normal
from ..core.noise import Noise

__all__ = ["BACKENDS", "ParityReport", "measure_parity", "parity_inputs"]

#: the backends parity is measured on (Brian2 on its numpy target: no compilation)
BACKENDS = ("numpy", "torch", "brian2")


@dataclass
class ParityReport:
    """Largest absolute differences between the source's forward pass and ``simulate``.

    Attributes
    ----------
    noise_free : dict
        backend -> ``{"outputs": float, "states": float}`` without noise.
    same_draws : dict
        backend -> ``{"outputs": float, "states": float}`` with the spec's noise and the same
        draws on both sides; empty if the source has no noise.
    shape : tuple of int
        (T, B, n_in) of the inputs used.
    """

    noise_free: dict = field(default_factory=dict)
    same_draws: dict = field(default_factory=dict)
    shape: tuple = ()

    def worst(self):
        """The largest difference over all backends, runs and arrays (float)."""
        values = [v for run in (self.noise_free, self.same_draws) for d in run.values()
                  for v in d.values()]
        return max(values) if values else 0.0

    def lines(self):
        """A human-readable table, one line per backend and run (list of str)."""
        out = [f"parity with the source over inputs of shape {self.shape} "
               "(max |difference|, outputs / states):"]
        for label, run in (("no noise", self.noise_free), ("same noise draws", self.same_draws)):
            for backend, d in run.items():
                out.append(f"  {label:17s} {backend:7s} {d['outputs']:.2e} / {d['states']:.2e}")
        return out


def parity_inputs(spec, n_steps=50, n_trials=4, seed=0):
    """Reproducible test inputs for ``spec``: standard normal, shape (T, B, n_in).

    Parameters
    ----------
    spec : CTRNNSpec
        Gives n_in.
    n_steps, n_trials : int
        T and B.
    seed : int
        Seed of the draws.

    Returns
    -------
    float64 array (T, B, n_in)
    """
    return np.random.RandomState(seed).randn(n_steps, n_trials, spec.n_in)


def _diff(result, outputs, states):
    return {"outputs": float(np.max(np.abs(result.outputs - outputs))),
            "states": float(np.max(np.abs(result.states - states)))}


def measure_parity(spec, reference, inputs, *, seed=0, backends=BACKENDS, with_noise=True):
    """Run ``reference`` (the source's forward pass) and ``simulate`` and compare.

    Parameters
    ----------
    spec : CTRNNSpec
        The imported network.
    reference : callable
        ``reference(inputs, xi)`` -> ``(outputs (T, B, n_out), states (T, B, N))``, the
        source's forward pass; ``xi`` is None (no noise) or the standard normal draws
        (T, B, N) of its noise.
    inputs : float array (T, B, n_in)
        The inputs.
    seed : int
        Seed of the noise draws.
    backends : sequence of str
        Backends of ``simulate``.
    with_noise : bool
        Also compare with the spec's noise (when it is active).

    Returns
    -------
    ParityReport
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    T, B = inputs.shape[:2]
    report = ParityReport(shape=tuple(inputs.shape))
    z, h = reference(inputs, None)
    for backend in backends:
        report.noise_free[backend] = _diff(
            simulate(spec, inputs, backend=backend, noise=Noise("none")), z, h)
    if with_noise and spec.noise.is_active:
        z, h = reference(inputs, standard_normal(seed, T, B, spec.n_hidden))
        for backend in backends:
            report.same_draws[backend] = _diff(
                simulate(spec, inputs, backend=backend, seed=seed), z, h)
    return report
