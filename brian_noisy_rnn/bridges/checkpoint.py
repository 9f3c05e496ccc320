"""Training checkpoints: one file, written atomically, loaded without unpickling objects.

A checkpoint is a ``torch.save`` of a dict that holds only tensors and plain Python values
(str, int, float, bool, None, lists, tuples, dicts), so :func:`load_checkpoint` can use
``torch.load(..., weights_only=True)``: opening a checkpoint never runs code from the file.

Layout (version 1)::

    {"format": FORMAT, "version": 1,
     "config": {...},            # what must match to resume (task, sizes, noise, seed, lr, ...)
     "step": int,                # number of completed optimisation steps
     "model": state_dict, "optimizer": state_dict,
     "history": {...},           # TrainingHistory.as_dict()
     "extra": {...}}             # loop bookkeeping (elapsed time, running loss, ...)
"""

import os

import torch

from ..core.atomic import atomic_write

FORMAT = "brian-noisy-rnn/training-checkpoint"
VERSION = 1


def save_checkpoint(path, state):
    """Write ``state`` (a dict, see the module docstring) to ``path`` atomically.

    The data go to a temporary file in the same folder, are flushed to disk, and the file is
    renamed over ``path`` (``os.replace``): an interrupt or crash at any moment leaves either
    the previous checkpoint or the new one at ``path``, never a truncated file.

    Returns the path as a str.
    """
    path = os.fspath(path)
    payload = {"format": FORMAT, "version": VERSION, **state}
    with atomic_write(path, prefix=".tmp-ckpt-", suffix=".pt") as f:
        torch.save(payload, f)
    return path


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a readable brian-noisy-rnn training checkpoint of this version.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no file at {path!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt / foreign files
        raise ValueError(f"checkpoint: {path!r} is not a readable training checkpoint ({err})") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {path!r} is not a brian-noisy-rnn training checkpoint")
    if state.get("version") != VERSION:
        raise ValueError(f"checkpoint: {path!r} has version {state.get('version')!r}; "
                         f"this brian-noisy-rnn reads version {VERSION}")
    missing = [k for k in ("config", "step", "model", "optimizer", "history", "extra") if k not in state]
    if missing:
        raise ValueError(f"checkpoint: {path!r} lacks the entries {missing}")
    return state


def config_differences(saved, current):
    """Keys whose values differ between two config dicts: list of (key, saved, current)."""
    keys = sorted(set(saved) | set(current))
    return [(k, saved.get(k), current.get(k)) for k in keys if saved.get(k) != current.get(k)]
