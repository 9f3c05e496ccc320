"""brian-noisy-rnn: continuous-time rate RNNs with configurable noise placement.

One framework-neutral network description (:class:`CTRNNSpec`) is simulated by three
implementations that compute the same thing: a readable numpy reference, a PyTorch
module (for training) and native Brian2 objects (:class:`RateCTRNN`).

Heavy submodules (Brian2, PyTorch, NeuroGym) are imported lazily on first use, so
``import brian_noisy_rnn`` stays fast.
"""

from ._lazy import lazy_attributes

__version__ = "0.1.0"

from .activations import ACTIVATIONS, get_activation
from .noise import Noise
from .spec import CTRNNSpec

# Eager: these functions share their name with their module, and a lazily imported module
# would shadow the function once any other import loaded it.
from .simulate import SimulationResult, simulate
from .noise_preference import NoisePreferenceCurve, noise_preference

# public name -> module that defines it (imported on first access)
_LAZY = {
    "RateCTRNN": ".brian2_network",
    "evaluate": ".evaluation",
    "SpikingRealization": ".spiking",
}

__all__ = ["ACTIVATIONS", "CTRNNSpec", "Noise", "NoisePreferenceCurve", "SimulationResult",
           "get_activation", "noise_preference", "simulate", "__version__", *_LAZY]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
