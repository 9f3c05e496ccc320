"""brian-noisy-rnn: continuous-time rate RNNs with configurable noise placement.

One framework-neutral network description (:class:`CTRNNSpec`) is simulated by three
implementations that compute the same thing: a readable numpy reference, a PyTorch
module (for training) and native Brian2 objects (:class:`RateCTRNN`).

Subpackages, imports pointing one way (``core`` <- ``backends`` <- ``tasks`` <-
``bridges`` / ``evaluation`` <- ``plotting`` <- ``analysis`` <- ``experiments`` <- ``cli``):
:mod:`~brian_noisy_rnn.core`, :mod:`~brian_noisy_rnn.backends`,
:mod:`~brian_noisy_rnn.tasks`, :mod:`~brian_noisy_rnn.bridges`,
:mod:`~brian_noisy_rnn.evaluation`, :mod:`~brian_noisy_rnn.analysis`,
:mod:`~brian_noisy_rnn.plotting`, :mod:`~brian_noisy_rnn.experiments`,
:mod:`~brian_noisy_rnn.cli`.

Every name is imported on first use (PEP 562), so ``import brian_noisy_rnn`` loads neither
Brian2 nor PyTorch nor NeuroGym.
"""

from ._lazy import lazy_attributes

__version__ = "0.2.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "ACTIVATIONS": ".core",
    "CTRNNSpec": ".core",
    "Noise": ".core",
    "get_activation": ".core",
    "SimulationResult": ".backends",
    "simulate": ".backends",
    "RateCTRNN": ".backends",
    "SpikingRealization": ".backends",
    "StandaloneSimulator": ".backends",
    "train": ".bridges",
    "clear_build_cache": ".backends",
    "evaluate": ".evaluation",
    "NoisePreferenceCurve": ".evaluation",
    "noise_preference": ".evaluation",
}
_SUBPACKAGES = ("analysis", "backends", "bridges", "cli", "core", "evaluation", "experiments",
                "plotting", "tasks")

__all__ = ["__version__", *sorted(_LAZY)]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), _SUBPACKAGES)
