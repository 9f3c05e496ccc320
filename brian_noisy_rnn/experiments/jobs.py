"""The jobs a grid run submits to its executors: train and sweep one cell, train an ensemble.

:func:`run_cell` is the pure unit of work (config in, plain result out; it touches no file)
and :func:`train_ensemble_networks` trains several cells' networks together (it writes only
its optional checkpoint), so both run the same in this process, in local worker processes or
on a Dask worker (:mod:`~.executors`). Both are pickled by reference: they must stay
importable by their qualified names.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import threading
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..backends.random_state import keeps_random_state
from .config import Cell

if TYPE_CHECKING:
    from ..core.spec import CTRNNSpec

__all__ = ["make_env", "package_versions", "run_cell", "train_cell_network",
           "train_ensemble_networks"]

_BRIAN2_LOCK = threading.Lock()
_VERSION_PACKAGES = ("brian-noisy-rnn", "brian2", "torch", "numpy", "neurogym", "gymnasium",
                     "scipy", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    """Versions of the packages a result depends on, plus Python.

    Returns
    -------
    dict of str to str or None
        ``"python"`` and each distribution name (brian-noisy-rnn, brian2, torch, numpy,
        neurogym, gymnasium, scipy, dask, distributed) -> its version, None if not installed.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def make_env(config: dict):
    """The NeuroGym task of a cell config.

    Parameters
    ----------
    config : dict
        ``Cell.config`` of the cell (its ``task``, ``task_kwargs`` and ``network.dt_ms``).

    Returns
    -------
    neurogym.TrialEnv
        The task made by :func:`~brian_noisy_rnn.tasks.make` with the cell's time step (ms).
    """
    from .. import tasks

    return tasks.make(config["task"], dt=config["network"]["dt_ms"], **config["task_kwargs"])


def _training_noise(config):
    from brian2 import ms

    from ..core.noise import Noise

    net = config["network"]
    tau_noise = None if net.get("tau_noise_ms") is None else net["tau_noise_ms"] * ms
    return Noise(config["placement"], config["train_sigma"], process=net["process"],
                 tau_noise=tau_noise)


def train_cell_network(config: dict, train_key: str = "") -> tuple[CTRNNSpec, dict]:
    """Train the network of a cell config (see :class:`~.config.Cell`).

    Parameters
    ----------
    config : dict
        ``Cell.config`` of the cell.
    train_key : str
        The cell's ``Cell.train_key``, stored in the spec's metadata.

    Returns
    -------
    spec : CTRNNSpec
        The trained network (:class:`~brian_noisy_rnn.CTRNNSpec`); its metadata holds the
        training summary, the ``train_key`` and the training part of the config.
    info : dict
        ``train_seconds`` (wall-clock training time, s) and ``train_final_loss`` (float,
        or None if nothing was logged).
    """
    from ..bridges.training import train

    env = make_env(config)
    t0 = time.perf_counter()
    result = train(env, progress=False, **_train_settings(config))
    seconds = time.perf_counter() - t0
    metadata = dict(result.spec.metadata)
    metadata["experiment"] = {"train_key": train_key,
                              **{k: config[k] for k in Cell.TRAIN_FIELDS}}
    spec = result.spec.replace(metadata=metadata)
    loss = result.history.loss[-1] if result.history.loss else None
    return spec, {"train_seconds": seconds, "train_final_loss": loss}


def _train_settings(config):
    """The keyword arguments of ``train`` / ``train_ensemble`` for a cell config."""
    from brian2 import ms

    net = config["network"]
    return dict(n_hidden=net["n_hidden"], noise=_training_noise(config),
                activation=net["activation"], tau=net["tau_ms"] * ms, seed=config["seed"],
                **config["training"])


@keeps_random_state
def train_ensemble_networks(configs: Sequence[dict], train_keys: Sequence[str],
                            checkpoint: str | os.PathLike | None = None
                            ) -> list[tuple[CTRNNSpec, dict]]:
    """Train the networks of several cell configs together as one ensemble.

    Pure apart from the optional checkpoint file (a worker may run it anywhere). The configs
    must share everything but placement, training sigma, seed and noise process (see
    :func:`ensemble_groups`); each member is the network :func:`train_cell_network` gives.

    Parameters
    ----------
    configs : list of dict
        ``Cell.config`` of one cell per network.
    train_keys : list of str
        Their ``Cell.train_key`` (stored in the specs' metadata).
    checkpoint : str or os.PathLike or None
        The ensemble's checkpoint: training resumes from it if it exists and writes it while
        it runs (also when interrupted); its folder is created if needed. None: no
        checkpoint.

    Returns
    -------
    list of tuple (spec, info)
        As :func:`train_cell_network` returns, in the order of ``configs``;
        ``info["train_seconds"]`` is the ensemble's training time divided by the number of
        members.
    """
    import torch

    from ..bridges.training import TrainConfig, train_ensemble

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if checkpoint is not None:
            os.makedirs(os.path.dirname(os.path.abspath(checkpoint)), exist_ok=True)
        t0 = time.perf_counter()
        result = train_ensemble(make_env(configs[0]),
                                [TrainConfig.build(**_train_settings(c)) for c in configs],
                                checkpoint=checkpoint, progress=False)
        seconds = (time.perf_counter() - t0) / len(configs)
    finally:
        torch.set_num_threads(threads)
    out = []
    for config, key, spec, history in zip(configs, train_keys, result.specs, result.histories):
        metadata = dict(spec.metadata)
        metadata["experiment"] = {"train_key": key, **{k: config[k] for k in Cell.TRAIN_FIELDS}}
        loss = history.loss[-1] if history.loss else None
        out.append((spec.replace(metadata=metadata),
                    {"train_seconds": seconds, "train_final_loss": loss}))
    return out



@keeps_random_state
def run_cell(config: dict, spec: CTRNNSpec | None = None, train_key: str = "") -> dict:
    """Run one cell: train its network (unless ``spec`` is given) and sweep the test noise.

    Pure: it reads and writes no file, so it can run in any process or on any Dask worker.
    Uses one torch thread while it runs (cells run in parallel instead).

    Parameters
    ----------
    config : dict
        ``Cell.config`` of the cell.
    spec : CTRNNSpec or None
        The already trained network (:class:`~brian_noisy_rnn.CTRNNSpec`); None: train it.
    train_key : str
        Stored in a newly trained spec's metadata.

    Returns
    -------
    dict
        ``spec`` (the newly trained CTRNNSpec, or None if ``spec`` was given), ``error``
        (only when the sweep of a newly trained network failed: the message; the dict then
        holds just ``spec``, ``trained`` and the training info, so the network is kept),
        ``trained`` (bool), ``curve`` (``NoisePreferenceCurve.to_dict()``), ``summary``
        (``curve.summary()``), ``train_seconds``, ``train_final_loss``, ``eval_seconds``
        (seconds), ``versions`` (:func:`package_versions`), ``host``, ``pid``.

    Raises
    ------
    Exception
        Whatever training, or the sweep of a given ``spec``, raises.
    """
    import torch

    from ..evaluation.curves import noise_preference

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        info = {"train_seconds": None, "train_final_loss": None}
        trained = spec is None
        if trained:
            spec, info = train_cell_network(config, train_key)
        env = make_env(config)
        # Brian2 keeps global state (preferences, the magic network): one Brian2 sweep per
        # process at a time, also when a Dask worker runs several threads
        lock = _BRIAN2_LOCK if config["backend"].startswith("brian2") else contextlib.nullcontext()
        try:
            with lock:
                t0 = time.perf_counter()
                curve = noise_preference(spec, env, config["test_sigmas"],
                                         placement=config.get("test_placement"),
                                         backend=config["backend"], n_trials=config["n_trials"],
                                         seed=config["eval_seed"], metric=config.get("metric"),
                                         **config["backend_options"])
                eval_seconds = time.perf_counter() - t0
        except Exception as err:  # noqa: BLE001 - the trained network must not be lost
            if not trained:
                raise
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return {"spec": spec, "trained": True, "error": f"evaluation failed: {detail}",
                    **info}
    finally:
        torch.set_num_threads(threads)
    return {
        "spec": spec if trained else None, "trained": trained, "curve": curve.to_dict(),
        "summary": curve.summary(), "eval_seconds": eval_seconds, **info,
        "versions": package_versions(), "host": socket.gethostname(), "pid": os.getpid(),
    }
