"""C3 and the closed-loop maze: measurements whose curves do not come from grid sweeps.

- C3: one- and two-hidden-layer feedforward relu networks
  (:class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`, trained with
  :func:`~brian_noisy_rnn.bridges.feedforward.train_feedforward`) with noise inside or
  outside every hidden activation, swept with
  :func:`~brian_noisy_rnn.evaluation.feedforward.feedforward_noise_preference` on the
  numpy reference (the first seed also in torch, to state their agreement);
- the closed-loop maze: C1's MazeNavigation networks (``MazeNavigationClosedLoop-v0``'s
  batches are MazeNavigation-v0's, so the same networks) played step by step, their own
  moves deciding where they are next, scored by reaching the goal
  (:func:`~brian_noisy_rnn.evaluation.closed_loop.closed_loop_noise_preference`).

Each network's result is cached in ``<out>/analysis/`` (:func:`.analyses.cached`); the
feedforward networks are saved there too (``feedforward/*.npz``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .analyses import CachedJob, cached, compute_cached
from .protocol import RELATIVE_SIGMAS
from .report import curve_row

if TYPE_CHECKING:
    from ...core.spec import CTRNNSpec
    from .protocol import Protocol

__all__ = ["closed_loop_result", "feedforward_level_rows", "feedforward_rows"]


def _ff_result(protocol, layers, placement, seed, folder, sigma=None, test_sigmas=None):
    """Train (or load) one feedforward network and sweep it; a JSON-compatible dict.

    ``sigma``: its training sigma (None: the protocol's); ``test_sigmas``: absolute test
    sigmas (None: :data:`RELATIVE_SIGMAS` times the training sigma)."""
    from ...bridges.feedforward import train_feedforward
    from ...core.feedforward import FeedforwardSpec
    from ...core.noise import Noise
    from ...evaluation.feedforward import feedforward_noise_preference

    st = protocol.sigma_train if sigma is None else sigma
    level = "" if st == protocol.sigma_train else f"_sigma{st:g}"
    path = os.path.join(folder, "feedforward", f"L{layers}_{placement}_w{protocol.ff_width}_"
                                               f"n{protocol.ff_steps}_s{seed}{level}.npz")
    if os.path.isfile(path):
        spec = FeedforwardSpec.load(path)
    else:
        spec = train_feedforward(hidden_sizes=(protocol.ff_width,) * layers,
                                 noise=Noise(placement, st), seed=seed, steps=protocol.ff_steps,
                                 progress=False).spec
        os.makedirs(os.path.dirname(path), exist_ok=True)
        spec.save(path)
    sigmas = [r * st for r in RELATIVE_SIGMAS] if test_sigmas is None else list(test_sigmas)
    curve = feedforward_noise_preference(spec, sigmas=sigmas, n_trials=protocol.ff_trials,
                                         seed=protocol.eval_seed, backend="numpy")
    diff, sem = curve.difference(0.0, st)
    out = {"curve": curve.to_dict(), "diff": diff, "diff_sem": sem, "layers": layers}
    if seed == protocol.seeds[0]:
        twin = feedforward_noise_preference(spec, sigmas=sigmas, n_trials=protocol.ff_trials,
                                            seed=protocol.eval_seed, backend="torch")
        out["torch_max_abs_diff"] = float(abs(twin.mean - curve.mean).max())
    return out


def feedforward_rows(protocol: Protocol, folder: str, log: Callable[[str], Any] = print,
                     compute: bool = True) -> list[dict]:
    """C3's rows: every feedforward network of the protocol, trained and swept (cached).

    Parameters
    ----------
    protocol : Protocol
        Gives the depths, width, steps, trials and seeds.
    folder : str
        The analysis cache folder.
    log : callable(str)
        Receives a line per network (and per failure).
    compute : bool
        Train and sweep the networks not cached yet (False: only read the cache).

    Returns
    -------
    list of dict
        :func:`~.report.curve_row` rows with claim "C3", task
        ``"FunctionApproximation-v0/feedforward, <L> hidden layer(s)"`` and
        ``torch_max_abs_diff`` for the first seed (largest numpy-vs-torch difference of its
        curve).
    """
    from ...evaluation.curves import NoisePreferenceCurve

    rows = []
    for layers in protocol.ff_depths:
        for placement in ("pre", "post"):
            for seed in protocol.seeds:
                settings = {"kind": "c3", "layers": layers, "placement": placement,
                            "seed": seed, "width": protocol.ff_width, "steps": protocol.ff_steps,
                            "trials": protocol.ff_trials, "sigma": protocol.sigma_train,
                            "eval_seed": protocol.eval_seed, "sigmas": list(RELATIVE_SIGMAS)}
                try:
                    res = cached(folder, f"c3_L{layers}_{placement}_s{seed}", settings,
                                 (lambda: _ff_result(protocol, layers, placement, seed, folder))
                                 if compute else None)
                except Exception as err:  # noqa: BLE001 - one failed network must not stop the run
                    log(f"reproduce: feedforward L{layers} {placement} seed {seed} failed: "
                        f"{type(err).__name__}: {err}")
                    continue
                if res is None:
                    continue
                curve = NoisePreferenceCurve.from_dict(res["curve"])
                curve.cell = {"seed": seed}  # for the figures' colour per seed
                curve.task = (f"{curve.task}, {layers} hidden layer{'s' if layers > 1 else ''} "
                              f"of {protocol.ff_width}")
                row = curve_row(curve, "C3", ("nmse",), seed=seed, diff=res["diff"],
                                diff_sem=res["diff_sem"], grid="c3-feedforward",
                                steps=protocol.ff_steps)
                if "torch_max_abs_diff" in res:
                    row["torch_max_abs_diff"] = res["torch_max_abs_diff"]
                rows.append(row)
                log(f"reproduce: feedforward L{layers} {placement} seed {seed} done")
    return rows


def feedforward_level_rows(protocol: Protocol, levels, folder: str,
                           log: Callable[[str], Any] = print, compute: bool = True,
                           workers: int | None = None) -> list[dict]:
    """The onset study's feedforward networks: every depth, placement, training sigma in
    ``levels`` and seed, swept on the study's absolute test sigmas (cached).

    Parameters
    ----------
    protocol : Protocol
        Gives the depths, width, steps, trials and seeds.
    levels : sequence of float
        Training sigmas.
    folder : str
        The analysis cache folder.
    log : callable(str)
        Receives a line per failure.
    compute : bool
        Train and sweep what is not cached yet.
    workers : int >= 1 or None
        Local worker processes for that (None: one per CPU; 1: this process).

    Returns
    -------
    list of dict
        ``layers``, ``placement``, ``sigma``, ``seed``, ``curve`` (NoisePreferenceCurve) and
        ``verdict`` (:func:`.onset.network_verdict` with FunctionApproximation's criterion).
    """
    from ...evaluation.curves import NoisePreferenceCurve
    from .onset import CRITERIA, network_verdict, test_sigmas

    sigmas = test_sigmas(levels)
    jobs = []  # (layers, placement, sigma, seed, CachedJob)
    for layers in protocol.ff_depths:
        for placement in ("pre", "post"):
            for level in levels:
                for seed in protocol.seeds:
                    settings = {"kind": "ff_onset", "layers": layers, "placement": placement,
                                "seed": seed, "width": protocol.ff_width,
                                "steps": protocol.ff_steps, "trials": protocol.ff_trials,
                                "sigma": level, "eval_seed": protocol.eval_seed,
                                "sigmas": list(sigmas)}
                    job = CachedJob(f"ffonset_L{layers}_{placement}_{level:g}_s{seed}", settings,
                                    _ff_result, (protocol, layers, placement, seed, folder,
                                                 level, sigmas))
                    jobs.append((layers, placement, level, seed, job))
    if compute:
        compute_cached(folder, [j[-1] for j in jobs], workers, log)
    out = []
    for layers, placement, level, seed, job in jobs:
        res = cached(folder, job.name, job.settings, None)
        if res is None:  # failed (logged) or, without compute, not run yet
            continue
        curve = NoisePreferenceCurve.from_dict(res["curve"])
        out.append({"layers": layers, "placement": placement, "sigma": level, "seed": seed,
                    "curve": curve,
                    "verdict": network_verdict(curve, CRITERIA["FunctionApproximation-v0"])})
    return out


def closed_loop_result(spec: CTRNNSpec, protocol: Protocol, seed: int, backend: str = "torch",
                       relative_sigmas: tuple | None = None) -> dict:
    """The closed-loop maze curve of one MazeNavigation network.

    Parameters
    ----------
    spec : CTRNNSpec
        A C1 MazeNavigation-v0 network.
    protocol : Protocol
        Gives the closed-loop task, metric, trials and evaluation seed.
    seed : int
        The network's training seed.
    backend : str
        "torch", "numpy" or "brian2" (the same trials and noise draws on each).
    relative_sigmas : tuple of float or None
        Test sigmas as multiples of the training sigma (None: ``protocol.closed_loop_sigmas``).

    Returns
    -------
    dict
        ``curve`` (``NoisePreferenceCurve.to_dict()``), ``diff`` and ``diff_sem`` (paired
        metric(0) - metric(sigma_train)), ``seed``.
    """
    from ...evaluation.closed_loop import closed_loop_noise_preference

    st = spec.noise.scalar_sigma()
    relative = protocol.closed_loop_sigmas if relative_sigmas is None else relative_sigmas
    curve = closed_loop_noise_preference(
        spec, protocol.closed_loop_task, [r * st for r in relative], backend=backend,
        n_trials=protocol.closed_loop_trials, seed=protocol.eval_seed,
        metric=protocol.closed_loop_metric)
    diff, sem = curve.difference(0.0, st)
    return {"curve": curve.to_dict(), "diff": diff, "diff_sem": sem, "seed": seed}
