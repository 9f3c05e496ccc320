"""Export back to PyTorch: a :class:`~brian_noisy_rnn.bridges.TorchCTRNN` state dict whose
conventions are written beside it, so that a network can be fine-tuned in a user's own loop.

The state dict has the keys ``w_in`` (N, n_in), ``w_rec`` (N, N), ``b`` (N,), ``w_out``
(n_out, N), ``b_out`` (n_out,) and the buffer ``h0`` (N,): weights in the (post, pre) layout
of ``torch.nn.Linear``; the step they define is written out in ``conventions`` (form,
update, readout, time constants, activation, noise with its per-step amplitude). A file
written by :func:`save_torch_checkpoint` holds only tensors, strings and numbers, so
``torch.load(path)`` reads it with ``weights_only=True``.

Round trip::

    model = TorchCTRNN.from_spec(spec, dtype=torch.float32)   # or torch.load + load_state_dict
    ...                                                       # the user's optimiser loop
    tuned = model.to_spec()                                   # back to simulate / Brian2
"""

from __future__ import annotations

import io
import os

from ..backends.torch_backend import TorchCTRNN
from ..core.atomic import atomic_write
from ..core.spec import FORMS, check_spec

__all__ = ["save_torch_checkpoint", "to_torch_checkpoint", "torch_conventions"]


def torch_conventions(spec):
    """The conventions of ``spec``'s :class:`TorchCTRNN` state dict, as plain strings and numbers.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.

    Returns
    -------
    dict
        ``module``, ``form``, ``update``, ``readout``, ``layout``, ``tau_s``, ``dt_s``,
        ``gamma``, ``activation``, ``noise`` (:meth:`Noise.to_dict`) and
        ``noise_per_step_sigma`` (the per-step amplitude of each unit, a list).
    """
    check_spec(spec, forms=FORMS)
    if spec.form == "x":
        update = "x' = (1 - gamma) x + gamma (w_rec f(x) + w_in u + b) [+ noise]; h0 is x_0"
        readout = "z = w_out f(x) + b_out"
    else:
        update = "h' = (1 - gamma) h + gamma f(w_rec h + w_in u + b) [noise as placed]"
        readout = "z = w_out h + b_out"
    return {"module": "brian_noisy_rnn.TorchCTRNN", "form": spec.form, "update": update,
            "readout": readout,
            "layout": "w_in (N, n_in), w_rec (N, N), w_out (n_out, N): (post, pre) as "
                      "torch.nn.Linear.weight; inputs time-major (T, B, n_in)",
            "tau_s": spec.tau_seconds, "dt_s": spec.dt_seconds, "gamma": spec.gamma,
            "activation": spec.activation, "noise": spec.noise.to_dict(),
            "noise_per_step_sigma":
                spec.noise.per_step_sigma_vector(spec.n_hidden, spec.gamma).tolist()}


def to_torch_checkpoint(spec, dtype=None):
    """``{"state_dict": ..., "conventions": ...}`` of ``spec`` as a :class:`TorchCTRNN`.

    Parameters
    ----------
    spec : CTRNNSpec
        The network (either form).
    dtype : torch.dtype or None
        Of the tensors (None: float64, an exact copy of the spec's weights).

    Returns
    -------
    dict
        ``state_dict`` (an ``OrderedDict`` of tensors) and ``conventions``
        (:func:`torch_conventions`).
    """
    import torch

    model = TorchCTRNN.from_spec(spec, dtype=torch.float64 if dtype is None else dtype)
    return {"state_dict": model.state_dict(), "conventions": torch_conventions(spec)}


def save_torch_checkpoint(spec, path, dtype=None):
    """Write :func:`to_torch_checkpoint` with ``torch.save``, atomically.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    path : str or os.PathLike
        The file to write (``.pt``); a directory or read-only file is refused.
    dtype : torch.dtype or None
        As in :func:`to_torch_checkpoint`.

    Returns
    -------
    str
        ``path`` as a str.
    """
    import torch

    path = os.fspath(path)
    buf = io.BytesIO()
    torch.save(to_torch_checkpoint(spec, dtype), buf)
    with atomic_write(path, suffix=".pt", name="path") as f:
        f.write(buf.getvalue())
    return path
