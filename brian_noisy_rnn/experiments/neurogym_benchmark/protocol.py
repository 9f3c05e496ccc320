"""The benchmark's protocol: its settings, the tasks it runs (from NeuroGym's registry, with
the reasons for those left out), their time steps and the grids that train and sweep them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..config import grid_from_dict
from .chance import _mean_performance, _policy_outputs

if TYPE_CHECKING:
    from ..config import Grid


#: training-noise sigma of every network (dimensionless, per step; inputs of NeuroGym tasks
#: are O(1): their largest values are 1-1.8)
SIGMA_TRAIN = 1.0
#: test sigmas of the sweep, as multiples of the training sigma
RELATIVE_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: the time step is min(MAX_DT_MS, the task's own default dt), in ms
MAX_DT_MS = 20.0

#: registry ids left out, with the reason (checked at this NeuroGym version, 2.3.1)
EXCLUDED = {
    "AnnubesEnv-v0": "no default task: its constructor requires `session` and `catch_prob`",
    "Bandit-v0": "no supervised ground truth: a reward-only task (no `gt`)",
    "DawTwoStep-v0": "no supervised ground truth: a reward-only task (no `ob`/`gt` trial arrays)",
    "EconomicDecisionMaking-v0": "no supervised ground truth: a reward-only task (no `gt`)",
    "Null-v0": "not a task: one action, no trial structure",
    "GoNogo-v0": "NeuroGym's performance scores a correct no-go trial 0 (`TrialEnv.step` resets "
                 "`performance` to 0 after `_new_trial` set it to 1), so the ground truth scores "
                 "about 0.52, no better than always going: it cannot measure learning",
    "DelayPairedAssociation-v0": "as GoNogo-v0: correct no-go (unpaired) trials score 0 in "
                                 "NeuroGym's performance, so the ground truth scores no better "
                                 "than always answering",
    "PostDecisionWager-v0": "its step compares the action with the choice index (0/1) instead "
                            "of that choice's action (1/2), so NeuroGym scores even the ground "
                            "truth 0",
    "Reaching1D-v0": "its ground truth (a position among 32) exceeds its 3 actions: the batch "
                     "metrics fail with IndexError",
    "Reaching1DWithSelfDistraction-v0": "as Reaching1D-v0: ground truth beyond its 3 actions "
                                        "(IndexError in the batch metrics)",
}
#: registry collections left out (id prefix -> reason)
EXCLUDED_COLLECTIONS = {
    "yang19.": "the 20 tasks of Yang et al. (2019) form one multitask family, meant to be "
               "learnt together by one network with a rule input (this package's "
               "Yang19Multitask-v0); as 20 separate single tasks they would double the "
               "budget and several duplicate native tasks",
    "perceptualdecisionmaking.": "variants of PerceptualDecisionMaking built with step-level "
                                 "wrappers (ReactionTime, ...): whole-trial batch training "
                                 "cannot honour them (closed-loop evaluation can; training "
                                 "cannot)",
}


@dataclass(frozen=True)
class BenchmarkSettings:
    """The benchmark's protocol knobs (:data:`FULL` and :data:`QUICK` are the two presets).

    Attributes
    ----------
    tasks : tuple of str or None
        Task ids to run; None: every included NeuroGym task (:func:`select_tasks`).
    seeds : tuple of int
        Training seeds (one network per seed and placement).
    placements : tuple of str
        Training-noise placements.
    sigma_train : float
        Training-noise sigma (dimensionless).
    relative_sigmas : tuple of float
        Test sigmas as multiples of ``sigma_train``.
    n_hidden : int
        Hidden units per network.
    steps : int
        Adam steps per network.
    batch_size : int
        Trials per training step.
    lr : float
        Adam learning rate.
    trial_pool : int or None
        Size of the fixed pool of training trials (None: fresh trials every step).
    n_trials : int
        Test trials per sigma.
    eval_seed : int
        Seed of the test trials and test noise.
    tau_ms : float
        Network time constant in ms.
    max_dt_ms : float
        Largest time step in ms (see :func:`task_dt_ms`).
    activation : str
        Activation function.
    name : str
        Name of the grids (and so part of every cell key).
    """

    tasks: tuple | None = None
    seeds: tuple = (0, 1, 2)
    placements: tuple = ("pre", "post")
    sigma_train: float = SIGMA_TRAIN
    relative_sigmas: tuple = RELATIVE_SIGMAS
    n_hidden: int = 32
    steps: int = 1000
    batch_size: int = 16
    lr: float = 0.01
    trial_pool: int | None = 2048
    n_trials: int = 200
    eval_seed: int = 1234
    tau_ms: float = 100.0
    max_dt_ms: float = MAX_DT_MS
    activation: str = "relu"
    name: str = "neurogym-benchmark"


#: the full protocol, a reduced budget: 32 units, 1000 steps of batch 16 (11 CPU-minutes, 14
#: minutes wall on a shared 2-core machine; docs/benchmarks/neurogym.md)
FULL = BenchmarkSettings()
#: ``--quick``: three tasks, one seed, few steps (a couple of minutes)
QUICK = BenchmarkSettings(tasks=("MultiSensoryIntegration-v0", "PerceptualDecisionMaking-v0",
                                 "ReachingDelayResponse-v0"),
                          seeds=(0,), steps=150, n_trials=100, trial_pool=512,
                          relative_sigmas=(0.0, 0.5, 1.0, 2.0), name="neurogym-benchmark-quick")


def neurogym_task_ids() -> list[str]:
    """Every task id in NeuroGym's own registry, collections included, sorted.

    Returns
    -------
    list of str
        ``neurogym.envs.registration.all_envs(collections=True)``.
    """
    from neurogym.envs.registration import all_envs

    return list(all_envs(collections=True))


def _exclusion_reason(task_id):
    if task_id in EXCLUDED:
        return EXCLUDED[task_id]
    for prefix, reason in EXCLUDED_COLLECTIONS.items():
        if task_id.startswith(prefix):
            return reason
    return None


def _default_dt_ms(task_id):
    from ... import tasks

    return float(tasks.make(task_id).unwrapped.dt)


def task_dt_ms(task_id: str, max_dt_ms: float = MAX_DT_MS) -> float:
    """The benchmark's time step for a task: ``min(max_dt_ms, the task's own default dt)``.

    Parameters
    ----------
    task_id : str
        A NeuroGym task id.
    max_dt_ms : float
        The largest time step, in ms.

    Returns
    -------
    float
        The time step in ms.
    """
    return min(float(max_dt_ms), _default_dt_ms(task_id))


def _probe(task_id, dt_ms):
    """None if a small batch of the task, its metrics and NeuroGym's performance of its
    ground truth work at ``dt_ms``, else the reason."""
    from ... import tasks
    from ...tasks import metrics

    try:
        b = tasks.batch(tasks.make(task_id, dt=dt_ms), 4, seed=0)
        metrics.task_metrics(np.zeros((b.n_steps, 4, b.n_out)), b)
        if not b.env_states:
            return "no NeuroGym performance for its trials"
        ceiling = _mean_performance(_policy_outputs(b)[0], b)
    except Exception as err:  # noqa: BLE001 - any failure is a reason to leave the task out
        return f"fails at dt = {dt_ms:g} ms: {type(err).__name__}: {err}"
    if not ceiling > 0:
        return (f"NeuroGym scores its ground truth with performance {ceiling:g} (its step never "
                "ends a trial or never sets a performance): nothing to measure")
    return None


def select_tasks(ids: Iterable[str] | None = None, max_dt_ms: float = MAX_DT_MS,
                 probe: bool = True) -> tuple[dict[str, float], dict[str, str]]:
    """Split NeuroGym task ids into those the benchmark runs and those it leaves out.

    Parameters
    ----------
    ids : iterable of str or None
        Task ids; None: :func:`neurogym_task_ids`.
    max_dt_ms : float
        The largest time step (see :func:`task_dt_ms`).
    probe : bool
        Also leave out tasks whose trial batch or metrics fail at their time step, and tasks
        where NeuroGym scores the ground truth itself with performance 0 or NaN (its step
        never sets a performance, e.g. SpatialSuppressMotion-v0, or never ends a trial,
        ToneDetection-v0); builds 4 trials of each task, about a second in all.

    Returns
    -------
    included : dict of str to float
        Task id -> its time step in ms, in the order of ``ids``.
    excluded : dict of str to str
        Task id -> the reason it is left out.
    """
    included, excluded = {}, {}
    for task_id in (neurogym_task_ids() if ids is None else ids):
        reason = _exclusion_reason(task_id)
        dt_ms = None
        if reason is None:
            try:
                dt_ms = task_dt_ms(task_id, max_dt_ms)
            except Exception as err:  # noqa: BLE001
                reason = f"cannot be created: {type(err).__name__}: {err}"
        if reason is None and probe:
            reason = _probe(task_id, dt_ms)
        if reason is None:
            included[task_id] = dt_ms
        else:
            excluded[task_id] = reason
    return included, excluded



def benchmark_grids(settings: BenchmarkSettings, included: dict[str, float]) -> list[Grid]:
    """The benchmark's grids: one per time step, each over the tasks run at that step.

    Parameters
    ----------
    settings : BenchmarkSettings
        The protocol.
    included : dict of str to float
        Task id -> time step in ms (from :func:`select_tasks`).

    Returns
    -------
    list of Grid
        Validated :class:`~.config.Grid` s named ``settings.name``, in increasing dt order.
    """
    by_dt = {}
    for task, dt in included.items():
        by_dt.setdefault(float(dt), []).append(task)
    training = {"steps": settings.steps, "batch_size": settings.batch_size, "lr": settings.lr}
    if settings.trial_pool is not None:
        training["trial_pool"] = max(int(settings.trial_pool), settings.batch_size)
    grids = []
    for dt in sorted(by_dt):
        data = {
            "name": settings.name,
            "grid": {"tasks": by_dt[dt], "placements": list(settings.placements),
                     "train_sigmas": [settings.sigma_train], "seeds": list(settings.seeds),
                     "backends": ["torch"]},
            "sweep": {"relative_sigmas": list(settings.relative_sigmas),
                      "n_trials": settings.n_trials, "seed": settings.eval_seed},
            "network": {"n_hidden": settings.n_hidden, "activation": settings.activation,
                        "tau_ms": settings.tau_ms, "dt_ms": dt},
            "training": training,
        }
        grids.append(grid_from_dict(data, source=f"benchmark settings (dt {dt:g} ms)"))
    return grids
