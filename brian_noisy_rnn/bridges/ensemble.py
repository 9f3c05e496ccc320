"""Training helpers of a stacked ensemble: per-member losses and gradient clipping.

The ensemble model, :class:`~brian_noisy_rnn.backends.torch_stacked.StackedCTRNN`, lives in
the torch backend beside ``TorchCTRNN``; it is importable from here as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..backends.torch_stacked import StackedCTRNN, sum_over_time
from ..tasks.metrics import check_loss, torch_loss_per_step

__all__ = ["StackedCTRNN", "clip_per_member", "member_losses"]


def member_losses(outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                  kind: str, loss: str | None = None) -> torch.Tensor:
    """The training loss of every member: ``torch_loss`` per member.

    :func:`~brian_noisy_rnn.tasks.metrics.torch_loss` of each member's trials, stacked.

    Parameters
    ----------
    outputs : torch.Tensor (T, S, B, n_out)
        Network outputs (logits for classification).
    targets : torch.Tensor (T, S, B) or (T, S, B, n_out)
        Class labels (int64, classification) or target values (regression).
    mask : torch.Tensor (T, S, B), bool
        The time steps that count.
    kind : str
        ``"classification"`` or ``"regression"``.
    loss : str or None
        The loss (:func:`~brian_noisy_rnn.tasks.metrics.check_loss`; None: the kind's
        default, masked cross-entropy or masked MSE).

    Returns
    -------
    torch.Tensor (S,)
        Masked mean over each member's (T, B); 0 if its mask is empty. A member's loss does
        not depend on the other members, to the last bit.
    """
    count = mask.sum(dim=(0, 2)).clamp_min(1)
    outputs = torch.where(mask.unsqueeze(-1), outputs, torch.zeros_like(outputs))
    per_step = torch_loss_per_step(outputs, targets, check_loss(loss, kind))
    per_step = torch.where(mask, per_step, torch.zeros_like(per_step))
    # over trials per (t, s) row, then over time in a fixed order: a member's loss is
    # rounded the same whatever S is
    return sum_over_time(per_step.sum(dim=2)) / count


def clip_per_member(parameters: Sequence[torch.Tensor], max_norms: torch.Tensor
                    ) -> torch.Tensor:
    """Scale each member's gradients as ``clip_grad_norm_`` would scale that network's alone.

    Parameters
    ----------
    parameters : sequence of torch.Tensor (S, ...)
        Stacked parameters (leading axis S) with ``.grad`` (those without are skipped); the
        gradients are scaled in place.
    max_norms : torch.Tensor (S,)
        Maximal gradient norm of each member (inf: no clipping for that member).

    Returns
    -------
    torch.Tensor (S,)
        The members' gradient norms before clipping.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    sq = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], dim=1)
    norms = torch.linalg.vector_norm(sq, dim=1)
    coef = (max_norms / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.ndim - 1))))
    return norms
