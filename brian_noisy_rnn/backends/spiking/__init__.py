"""The spiking realization of a rate CTRNN (backend ``"brian2-spiking"``).

- :class:`SpikingRealization` -- each hidden unit becomes a population of spiking neurons;
- :func:`effective_sigma`, :func:`population_for_sigma` -- its noise as an equivalent
  rate-network noise level (:mod:`.effective_noise`); :func:`measure_effective_sigma`
  measures it by simulation;
- membrane noise inside each neuron's transfer (``SpikingRealization(...,
  membrane_sigma=...)``; ``run_spiking(..., noise_as="membrane")``);
- :func:`run_spiking` -- the ``simulate(..., backend="brian2-spiking")`` path.
"""

from .effective_noise import effective_sigma, population_for_sigma
from .realization import MEMBRANE_PROCESSES, NEURON_MODELS, SpikingRealization
from .run import (NOISE_AS, TARGETS, measure_effective_sigma, membrane_options,
                  resolve_population, run_spiking)

__all__ = ["MEMBRANE_PROCESSES", "NEURON_MODELS", "NOISE_AS", "TARGETS", "SpikingRealization",
           "effective_sigma", "measure_effective_sigma", "membrane_options",
           "population_for_sigma", "resolve_population", "run_spiking"]
