"""Backends: implementations of the CTRNN step that compute the same thing.

- :class:`Backend` is the contract of a backend (:mod:`.backend`); :func:`register_backend`
  adds one to the registry :data:`BACKENDS` (see ``docs/add_a_backend.md``).
- :func:`simulate` runs a :class:`~brian_noisy_rnn.CTRNNSpec` on one backend and returns a
  :class:`SimulationResult`; built in:
  ``"numpy"`` (:mod:`.reference`), ``"torch"`` (:mod:`.torch_backend`, :class:`TorchCTRNN`;
  its stacked form for ensembles, :class:`StackedCTRNN` in :mod:`.torch_stacked`),
  ``"brian2"`` (:mod:`.brian2`, :class:`RateCTRNN`) and ``"brian2-spiking"``
  (:mod:`.spiking`, :class:`SpikingRealization`).

The torch and Brian2 parts are imported on first use.
"""

from .._lazy import lazy_attributes
from .backend import BACKENDS, Backend, get_backend, register_backend, unregister_backend
from .simulation import SimulationResult, check_backend, simulate

_LAZY = {
    "TorchCTRNN": ".torch_backend",
    "StackedCTRNN": ".torch_stacked",
    "RateCTRNN": ".brian2",
    "StandaloneSimulator": ".brian2",
    "clear_build_cache": ".brian2",
    "SpikingRealization": ".spiking",
}

__all__ = ["BACKENDS", "Backend", "SimulationResult", "check_backend", "get_backend",
           "register_backend", "simulate", "unregister_backend", *_LAZY]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
