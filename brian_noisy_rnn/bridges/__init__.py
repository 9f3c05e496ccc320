"""Bridges between the framework-neutral :class:`~brian_noisy_rnn.CTRNNSpec` and PyTorch.

``TorchCTRNN`` (an ``nn.Module``), ``train`` (the training loop, settings in a
``TrainConfig``) and ``train_ensemble`` (many networks stacked in a ``StackedCTRNN``) live
here, and ``train_feedforward`` for feedforward networks (:mod:`.feedforward`); Brian2 is reached through the spec (``brian_noisy_rnn.RateCTRNN``), never directly from torch.
"""

from .._lazy import lazy_attributes

_LAZY = {
    "TorchCTRNN": "..backends.torch_backend",
    "train": ".training",
    "TrainingResult": ".training",
    "TrainConfig": ".training",
    "train_ensemble": ".training",
    "EnsembleResult": ".training",
    "StackedCTRNN": ".ensemble",
    "TorchFeedforward": "..backends.torch_feedforward",
    "train_feedforward": ".feedforward",
    "FeedforwardConfig": ".feedforward",
    "FeedforwardTrainingResult": ".feedforward",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
