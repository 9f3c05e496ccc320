"""Bridges between the framework-neutral :class:`~brian_noisy_rnn.CTRNNSpec` and PyTorch.

``TorchCTRNN`` (an ``nn.Module``) and ``train`` (the training loop) live here; Brian2 is
reached through the spec (``brian_noisy_rnn.RateCTRNN``), never directly from torch.
"""

from .._lazy import lazy_attributes

_LAZY = {
    "TorchCTRNN": "..backends.torch_backend",
    "train": ".training",
    "TrainingResult": ".training",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
