"""The reproduction's measurements beyond grid sweeps: C4's mechanism, C5's other noise
processes, the compensated network and C3's feedforward networks.

Each measurement is one plain dict per network, cached as a JSON file in
``<out>/analysis/`` named by the network's content hash and the measurement's settings
(:func:`cached`), written atomically: a rerun reuses every finished measurement, an
interrupted one loses at most the measurement in flight. The networks come from the results
database (the C1 grids' specs), so nothing is trained here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.atomic import atomic_write
from ..config import canonical_hash

if TYPE_CHECKING:
    from ...core.spec import CTRNNSpec
    from .protocol import Protocol

__all__ = ["C5_PROCESSES", "CachedJob", "cached", "compute_cached", "compensation_analysis",
           "process_analysis", "shift_analysis"]

#: C5's test-noise processes: name -> (placement, process, tau_noise in ms or None, the
#: test sigmas as multiples of the training sigma)
C5_PROCESSES = {
    "white inside f (training noise)": ("pre", "white", None, (0, .25, .5, .75, 1, 1.25, 1.5, 2)),
    "OU inside f, 20 ms": ("pre", "ou", 20.0, (0, .25, .5, .75, 1, 1.25, 1.5, 2)),
    "OU inside f, 100 ms": ("pre", "ou", 100.0, (0, .25, .5, .75, 1, 1.25, 1.5, 2)),
    "state noise": ("state", "white", None, (0, .1, .2, .3, .4, .6, .8)),
    "white outside f": ("post", "white", None, (0, .25, .5, .75, 1, 1.5, 2)),
    "Poisson outside f": ("post", "poisson", None, (0, .25, .5, .75, 1, 1.5, 2)),
}


def cached(folder: str, name: str, settings: dict, compute: Callable[[], dict] | None) -> dict | None:
    """The result of ``compute()``, cached in ``folder`` as JSON under ``name`` and a hash
    of ``settings``.

    Parameters
    ----------
    folder : str
        The cache folder (created if missing).
    name : str
        A readable prefix of the file name.
    settings : dict
        JSON-compatible; everything the result depends on (part of the file name).
    compute : callable() -> dict, or None
        Computes the JSON-compatible result when it is not cached; None: do not compute.

    Returns
    -------
    dict or None
        The cached or newly computed result (None if not cached and ``compute`` is None).
    """
    path = os.path.join(folder, f"{name}_{canonical_hash(settings)[:16]}.json")
    if os.path.isfile(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass  # a damaged file is recomputed
    if compute is None:
        return None
    result = compute()
    with atomic_write(path, suffix=".json", name="out") as f:
        f.write(json.dumps(result, sort_keys=True, allow_nan=True).encode())
    return result


@dataclass(frozen=True)
class CachedJob:
    """One measurement for :func:`compute_cached`: ``fn(*args)`` cached as :func:`cached`
    does under ``name`` and ``settings``.

    Attributes
    ----------
    name : str
        The cache file's readable prefix.
    settings : dict
        Everything the result depends on (JSON-compatible).
    fn : callable
        A module-level function (it is pickled to a worker process) returning a
        JSON-compatible dict.
    args : tuple
        Its (picklable) arguments.
    """

    name: str
    settings: dict
    fn: Callable[..., dict]
    args: tuple = ()


def compute_cached(folder: str, jobs: Sequence[CachedJob], workers: int | None = None,
                   log: Callable[[str], Any] = print) -> int:
    """Compute the jobs not cached in ``folder`` yet on local worker processes, caching each
    result as it arrives (so an interrupt keeps every finished one).

    Parameters
    ----------
    folder : str
        The cache folder of :func:`cached`.
    jobs : sequence of CachedJob
        The measurements.
    workers : int >= 1 or None
        Local worker processes (None: one per CPU; 1: this process, one by one).
    log : callable(str)
        Receives one line per failed job.

    Returns
    -------
    int
        The number of jobs that failed (each is logged; a rerun retries them).
    """
    from ..executors import run_each

    missing = [j for j in jobs if cached(folder, j.name, j.settings, None) is None]
    failed = 0

    def store(i, result):
        cached(folder, missing[i].name, missing[i].settings, lambda: result)

    def report(i, err):
        nonlocal failed
        failed += 1
        log(f"reproduce: {missing[i].name} failed: {type(err).__name__}: {err}")

    run_each([(j.fn, tuple(j.args)) for j in missing], workers, store, report)
    return failed


def _env(task, protocol):
    from ... import tasks

    return tasks.make(task, dt=protocol.dt_ms)


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def shift_analysis(spec: CTRNNSpec, task: str, protocol: Protocol, seed: int) -> dict:
    """C4 for one network: predicted against measured loss change when the noise is removed.

    Parameters
    ----------
    spec : CTRNNSpec
        A network trained with noise (its training noise is the one removed).
    task : str
        Its task id.
    protocol : Protocol
        Gives the trials (``shift_trials``) and noise draws per trial (``shift_repeats``).
    seed : int
        Noise seed of the noisy runs.

    Returns
    -------
    dict
        :meth:`~brian_noisy_rnn.analysis.NetworkShiftReport.as_dict` of
        :func:`~brian_noisy_rnn.analysis.network_shift_report` (numpy backend), plus
        ``placement`` and ``sigma_train``.
    """
    from ... import tasks
    from ...analysis import network_shift_report

    batch = tasks.batch(_env(task, protocol), protocol.shift_trials, seed=protocol.eval_seed + 1)
    rep = network_shift_report(spec, batch, n_repeats=protocol.shift_repeats, backend="numpy",
                               seed=seed)
    out = {k: (_finite(v) if isinstance(v, float) else v) for k, v in rep.as_dict().items()}
    out.update(placement=spec.noise.placement, sigma_train=spec.noise.scalar_sigma())
    return out


def process_analysis(spec: CTRNNSpec, task: str, protocol: Protocol) -> dict:
    """C5 for one network: its noise-preference curve under each test process of
    :data:`C5_PROCESSES`.

    Parameters
    ----------
    spec : CTRNNSpec
        A network trained with white noise inside f.
    task : str
        Its task id.
    protocol : Protocol
        Gives the metric, trials and evaluation seed of the family.

    Returns
    -------
    dict
        process name -> ``curve`` (``NoisePreferenceCurve.to_dict()``), ``preferred``,
        ``gain`` and ``gain_sem`` (the paired improvement metric(0) - metric(preferred),
        sign-adjusted so that > 0 is better).
    """
    from brian2 import ms

    from ...core.noise import Noise
    from ...evaluation.curves import noise_preference

    s = protocol.families[task]
    env = _env(task, protocol)
    sigma_train = spec.noise.scalar_sigma()
    out = {}
    for name, (placement, process, tau_noise, relative) in C5_PROCESSES.items():
        template = Noise(placement, 0.0, process=process,
                         tau_noise=None if tau_noise is None else tau_noise * ms)
        curve = noise_preference(spec, env, [r * sigma_train for r in relative],
                                 noise=template, backend="torch", n_trials=s.n_trials,
                                 seed=protocol.eval_seed, metric=s.metric)
        best = curve.preferred_sigma
        gain, sem = curve.difference(0.0, best)
        if curve.higher_is_better:
            gain = -gain
        out[name] = {"curve": curve.to_dict(), "preferred": _finite(best), "gain": _finite(gain),
                     "gain_sem": _finite(sem)}
    return out


def compensation_analysis(spec: CTRNNSpec, task: str, protocol: Protocol) -> dict:
    """The compensated deterministic network against the original at sigma 0 and sigma_train.

    Parameters
    ----------
    spec : CTRNNSpec
        A network trained with noise inside f (one sigma for all units).
    task : str
        Its task id.
    protocol : Protocol
        Gives the metric, trials and evaluation seed of the family.

    Returns
    -------
    dict
        ``metric``, ``higher_is_better``, ``at_zero``, ``at_train``, ``compensated`` (means
        over the same trials), ``compensated_minus_zero``, ``compensated_minus_train`` and
        ``zero_minus_train`` with their paired ``..._sem``, and the same three means of each
        of the family's report metrics (``<name>_at_zero``, ...).
    """
    from ...analysis import compensate
    from ...core.noise import Noise
    from ...evaluation.scoring import evaluate_per_trial, finite_mean_sem
    from ...tasks import metrics

    s = protocol.families[task]
    env = _env(task, protocol)
    kw = dict(backend="torch", n_trials=s.n_trials, seed=protocol.eval_seed)
    r0 = evaluate_per_trial(spec, env, noise=Noise("none"), **kw)
    rt = evaluate_per_trial(spec, env, noise=spec.noise, **kw)
    rc = evaluate_per_trial(compensate(spec), env, noise=Noise("none"), **kw)
    m = s.metric
    d0 = finite_mean_sem(rc.per_trial[m] - r0.per_trial[m])
    gap = finite_mean_sem(r0.per_trial[m] - rt.per_trial[m])
    dt = finite_mean_sem(rc.per_trial[m] - rt.per_trial[m])
    out = {"metric": m, "higher_is_better": metrics.higher_is_better(m),
           "at_zero": _finite(r0.mean(m)), "at_train": _finite(rt.mean(m)),
           "compensated": _finite(rc.mean(m)),
           "compensated_minus_zero": _finite(d0[0]), "compensated_minus_zero_sem": _finite(d0[1]),
           "compensated_minus_train": _finite(dt[0]),
           "compensated_minus_train_sem": _finite(dt[1]),
           "zero_minus_train": _finite(gap[0]), "zero_minus_train_sem": _finite(gap[1])}
    for name in s.report_metrics:
        if name in r0.per_trial:
            out[f"{name}_at_zero"] = _finite(r0.mean(name))
            out[f"{name}_at_train"] = _finite(rt.mean(name))
            out[f"{name}_compensated"] = _finite(rc.mean(name))
    return out


def spec_settings(spec: CTRNNSpec, protocol: Protocol, kind: str) -> dict:
    """The cache settings of a measurement ``kind`` on ``spec``.

    Parameters
    ----------
    spec : CTRNNSpec
        The network.
    protocol : Protocol
        The run's protocol (its quick flag, trials and seeds enter the key).
    kind : str
        The measurement ("c4", "c5", "compensation", "closed_loop", "closed_loop_brian2").

    Returns
    -------
    dict
        JSON-compatible: the spec's content hash, the kind and the protocol's relevant
        settings.
    """
    return {"spec": spec.content_hash(), "kind": kind, "quick": protocol.quick,
            "shift": [protocol.shift_trials, protocol.shift_repeats],
            "eval_seed": protocol.eval_seed,
            "processes": {k: list(v[3]) for k, v in C5_PROCESSES.items()} if kind == "c5" else None,
            "closed_loop": ([protocol.closed_loop_task, protocol.closed_loop_metric,
                             protocol.closed_loop_trials, list(protocol.closed_loop_sigmas)]
                            if kind.startswith("closed_loop") else None),
            "version": 2, "n_trials": [s.n_trials for s in protocol.families.values()],
            **({"brian2_sigmas": list(protocol.brian2_sigmas)} if kind == "closed_loop_brian2"
               else {})}
