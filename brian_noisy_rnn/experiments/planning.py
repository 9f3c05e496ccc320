"""Planning a grid run: which networks train, alone or together in ensembles.

Networks that share a task and a shape (everything but placement, training sigma, seed and
noise process) may be trained together (:func:`ensemble_groups`); a member of an ensemble is
bit for bit the network ``train`` would give alone, so the grouping never changes a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .config import Cell, canonical_hash
from .jobs import make_env

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec

__all__ = ["ENSEMBLE_MEMORY", "ensemble_groups", "plan_training"]


#: network fields that may differ within one ensemble (as placement, train_sigma and seed, which
#: are not in the key at all); the rest of the task, network and training must agree
_PER_MEMBER_NETWORK = ("process", "tau_noise_ms")
#: default memory budget of one ensemble's training tensors
ENSEMBLE_MEMORY = 1 << 30


def _ensemble_key(config):
    """Cells with equal keys can be trained in one ensemble."""
    net = {k: v for k, v in config["network"].items() if k not in _PER_MEMBER_NETWORK}
    return canonical_hash({"task": config["task"], "task_kwargs": config["task_kwargs"],
                            "network": net, "training": config["training"]})


def _member_bytes(config):
    """Estimated memory of one member's training tensors: about ten float32 (T, B, N) arrays
    (drive, noise, pre-activations, states, their gradients), T from a few of the task's trials."""
    from .. import tasks

    T = tasks.batch(make_env(config), 8, seed=0).n_steps
    return 10 * 4 * T * config["training"]["batch_size"] * config["network"]["n_hidden"]


def ensemble_groups(cells: Sequence[Cell], workers: int = 1, max_members: int | None = None,
                    memory: int = ENSEMBLE_MEMORY) -> list[list[Cell]]:
    """Split cells (one per network to train) into ensembles.

    Cells that share task, task options, network shape and training settings (all but
    placement, training sigma, seed and noise process) may share an ensemble. An ensemble
    holds at most ``max_members`` networks and at most ``memory`` bytes of training tensors
    (estimate: :func:`_member_bytes`); while there are fewer ensembles than ``workers``,
    the largest is halved, so that every worker gets one.

    Parameters
    ----------
    cells : list of Cell
        One :class:`~.config.Cell` per network to train.
    workers : int >= 1
        Workers that train in parallel.
    max_members : int >= 1 or None
        Most networks per ensemble (None: no limit but ``memory``; 1 trains one network at a
        time).
    memory : int
        Memory budget of one ensemble's training tensors, in bytes (at least one network
        per ensemble).

    Returns
    -------
    list of list of Cell
        The ensembles, cells sorted by seed within each list (networks of one seed share
        their trial batches and noise draws, so an ensemble with fewer seeds makes fewer).
    """
    by_key = {}
    for c in cells:
        by_key.setdefault(_ensemble_key(c.config), []).append(c)
    groups = []
    for members in by_key.values():
        # networks of one seed share their trials and noise draws: keep them together
        members = sorted(members, key=lambda c: c.config["seed"])
        cap = max(1, int(memory // max(1, _member_bytes(members[0].config))))
        if max_members is not None:
            cap = min(cap, max_members)
        n = -(-len(members) // cap)
        size = -(-len(members) // n)
        groups += [members[i: i + size] for i in range(0, len(members), size)]
    while len(groups) < workers and max(len(g) for g in groups) > 1:
        big = max(range(len(groups)), key=lambda i: len(groups[i]))
        g = groups.pop(big)
        groups += [g[: len(g) // 2 + len(g) % 2], g[len(g) // 2 + len(g) % 2:]]
    return groups


def plan_training(groups: dict[str, list[Cell]], specs: dict[str, tuple[CTRNNSpec, str]],
                  workers: int, max_ensemble: int | None
                  ) -> tuple[list[tuple[Cell, CTRNNSpec | None]], list[list[Cell]]]:
    """Cells to submit now, ``[(cell, spec or None)]``, and ensembles to train (lists of cells).

    A network that trains alone is trained by its first cell (as before ensembles).

    Parameters
    ----------
    groups : dict of str to list of Cell
        train_key -> pending cells of that network.
    specs : dict of str to tuple (CTRNNSpec, str)
        train_key -> (spec, path) of the saved networks.
    workers : int >= 1
        Workers that train in parallel (see :func:`ensemble_groups`).
    max_ensemble : int >= 1 or None
        Most networks per ensemble.

    Returns
    -------
    ready : list of tuple (Cell, CTRNNSpec or None)
        Cells to submit now with their saved network (None: the cell trains it alone).
    ensembles : list of list of Cell
        One cell per network for each ensemble to train.
    """
    ready, to_train = [], []
    for tk, members in groups.items():
        if tk in specs:
            ready += [(c, specs[tk][0]) for c in members]
        else:
            to_train.append(members[0])
    ensembles = []
    for group in (ensemble_groups(to_train, workers, max_ensemble) if to_train else []):
        if len(group) == 1:
            ready.append((group[0], None))
        else:
            ensembles.append(group)
    return ready, ensembles
