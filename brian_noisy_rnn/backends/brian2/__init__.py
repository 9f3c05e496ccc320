"""The Brian2 backend: the CTRNN as native Brian2 objects and the ``"brian2"`` simulate backend.

- :class:`RateCTRNN` -- the network as NeuronGroups and Synapses, B trials at once;
- :class:`TrialBatchedObject` -- the base it shares with the spiking realization;
- :func:`run_brian2` -- the ``simulate(..., backend="brian2")`` path;
- :class:`StandaloneSimulator` -- one cpp_standalone build per structure, rerun with new
  weights, noise, inputs and seeds; :func:`clear_build_cache` empties its build cache;
- :mod:`.equations` -- the model strings, one per noise placement and process.
"""

from .base import (IsolatedNeuronGroup, IsolatedSynapses, TrialBatchedObject, block_indices,
                   codegen_target, is_standalone_device)
from .rate_network import RateCTRNN
from .run import TARGETS, run_brian2
from .standalone import StandaloneSimulator, clear_build_cache

__all__ = ["TARGETS", "IsolatedNeuronGroup", "IsolatedSynapses", "RateCTRNN",
           "StandaloneSimulator", "TrialBatchedObject", "block_indices", "codegen_target",
           "clear_build_cache", "is_standalone_device", "run_brian2"]
