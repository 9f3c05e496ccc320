"""Bridges between the framework-neutral :class:`~brian_noisy_rnn.CTRNNSpec` and PyTorch.

``TorchCTRNN`` (an ``nn.Module``) and ``train`` (the training loop) live here; Brian2 is
reached through the spec (``brian_noisy_rnn.RateCTRNN``), never directly from torch.
"""

from importlib import import_module

_LAZY = {
    "TorchCTRNN": ".torch_model",
    "train": ".training",
    "TrainingResult": ".training",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brian_noisy_rnn.bridges' has no attribute {name!r}")
