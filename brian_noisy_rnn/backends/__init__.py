"""Backends: implementations of the CTRNN step that compute the same thing.

- :func:`simulate` runs a :class:`~brian_noisy_rnn.CTRNNSpec` on one backend and returns a
  :class:`SimulationResult`; :data:`BACKENDS` lists them:
  ``"numpy"`` (:mod:`.reference`), ``"torch"`` (:mod:`.torch_backend`, :class:`TorchCTRNN`),
  ``"brian2"`` (:mod:`.brian2`, :class:`RateCTRNN`) and ``"brian2-spiking"``
  (:mod:`.spiking`, :class:`SpikingRealization`).

The torch and Brian2 parts are imported on first use.
"""

from .._lazy import lazy_attributes
from .simulation import BACKENDS, SimulationResult, check_backend, simulate

_LAZY = {
    "TorchCTRNN": ".torch_backend",
    "RateCTRNN": ".brian2",
    "StandaloneSimulator": ".brian2",
    "clear_build_cache": ".brian2",
    "SpikingRealization": ".spiking",
}

__all__ = ["BACKENDS", "SimulationResult", "check_backend", "simulate", *_LAZY]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
