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

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..core.atomic import atomic_write

FORMAT = "brian-noisy-rnn/training-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, state: Mapping) -> str:
    """Write ``state`` to ``path`` atomically.

    The data go to a temporary file in the same folder, are flushed to disk, and the file is
    renamed over ``path`` (``os.replace``): an interrupt or crash at any moment leaves either
    the previous checkpoint or the new one at ``path``, never a truncated file.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    state : dict
        The entries ``config``, ``step``, ``model``, ``optimizer``, ``history``, ``extra``
        (see the module docstring); ``format`` and ``version`` are added.

    Returns
    -------
    str
        The path.
    """
    path = os.fspath(path)
    payload = {"format": FORMAT, "version": VERSION, **state}
    with atomic_write(path, prefix=".tmp-ckpt-", suffix=".pt", name="checkpoint") as f:
        torch.save(payload, f)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.

    Returns
    -------
    dict
        The stored state (see the module docstring), tensors on the CPU; its entries' types
        and values are checked.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a readable brian-noisy-rnn training checkpoint of this version,
        or an entry has a wrong type or value (e.g. NaN weights).
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
    _check_entries(path, state)
    return state


def _check_entries(path, state):
    """ValueError naming the file and the entry if a loaded checkpoint has wrong types or values."""
    def bad(entry, expected, value):
        raise ValueError(f"checkpoint: {path!r}: entry {entry!r} must be {expected}, "
                         f"got {type(value).__name__} {value!r:.80}")

    for entry in ("config", "model", "optimizer", "extra"):
        if not isinstance(state[entry], dict):
            bad(entry, "a dict", state[entry])
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        bad("step", "an int >= 0", step)
    for name, value in state["model"].items():
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            bad(f"model.{name}", "a float tensor", value)
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"checkpoint: {path!r}: entry 'model.{name}' contains NaN or inf")
    # one history (a network) or a list of them (an ensemble, one per member)
    histories = state["history"]
    if isinstance(histories, dict):
        histories, prefix = [histories], ["history"]
    elif isinstance(histories, list) and histories:
        prefix = [f"history[{i}]" for i in range(len(histories))]
    else:
        bad("history", "a dict or a non-empty list of dicts", histories)
    for history, where in zip(histories, prefix):
        if not isinstance(history, dict):
            bad(where, "a dict", history)
        for key in ("step", "loss", "elapsed"):
            if not isinstance(history.get(key), list):
                bad(f"{where}.{key}", "a list", history.get(key))
        for key in ("metrics", "val_metrics"):
            if not isinstance(history.get(key), dict):
                bad(f"{where}.{key}", "a dict", history.get(key))
        if not isinstance(history.get("metric_name"), str):
            bad(f"{where}.metric_name", "a str", history.get("metric_name"))
    for key in ("elapsed", "run_count"):
        value = state["extra"].get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            bad(f"extra.{key}", "a number >= 0", value)
    run_loss = state["extra"].get("run_loss")  # a number, or one per ensemble member
    for value in (run_loss if isinstance(run_loss, list) else [run_loss]):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            bad("extra.run_loss", "a number >= 0 (or a list of them)", run_loss)


def config_differences(saved: Mapping, current: Mapping) -> list[tuple]:
    """Keys whose values differ between two config dicts.

    Parameters
    ----------
    saved : dict
        The config stored in a checkpoint.
    current : dict
        The config of the run that would resume it.

    Returns
    -------
    list of tuple (key, saved value, current value)
        Sorted by key; a key missing from one dict has the value None there.
    """
    keys = sorted(set(saved) | set(current))
    return [(k, saved.get(k), current.get(k)) for k in keys if saved.get(k) != current.get(k)]
