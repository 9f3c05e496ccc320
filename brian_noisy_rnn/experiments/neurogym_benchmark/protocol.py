"""The benchmark's protocol: its settings, the tasks it runs (from NeuroGym's registry, with
the reasons for those left out), their time steps and the grids that train and sweep them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from ..config import Grid, grid_from_dict
from .chance import _mean_performance, _policy_outputs

__all__ = ["EXCLUDED", "EXCLUDED_COLLECTIONS", "FULL", "LOSSES", "MAX_DT_MS", "QUICK",
           "RELATIVE_SIGMAS", "SIGMA_TRAIN", "SIGMA_TRAINS", "TEST_SIGMAS", "YANG19_TASK",
           "BenchmarkSettings", "StageGrid", "benchmark_grids", "network_id",
           "neurogym_task_ids", "select_tasks", "task_dt_ms", "task_kind"]

#: training-noise sigmas (dimensionless, per step): 1, the size of the largest NeuroGym inputs
#: (the previous protocol's one setting), and 3, the onset the reproduction found on its
#: classification family, MazeNavigation trained on cross-entropy (dt 20 ms for both)
SIGMA_TRAINS = (1.0, 3.0)
#: the first training sigma (the previous protocol's)
SIGMA_TRAIN = SIGMA_TRAINS[0]
#: training losses of classification tasks: NeuroGym's cross-entropy (None: the task kind's
#: default) and the squared error on one-hot targets of Yang et al. (2019); continuous-action
#: tasks train on MSE only
LOSSES = (None, "mse_onehot")
#: absolute test sigmas of the sweep: 0 to 7.5, that is to 2.5 times the largest sigma_train
TEST_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 7.5)
#: test sigmas of the previous protocol, as multiples of the training sigma
RELATIVE_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: the time step is min(MAX_DT_MS, the task's own default dt), in ms
MAX_DT_MS = 20.0
#: this package's multitask version of NeuroGym's yang19 collection (one network, rule inputs)
YANG19_TASK = "Yang19Multitask-v0"

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

    Training has two stages and no early stopping (each network stays what it would be
    trained alone): every network is trained for ``steps``; a network that misses the
    learning criterion (:func:`~.chance.is_learned` on its decision-step accuracy, or on
    NeuroGym performance for continuous actions) is trained again from scratch for
    ``cap_steps``, as a cell of its own, and the report uses that network instead.

    Attributes
    ----------
    tasks : tuple of str or None
        Task ids to run; None: every included NeuroGym task (:func:`select_tasks`).
    seeds : tuple of int
        Training seeds (one network per seed, placement, training sigma and loss).
    placements : tuple of str
        Training-noise placements.
    sigma_trains : tuple of float
        Training-noise sigmas (dimensionless).
    losses : tuple of (str or None)
        Training losses of classification tasks (None: cross-entropy, the default;
        ``"mse_onehot"``); continuous-action tasks train on MSE only.
    test_sigmas : tuple of float
        Absolute test sigmas (0 and every training sigma among them).
    n_hidden : int
        Hidden units per network.
    more_units : tuple of (str, int)
        Task id -> hidden units, for tasks that need more than ``n_hidden``.
    steps : int
        Adam steps of the first stage.
    cap_steps : int
        Adam steps of the second stage (networks that missed the criterion; 0: no second
        stage).
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
    yang19 : bool
        Also train networks on :data:`YANG19_TASK` (scored per sub-task in a second table).
    name : str
        Name of the grids (and so part of every cell key).
    """

    tasks: tuple | None = None
    seeds: tuple = (0, 1, 2)
    placements: tuple = ("pre", "post")
    sigma_trains: tuple = SIGMA_TRAINS
    losses: tuple = LOSSES
    test_sigmas: tuple = TEST_SIGMAS
    n_hidden: int = 64
    more_units: tuple = ()
    steps: int = 500
    cap_steps: int = 1500
    batch_size: int = 16
    lr: float = 0.01
    trial_pool: int | None = 2048
    n_trials: int = 200
    eval_seed: int = 1234
    tau_ms: float = 100.0
    max_dt_ms: float = MAX_DT_MS
    activation: str = "relu"
    yang19: bool = True
    name: str = "neurogym-benchmark-v2"

    def units(self, task):
        """Hidden units of the networks of ``task`` (int)."""
        return int(dict(self.more_units).get(task, self.n_hidden))


#: the full protocol: 64 units, 500 steps of batch 16, 1500 steps for networks that missed
#: the criterion, sigma_train 1 and 3, cross-entropy and mse_onehot, 3 seeds, plus Yang19
#: (docs/benchmarks/neurogym.md estimates its CPU time)
FULL = BenchmarkSettings()
#: ``--quick``: three tasks and Yang19, one seed, few steps (a few minutes)
QUICK = BenchmarkSettings(tasks=("MultiSensoryIntegration-v0", "PerceptualDecisionMaking-v0",
                                 "ReachingDelayResponse-v0"),
                          seeds=(0,), steps=100, cap_steps=200, n_trials=100, trial_pool=512,
                          test_sigmas=(0.0, 1.0, 3.0, 7.5), name="neurogym-benchmark-quick-v2")


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



def task_kind(task_id: str, dt_ms: float) -> str:
    """``"classification"`` or ``"regression"``: the kind of a task's trial batch.

    Parameters
    ----------
    task_id : str
        A task id.
    dt_ms : float
        Time step in ms.

    Returns
    -------
    str
        The kind.
    """
    from ... import tasks

    return tasks.batch(tasks.make(task_id, dt=dt_ms), 1, seed=0).kind


def network_id(config: dict) -> tuple:
    """What identifies a network across the two training stages.

    Parameters
    ----------
    config : dict
        A cell's config (``Cell.config``).

    Returns
    -------
    tuple
        ``(task, placement, train_sigma, seed, loss)``; loss None for the task's default.
    """
    return (config["task"], config["placement"], float(config["train_sigma"]),
            int(config["seed"]), config["training"].get("loss"))


@dataclass(frozen=True)
class StageGrid(Grid):
    """A grid restricted to some of its networks (a second training stage).

    Attributes
    ----------
    keep : frozenset of tuple
        :func:`network_id` s of the networks to run; cells of other networks are left out.
    """

    keep: frozenset = frozenset()

    def cells(self):
        """The grid's cells whose :func:`network_id` is in ``keep``.

        Returns
        -------
        list of Cell
            In the grid's order.
        """
        return [c for c in super().cells() if network_id(c.config) in self.keep]


def benchmark_grids(settings: BenchmarkSettings, included: dict[str, float],
                    kinds: dict[str, str] | None = None, stage: int = 1,
                    keep: Iterable[tuple] | None = None) -> list[Grid]:
    """The benchmark's grids of one training stage: one per (time step, units, loss).

    Parameters
    ----------
    settings : BenchmarkSettings
        The protocol.
    included : dict of str to float
        Task id -> time step in ms (from :func:`select_tasks`, plus :data:`YANG19_TASK`).
    kinds : dict of str to str or None
        Task id -> ``"classification"`` / ``"regression"`` (None: :func:`task_kind`); losses
        other than the default are trained on classification tasks only.
    stage : {1, 2}
        1: ``settings.steps``; 2: ``settings.cap_steps``, restricted to ``keep``.
    keep : iterable of tuple or None
        Stage 2: the :func:`network_id` s to train (those that missed the criterion).

    Returns
    -------
    list of Grid
        Validated :class:`~.config.Grid` s named ``settings.name``, in increasing dt order
        (stage 2: :class:`StageGrid` s; grids without a cell to run are left out).
    """
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    if kinds is None:
        kinds = {t: task_kind(t, dt) for t, dt in included.items()}
    groups = {}
    for task, dt in included.items():
        for loss in settings.losses:
            if loss is None or kinds[task] == "classification":
                groups.setdefault((float(dt), settings.units(task), loss), []).append(task)
    training = {"steps": settings.steps if stage == 1 else settings.cap_steps,
                "batch_size": settings.batch_size, "lr": settings.lr}
    if settings.trial_pool is not None:
        training["trial_pool"] = max(int(settings.trial_pool), settings.batch_size)
    keep = frozenset(keep or ())
    grids = []
    for (dt, units, loss), task_ids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        data = {
            "name": settings.name,
            "grid": {"tasks": task_ids, "placements": list(settings.placements),
                     "train_sigmas": list(settings.sigma_trains), "seeds": list(settings.seeds),
                     "backends": ["torch"]},
            "sweep": {"sigmas": list(settings.test_sigmas), "n_trials": settings.n_trials,
                      "seed": settings.eval_seed},
            "network": {"n_hidden": units, "activation": settings.activation,
                        "tau_ms": settings.tau_ms, "dt_ms": dt},
            "training": {**training, **({} if loss is None else {"loss": loss})},
        }
        grid = grid_from_dict(data, source=f"benchmark settings (dt {dt:g} ms, {units} units, "
                                           f"loss {loss or 'default'}, stage {stage})")
        if stage == 2:
            grid = StageGrid(**{f.name: getattr(grid, f.name) for f in fields(grid)}, keep=keep)
            if not grid.cells():
                continue
        grids.append(grid)
    return grids
