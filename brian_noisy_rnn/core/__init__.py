"""The core: what every backend shares, with no Brian2, PyTorch or NeuroGym import at load.

- :class:`Noise` (:mod:`.noise`) -- where noise enters the step and which process makes it;
  :class:`NoiseProcess` (:mod:`.noise_processes`) -- the registered processes;
- :class:`CTRNNSpec` (:mod:`.spec`) -- the framework-neutral network; :mod:`.spec_file` --
  the versioned ``.npz`` format (arrays + JSON header) and content hash it shares with
  :class:`FeedforwardSpec`;
- :mod:`.activations` -- the activation registry (numpy, torch, Brian2 forms) and
  :mod:`.noise_averages` -- their noise averages as activations (``"relu~0.5"``);
- :mod:`.dynamics` -- the CTRNN step, written once for numpy and torch;
- :class:`FeedforwardSpec` (:mod:`.feedforward`) -- feedforward networks with noise inside or
  outside each hidden activation, and their forward pass (numpy and torch);
- :mod:`.validation`, :mod:`.units`, :mod:`.atomic` -- argument checks, Brian2 time
  conversion, atomic file writes; :mod:`.examples` -- a small example network;
- :mod:`.settings` -- settings declared once (a field's help, unit and flag), and renamed
  keywords that warn for one release.
"""

from . import noise_averages  # registers the "<base>~<sigma>" activation family
from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .examples import example_spec, step_input
from .feedforward import FeedforwardSpec
from .noise import PLACEMENTS, PROCESSES, SCALES, Noise, per_step_sigma
from .noise_processes import NOISE_PROCESSES, NoiseProcess, register_noise_process
from .spec import CTRNNSpec

__all__ = ["ACTIVATIONS", "Activation", "CTRNNSpec", "FeedforwardSpec", "NOISE_PROCESSES", "Noise",
           "NoiseProcess", "PLACEMENTS", "PROCESSES", "SCALES", "example_spec", "get_activation",
           "noise_averages", "per_step_sigma", "register_activation", "register_noise_process",
           "step_input"]
