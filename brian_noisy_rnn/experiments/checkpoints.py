"""What a grid run leaves on disk to resume from: saved networks and ensemble checkpoints.

Trained networks are saved as spec files in the run's ``spec_dir`` (:func:`default_spec_dir`,
named by :func:`spec_file_name`) before the rows that point to them; a rerun reuses them
(:func:`load_reusable_spec`). An ensemble in training writes a checkpoint
``<spec_dir>/checkpoints/ensemble_<key>.pt`` with a manifest listing its networks, removed
once all of them are saved (:func:`stale_checkpoints`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .config import Cell, canonical_hash

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec
    from .store import ResultStore

__all__ = ["default_spec_dir", "ensemble_checkpoint", "load_reusable_spec", "remove_checkpoint",
           "spec_file_name", "stale_checkpoints", "write_manifest"]

def default_spec_dir(results: str | os.PathLike) -> str:
    """Where trained networks of a database go: ``<results stem>_specs/`` beside it.

    Parameters
    ----------
    results : str or os.PathLike
        Path of the results database.

    Returns
    -------
    str
        The absolute path of the folder (not created).
    """
    results = os.path.abspath(os.fspath(results))
    return os.path.splitext(results)[0] + "_specs"


def spec_file_name(cell: Cell) -> str:
    """The file name of a cell's trained network in ``spec_dir``.

    Parameters
    ----------
    cell : Cell
        The :class:`~.config.Cell` whose network it is.

    Returns
    -------
    str
        ``<task>_<placement>_sigma<train sigma>_seed<seed>_<train key[:12]>.npz``.
    """
    c = cell.config
    task = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c["task"])
    return (f"{task}_{c['placement']}_sigma{c['train_sigma']:g}_seed{c['seed']}_"
            f"{cell.train_key[:12]}.npz")


def load_reusable_spec(store: ResultStore, cell: Cell, spec_dir: str
                       ) -> tuple[CTRNNSpec, str] | None:
    """A saved network for ``cell.train_key`` (recorded in the db, or saved but unrecorded).

    Parameters
    ----------
    store : ResultStore
        The results database (its recorded spec paths and content hashes are tried first).
    cell : Cell
        The cell whose network is wanted.
    spec_dir : str
        The run's folder of spec files (:func:`spec_file_name` in it is tried next).

    Returns
    -------
    tuple (CTRNNSpec, str) or None
        The network and its path, or None if no readable file holds that very network.
    """
    from ..core.spec import CTRNNSpec

    candidates = []
    found = store.spec_for_train_key(cell.train_key)
    if found is not None:
        candidates.append(found)
    candidates.append((os.path.join(spec_dir, spec_file_name(cell)), None))
    for path, expected_hash in candidates:
        if not os.path.isfile(path):
            continue
        try:
            spec = CTRNNSpec.load(path)
        except ValueError:
            continue
        if expected_hash is not None and spec.content_hash() != expected_hash:
            continue
        if spec.metadata.get("experiment", {}).get("train_key") != cell.train_key:
            continue
        return spec, path
    return None


#: the runner's ensemble checkpoints: ``<spec_dir>/checkpoints/ensemble_<key>.pt``, each with
#: a manifest ``ensemble_<key>.json`` listing the train keys of its members
_CHECKPOINT_DIR, _CHECKPOINT_PREFIX = "checkpoints", "ensemble_"


def ensemble_checkpoint(spec_dir: str, cells: Sequence[Cell]) -> str:
    """The checkpoint path of the ensemble that trains the networks of ``cells``.

    Parameters
    ----------
    spec_dir : str
        The run's folder of spec files.
    cells : list of Cell
        One cell per member network.

    Returns
    -------
    str
        ``<spec_dir>/checkpoints/ensemble_<hash of the members' train keys>.pt``.
    """
    key = canonical_hash([c.train_key for c in cells])
    return os.path.join(spec_dir, _CHECKPOINT_DIR, f"{_CHECKPOINT_PREFIX}{key[:16]}.pt")


def _manifest_path(checkpoint):
    return os.path.splitext(checkpoint)[0] + ".json"


def write_manifest(checkpoint: str, train_keys: Sequence[str]) -> None:
    """Record which networks an ensemble checkpoint trains (so that it can be cleaned up).

    Parameters
    ----------
    checkpoint : str
        The checkpoint path (:func:`ensemble_checkpoint`); the manifest is the same path
        with ``.json``, written atomically (its folder is created if needed).
    train_keys : list of str
        The members' ``Cell.train_key``.
    """
    import json

    from ..core.atomic import atomic_write

    os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
    with atomic_write(_manifest_path(checkpoint), suffix=".json", name="spec_dir") as f:
        f.write(json.dumps({"checkpoint": os.path.basename(checkpoint),
                            "train_keys": list(train_keys)}).encode())


def remove_checkpoint(checkpoint: str) -> None:
    """Remove an ensemble checkpoint and its manifest (and the folder once it is empty).

    Parameters
    ----------
    checkpoint : str
        The checkpoint path; files that do not exist are skipped.
    """
    for path in (checkpoint, _manifest_path(checkpoint)):
        with contextlib.suppress(OSError):
            os.remove(path)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(checkpoint))  # only if empty


def stale_checkpoints(spec_dir: str, is_trained: Callable[[str], bool]) -> list[str]:
    """The runner's ensemble checkpoints in ``spec_dir`` whose networks are all trained.

    Only files with a manifest written by the runner (:func:`write_manifest`) are
    considered; a checkpoint some of whose networks are still untrained (an interrupted
    ensemble of this or another grid sharing the folder) is kept for its resume.

    Parameters
    ----------
    spec_dir : str
        The run's folder of spec files.
    is_trained : callable(str) -> bool
        Whether the network of a train key is saved.

    Returns
    -------
    list of str
        Paths of the checkpoints that can be removed (:func:`remove_checkpoint`).
    """
    import glob
    import json

    stale = []
    pattern = os.path.join(spec_dir, _CHECKPOINT_DIR, f"{_CHECKPOINT_PREFIX}*.json")
    for manifest in sorted(glob.glob(pattern)):
        try:
            with open(manifest, encoding="utf-8") as f:
                data = json.load(f)
            keys = data["train_keys"]
            name = data["checkpoint"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        checkpoint = os.path.splitext(manifest)[0] + ".pt"
        if name != os.path.basename(checkpoint) or not isinstance(keys, list):
            continue
        if keys and all(is_trained(k) for k in keys):
            stale.append(checkpoint)
    return stale
