"""Bring your own trained RNN: importers from the toolkits people train CTRNNs with.

Each importer returns a :class:`~brian_noisy_rnn.CTRNNSpec` whose ``metadata["imported"]``
records the source, its conventions and every value the file did not hold that the caller
gave (dt, tau, the noise); a missing required value is an error naming it. Networks that
filter the state before f (nn4n, PsychRNN, spikeRNN) become x-form specs
(``form="x"``), run as they are by every backend of ``simulate``; noise keeps its source's
scaling (``Noise(..., scale=...)``).

================  ==========================  ====  =====================================
source            importer                    form  noise
================  ==========================  ====  =====================================
torch.nn.RNN      :func:`from_torch_rnn`      h     none (alpha = 1: tau = dt)
NeuroGym CTRNN    :func:`from_ngym_usage`     h     inside f, ``sqrt(2/alpha)``
Yang et al. 2019  :func:`from_yang19`         h     inside f, ``sqrt(2/alpha)``
nn4n CTRNN        :func:`from_nn4n`           x     on the state, ``alpha``
PsychRNN Basic    :func:`from_psychrnn`       x     on the state, ``sqrt(2*alpha)``
spikeRNN (rate)   :func:`from_spikernn`       x     on the state, 0.1 per step
================  ==========================  ====  =====================================

:func:`~.sources.import_network` dispatches by name and returns the source's own forward
pass beside the spec; :func:`~.parity.measure_parity` compares the two on every backend;
:func:`~.export.to_torch_checkpoint` goes back to a PyTorch state dict.
"""

from .export import save_torch_checkpoint, to_torch_checkpoint, torch_conventions
from .nn4n import from_nn4n
from .parity import ParityReport, measure_parity, parity_inputs
from .psychrnn import from_psychrnn
from .sources import SOURCES, import_network
from .spikernn import from_spikernn
from .torch_sources import from_ngym_usage, from_torch_rnn
from .yang19 import from_yang19

__all__ = ["ParityReport", "SOURCES", "from_ngym_usage", "from_nn4n", "from_psychrnn",
           "from_spikernn", "from_torch_rnn", "from_yang19", "import_network", "measure_parity",
           "parity_inputs", "save_torch_checkpoint", "to_torch_checkpoint", "torch_conventions"]
