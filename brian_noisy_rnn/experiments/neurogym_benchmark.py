"""The NeuroGym benchmark: does noise placement change what a trained network prefers, task by task?

One protocol over every supervised NeuroGym task (``brian-noisy-rnn benchmark neurogym``):

1. **Tasks.** Every id of NeuroGym's own registry (``neurogym.envs.registration.all_envs(
   collections=True)``), minus those in :data:`EXCLUDED` / :data:`EXCLUDED_COLLECTIONS`
   (each with its reason) and minus any task whose trial batch or metrics fail at the chosen
   time step (the reason is the error; see :func:`select_tasks`).
2. **Time step.** ``dt = min(20 ms, the task's own default dt)``: 20 ms, the package's
   convention with ``tau = 100 ms`` (NeuroGym's own default of 100 ms would equal tau), except
   for tasks defined on a finer grid (PulseDecisionMaking's 10 ms pulses vanish at 20 ms).
3. **Networks.** For each task, networks with white noise inside the activation (``pre``)
   and outside it (``post``) at one training sigma (:data:`SIGMA_TRAIN`, 1.0: the size of the
   largest NeuroGym inputs, which are O(1), see ``docs/benchmarks/neurogym.md``), relu, one
   network per seed (at least 3 in the full protocol), trained with the task's own loss
   (masked cross-entropy, or MSE for continuous actions). The networks of a task are trained
   together as ensembles by :func:`~.runner.run_grid` (one :class:`~.config.Grid` per time
   step, built with :func:`~.config.grid_from_dict`), so the SQLite store, resume,
   ``--workers``, Dask and progress bars are the experiment runner's.
4. **Sweep.** Each network's test noise (its training placement) at
   :data:`RELATIVE_SIGMAS` times sigma_train on the same trials and noise draws (common
   random numbers), recording every metric of the task, NeuroGym's ``performance``
   included, and the paired differences ``metric(sigma) - metric(0)``.
5. **Report** (:func:`benchmark_rows`, from the store only): per task and placement the
   performance reached (at the training sigma), the chance level (:func:`chance_level`),
   whether the task was learned (:func:`is_learned`), the preferred test sigma on the trained
   loss and on performance, and the paired difference metric(sigma_train) - metric(0) with
   its standard error.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backends.random_state import keeps_random_state
from ..core.atomic import atomic_write, check_writable
from .config import grid_from_dict
from .runner import run_grid
from .store import ResultStore
from .summary import CLEAR_SE, NEAR_ZERO

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluation.curves import NoisePreferenceCurve
    from .config import Grid

__all__ = ["BenchmarkResult", "BenchmarkSettings", "EXCLUDED", "EXCLUDED_COLLECTIONS", "FULL",
           "LEARNED_FRACTION", "MAX_DT_MS", "QUICK", "RELATIVE_SIGMAS", "SIGMA_TRAIN",
           "benchmark_grids", "benchmark_rows", "chance_level", "format_benchmark_table",
           "format_headline", "headline", "is_learned", "neurogym_task_ids", "plot_benchmark_heatmap",
           "rows_to_csv", "run_benchmark", "select_tasks", "task_dt_ms"]

#: training-noise sigma of every network (dimensionless, per step; inputs of NeuroGym tasks
#: are O(1): their largest values are 1-1.8)
SIGMA_TRAIN = 1.0
#: test sigmas of the sweep, as multiples of the training sigma
RELATIVE_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: the time step is min(MAX_DT_MS, the task's own default dt), in ms
MAX_DT_MS = 20.0
#: a network learned its task when its performance at the training sigma exceeds chance by
#: this fraction of the distance from chance to 1 (and by CLEAR_SE standard errors)
LEARNED_FRACTION = 0.2

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
    from .. import tasks

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
    from .. import tasks
    from ..tasks import metrics

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


def _one_hot(actions, n):
    out = np.full(actions.shape + (n,), -1.0)
    np.put_along_axis(out, actions[..., None], 1.0, axis=-1)
    return out


def _policy_outputs(b):
    """Outputs of the oracle and of the stimulus-blind policies on TaskBatch ``b``."""
    decide = b.decision_mask
    as_outputs = (lambda a: _one_hot(a, b.n_out)) if b.kind == "classification" else (lambda a: a)
    oracle = as_outputs(b.targets)
    # another trial's ground truth (trial b plays trial b+1's, cut to its own length and
    # padded with fixation): the right structure and answer statistics, blind to the stimulus
    other = np.roll(b.targets, -1, axis=1).copy()
    valid = np.arange(b.n_steps)[:, None] < b.lengths[None, :]
    other[~valid] = 0
    candidates = {"another trial's ground truth": as_outputs(other)}
    if b.kind == "classification":
        answers = np.unique(b.targets[decide])
        if answers.size > 1:  # a choice between answers (not only a time to respond)
            for k in sorted({0, *answers.tolist()}):
                candidates[f"constant answer {k}"] = _one_hot(np.where(decide, k, b.targets),
                                                              b.n_out)
    else:
        mean = b.targets[decide].mean(axis=0)
        candidates["mean target"] = np.where(decide[..., None], mean, b.targets)
    return oracle, candidates


def _mean_performance(outputs, b):
    from ..tasks.performance import trial_performance

    perf = trial_performance(outputs, b.env_states, b.lengths, b.action_space)
    return float(np.nanmean(perf)) if np.isfinite(perf).any() else float("nan")


@keeps_random_state
def chance_level(task: str, dt_ms: float, n_trials: int = 500, seed: int = 0) -> dict:
    """NeuroGym performance of stimulus-blind policies on a task: the benchmark's chance level.

    Policies, each played through the task's own ``step`` on the same ``n_trials`` trials
    (:func:`~brian_noisy_rnn.tasks.performance.trial_performance`): another trial's ground
    truth (the right trial structure and answer statistics, blind to this trial's stimulus:
    chance for timing tasks such as ReadySetGo); for choice tasks the ground truth with every
    decision step replaced by one constant answer (each action in turn; action 0 means never
    answering); for continuous actions the ground truth with the decision steps replaced by
    the mean target. The chance level is the best of them, so always giving the most frequent
    answer is chance. The ground truth itself gives the ceiling.

    Parameters
    ----------
    task : str
        A NeuroGym task id.
    dt_ms : float
        Time step in ms.
    n_trials : int
        Trials to play.
    seed : int
        Seed of the trials. (A few NeuroGym tasks draw state at construction from an unseeded
        generator, e.g. HierarchicalReasoning's first block length, so their chance level
        can vary slightly between calls; :func:`run_benchmark` keeps the levels it used in
        ``chance.json``.)

    Returns
    -------
    dict
        ``chance`` (float, the best mean performance of the stimulus-blind policies),
        ``policy`` (str, which policy), ``ceiling`` (float, the ground truth's mean
        performance) and ``n_choices`` (int, actions of a discrete space, else 0).
    """
    from .. import tasks

    b = tasks.batch(tasks.make(task, dt=dt_ms), n_trials, seed=seed)
    oracle, candidates = _policy_outputs(b)
    best = ("", float("nan"))
    for name, outputs in candidates.items():
        value = _mean_performance(outputs, b)
        if math.isfinite(value) and not value <= best[1]:
            best = (name, value)
    return {"chance": best[1], "policy": best[0], "ceiling": _mean_performance(oracle, b),
            "n_choices": int(b.n_out) if b.kind == "classification" else 0}


def is_learned(performance: float, sem: float, chance: float, ceiling: float = 1.0) -> bool:
    """The benchmark's learning rule for one network.

    Learned: performance (at its training sigma) above ``chance`` by at least
    :data:`LEARNED_FRACTION` of the way from chance to ``ceiling``, and by more than
    :data:`CLEAR_SE` standard errors.

    Parameters
    ----------
    performance : float
        Mean NeuroGym performance over test trials.
    sem : float
        Its standard error (NaN: the standard-error condition is dropped).
    chance : float
        The task's chance level (:func:`chance_level`).
    ceiling : float
        The ground truth's performance (:func:`chance_level`; 1 on most tasks; NaN: 1).

    Returns
    -------
    bool
        False if ``performance`` or ``chance`` is NaN, or ``ceiling`` is not above ``chance``.
    """
    if not (math.isfinite(performance) and math.isfinite(chance)):
        return False
    ceiling = 1.0 if not math.isfinite(ceiling) else ceiling
    margin = performance - chance
    if ceiling <= chance or (math.isfinite(sem) and margin <= CLEAR_SE * sem):
        return False
    return margin > 0 and margin >= LEARNED_FRACTION * (ceiling - chance)


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


def _loss_name(curve):
    names = {curve.metric, *curve.other_metrics}
    return "cross_entropy" if "cross_entropy" in names else "mse"


def _paired(curve, name):
    """metric(sigma_train) - metric(0) and its paired standard error (NaN if not stored)."""
    if name not in curve.paired_vs_zero:
        return float("nan"), float("nan")
    mean, sem = curve.paired_vs_zero[name]
    i = curve.index_of(curve.sigma_train)
    return float(mean[i]), float(sem[i])


def _combine(diffs):
    """Mean over networks of paired differences and its standard error (trial noise only)."""
    d = np.array([x for x, _ in diffs], dtype=float)
    e = np.array([s for _, s in diffs], dtype=float)
    ok = np.isfinite(d)
    if not ok.any():
        return float("nan"), float("nan")
    se = float(np.sqrt(np.sum(np.where(np.isfinite(e[ok]), e[ok], np.nan) ** 2)) / ok.sum())
    return float(d[ok].mean()), se


def _significance(mean, sem, higher_is_better):
    """+1 if sigma_train is clearly better than 0, -1 if clearly worse, 0 otherwise."""
    if not (math.isfinite(mean) and math.isfinite(sem)) or abs(mean) <= CLEAR_SE * sem:
        return 0
    better = mean > 0 if higher_is_better else mean < 0
    return 1 if better else -1


def benchmark_rows(curves: Iterable[NoisePreferenceCurve], chance: dict[str, dict]) -> list[dict]:
    """The benchmark table: one row per (task, training placement), from recorded curves.

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        The recorded curves (``ResultStore.curves``; one per network), with
        ``paired_vs_zero`` and ``performance`` among their metrics.
    chance : dict of str to dict
        Task id -> :func:`chance_level` result.

    Returns
    -------
    list of dict
        Sorted by task, then placement (pre first). Keys: ``task``, ``dt_ms``, ``placement``,
        ``sigma_train``, ``n`` (networks), ``chance``, ``chance_policy``, ``performance``
        (list, per network, at the training sigma), ``performance_sem`` (list),
        ``learned`` (networks learned, :func:`is_learned`), ``task_learned`` (bool: a
        majority of the networks), ``loss`` (the trained loss's name), and for ``m`` in
        ``loss`` / ``perf``: ``{m}_preferred`` (list of preferred sigmas),
        ``{m}_ratio`` (mean preferred sigma / sigma_train), ``{m}_diff`` / ``{m}_diff_sem``
        (mean over networks of the paired difference metric(sigma_train) - metric(0) and
        its standard error from the trials), ``{m}_signif`` (+1: sigma_train clearly better
        than 0, -1: clearly worse, 0: neither; :data:`CLEAR_SE` standard errors) and
        ``{m}_seeds_better`` / ``{m}_seeds_worse`` (networks individually clearly better /
        worse at sigma_train).
    """
    groups = {}
    for c in curves:
        groups.setdefault((c.task, c.train_placement), []).append(c)
    order = {"pre": 0, "post": 1, "state": 2}
    rows = []
    for (task, placement), cs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        cs = sorted(cs, key=lambda c: (c.cell or {}).get("seed", 0))
        ch = chance.get(task, {})
        level = float(ch.get("chance", float("nan")))
        row = {"task": task, "placement": placement, "sigma_train": cs[0].sigma_train,
               "dt_ms": ((cs[0].cell or {}).get("config") or {}).get("network", {}).get("dt_ms"),
               "n": len(cs), "chance": level, "chance_policy": ch.get("policy", ""),
               "loss": _loss_name(cs[0])}
        perf = [c.with_metric("performance") for c in cs]
        row["performance"] = [p.metric_at_train for p in perf]
        row["performance_sem"] = [p.sem_at_train for p in perf]
        row["ceiling"] = float(ch.get("ceiling", float("nan")))
        row["learned"] = sum(is_learned(p, s, level, row["ceiling"])
                             for p, s in zip(row["performance"], row["performance_sem"]))
        row["task_learned"] = row["learned"] * 2 > row["n"]
        for key, name in (("loss", row["loss"]), ("perf", "performance")):
            views = [c.with_metric(name) for c in cs]
            row[f"{key}_preferred"] = [v.preferred_sigma for v in views]
            ratios = [v.preferred_ratio for v in views if math.isfinite(v.preferred_ratio)]
            row[f"{key}_ratio"] = float(np.mean(ratios)) if ratios else float("nan")
            diffs = [_paired(c, name) for c in cs]
            hib = views[0].higher_is_better
            row[f"{key}_diff"], row[f"{key}_diff_sem"] = _combine(diffs)
            row[f"{key}_signif"] = _significance(row[f"{key}_diff"], row[f"{key}_diff_sem"], hib)
            each = [_significance(d, s, hib) for d, s in diffs]
            row[f"{key}_seeds_better"] = sum(s > 0 for s in each)
            row[f"{key}_seeds_worse"] = sum(s < 0 for s in each)
        rows.append(row)
    return rows


def _fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _diff_text(row, key):
    d, e = row[f"{key}_diff"], row[f"{key}_diff_sem"]
    if not math.isfinite(d):
        return "-"
    mark = {1: " **+**", -1: " **-**", 0: ""}[row[f"{key}_signif"]]
    return (f"{d:+.3g} ± {_fmt(e, 2)}{mark} "
            f"({row[f'{key}_seeds_better']}/{row[f'{key}_seeds_worse']})")


def format_benchmark_table(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as a Markdown table.

    Columns: task (time step), chance, training placement, performance at sigma_train (mean
    over networks [min, max]), networks learned, preferred test sigma per network on the
    trained loss and on performance, and the paired differences metric(sigma_train) -
    metric(0) ± standard error (**+**: sigma_train clearly better, **-**: clearly worse),
    with the numbers of networks individually clearly better / worse at sigma_train.
    Tasks not learned are marked "(not learned)".

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        The table (header, separator, one line per row).
    """
    header = ("task", "chance", "noise", "performance at σ_train", "learned",
              "preferred σ (loss)", "Δloss = L(σ_train) − L(0) (seeds better/worse)",
              "preferred σ (performance)", "Δperformance = P(σ_train) − P(0) (seeds better/worse)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        perf = [p for p in r["performance"] if math.isfinite(p)]
        if len(perf) > 1:
            perf_text = f"{np.mean(perf):.3f} [{min(perf):.2f}, {max(perf):.2f}]"
        else:
            perf_text = _fmt(perf[0] if perf else float("nan"))
        task = f"{r['task']} ({_fmt(r['dt_ms'])} ms)"
        if not r["task_learned"]:
            task += " (not learned)"
        placement = {"pre": "inside f", "post": "outside f"}.get(r["placement"], r["placement"])
        cells = (task, _fmt(r["chance"]), placement, perf_text, f"{r['learned']}/{r['n']}",
                 ", ".join(_fmt(p) for p in r["loss_preferred"]) + f" ({r['loss']})",
                 _diff_text(r, "loss"), ", ".join(_fmt(p) for p in r["perf_preferred"]),
                 _diff_text(r, "perf"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline(rows: list[dict]) -> dict:
    """The benchmark's headline counts over the tasks learned.

    A task counts as learned when both placements' rows are (``task_learned``); networks
    counted are those of learned tasks.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    dict
        ``tasks`` (int, tasks in the table), ``learned`` (list of learned task ids), and
        for ``m`` in ``loss`` / ``perf``: ``pre_{m}_prefers_noise`` / ``pre_n`` (noise-in
        networks whose preferred sigma is > 0 / all), ``post_{m}_near_zero`` / ``post_n``
        (noise-out networks preferring sigma <= NEAR_ZERO * sigma_train / all),
        ``pre_{m}_signif`` / ``post_{m}_signif`` (learned tasks whose mean paired
        difference says sigma_train is clearly better / clearly worse than 0).
    """
    tasks = sorted({r["task"] for r in rows})
    learned = [t for t in tasks if all(r["task_learned"] for r in rows if r["task"] == t)]
    out = {"tasks": len(tasks), "learned": learned}
    good = [r for r in rows if r["task"] in learned]
    pre = [r for r in good if r["placement"] == "pre"]
    post = [r for r in good if r["placement"] == "post"]
    out["pre_n"] = sum(r["n"] for r in pre)
    out["post_n"] = sum(r["n"] for r in post)
    for key in ("loss", "perf"):
        out[f"pre_{key}_prefers_noise"] = sum(p > 0 for r in pre for p in r[f"{key}_preferred"])
        out[f"post_{key}_near_zero"] = sum(p <= NEAR_ZERO * r["sigma_train"] + 1e-12
                                           for r in post for p in r[f"{key}_preferred"])
        out[f"pre_{key}_signif"] = sum(r[f"{key}_signif"] > 0 for r in pre)
        out[f"post_{key}_signif"] = sum(r[f"{key}_signif"] < 0 for r in post)
    return out


def format_headline(h: dict) -> str:
    """:func:`headline` as two sentences.

    Parameters
    ----------
    h : dict
        As returned by :func:`headline`.

    Returns
    -------
    str
        The headline text.
    """
    n = len(h["learned"])
    return (f"{n} of {h['tasks']} tasks learned. On the trained loss, "
            f"{h['pre_loss_prefers_noise']}/{h['pre_n']} noise-in networks prefer sigma > 0 "
            f"(sigma_train clearly better than 0 in {h['pre_loss_signif']}/{n} tasks) and "
            f"{h['post_loss_near_zero']}/{h['post_n']} noise-out networks prefer sigma ~ 0 "
            f"(clearly worse at sigma_train in {h['post_loss_signif']}/{n} tasks). On NeuroGym "
            f"performance: {h['pre_perf_prefers_noise']}/{h['pre_n']} noise-in networks prefer "
            f"sigma > 0 ({h['pre_perf_signif']}/{n} tasks clearly better at sigma_train), "
            f"{h['post_perf_near_zero']}/{h['post_n']} noise-out networks prefer ~0 "
            f"({h['post_perf_signif']}/{n} tasks clearly worse at sigma_train).")


#: columns of the benchmark CSV, in order
CSV_COLUMNS = ("task", "dt_ms", "placement", "sigma_train", "n", "chance", "chance_policy",
               "performance", "performance_sem", "learned", "task_learned", "loss",
               "loss_preferred", "loss_ratio", "loss_diff", "loss_diff_sem", "loss_signif",
               "loss_seeds_better", "loss_seeds_worse", "perf_preferred", "perf_ratio",
               "perf_diff", "perf_diff_sem", "perf_signif", "perf_seeds_better",
               "perf_seeds_worse")


def rows_to_csv(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as CSV text (lists joined with ``;``).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        A header line with :data:`CSV_COLUMNS` and one line per row.
    """
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = []
        for k in CSV_COLUMNS:
            v = r[k]
            if isinstance(v, (list, tuple)):
                v = ";".join(_fmt(x, 6) for x in v)
            elif isinstance(v, float):
                v = "" if not math.isfinite(v) else f"{v:.6g}"
            values.append(v)
        writer.writerow(values)
    return text.getvalue()


def plot_benchmark_heatmap(rows: list[dict], ax=None) -> Figure:
    """Heatmap of the benchmark: tasks x (placement, metric), colour = preferred sigma / sigma_train.

    Columns: noise inside f and outside f, on the trained loss and on NeuroGym performance.
    Each cell shows the mean over networks of preferred sigma / sigma_train and a mark from
    the paired difference metric(sigma_train) - metric(0) (mean over networks, beyond
    :data:`CLEAR_SE` standard errors): "+" sigma_train clearly better than 0, "−" clearly
    worse. Tasks not learned for both placements are greyed and labelled (not learned, or
    learned for one placement only).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.
    ax : matplotlib Axes or None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.
    """
    from ..plotting import new_figure

    tasks = sorted({r["task"] for r in rows})
    columns = [(p, k) for k in ("loss", "perf") for p in ("pre", "post")]
    by = {(r["task"], r["placement"]): r for r in rows}
    values = np.full((len(tasks), len(columns)), np.nan)
    marks = [["" for _ in columns] for _ in tasks]
    for i, t in enumerate(tasks):
        for j, (p, k) in enumerate(columns):
            r = by.get((t, p))
            if r is None:
                continue
            values[i, j] = r[f"{k}_ratio"]
            marks[i][j] = {1: "+", -1: "−", 0: ""}[r[f"{k}_signif"]]
    if ax is None:
        fig = new_figure((6.4, 0.9 + 0.26 * len(tasks)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=max(2.0, float(np.nanmax(values))
                                                               if np.isfinite(values).any() else 2.0),
                      aspect="auto")
    for i, t in enumerate(tasks):
        learned = all(by[(t, p)]["task_learned"] for p in ("pre", "post") if (t, p) in by)
        for j in range(len(columns)):
            if math.isfinite(values[i, j]):
                colour = "white" if values[i, j] < 1.0 else "black"
                ax.text(j, i, f"{values[i, j]:.2f}{marks[i][j]}", ha="center", va="center",
                        fontsize=7, color=colour)
        if not learned:
            ax.axhspan(i - 0.5, i + 0.5, color="white", alpha=0.55, lw=0)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{'inside' if p == 'pre' else 'outside'} f\n"
                        f"{'loss' if k == 'loss' else 'perf.'}" for p, k in columns],
                       fontsize=7)
    ax.set_yticks(range(len(tasks)))
    labels = []
    for t in tasks:
        ok = [p for p in ("pre", "post") if (t, p) in by and by[(t, p)]["task_learned"]]
        note = ("" if len(ok) == 2 else " (not learned)" if not ok
                else f" (learned {'inside' if ok[0] == 'pre' else 'outside'} f only)")
        labels.append(t.removesuffix("-v0") + note)
    ax.set_yticklabels(labels, fontsize=7)
    ax.xaxis.tick_top()
    cbar = fig.colorbar(image, ax=ax, shrink=0.6)
    cbar.set_label("preferred σ / σ_train (seed mean)", fontsize=8)
    ax.set_title("+ / −: σ_train clearly better / worse than σ = 0", fontsize=8)
    return fig


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` produced.

    Attributes
    ----------
    rows : list of dict
        :func:`benchmark_rows`.
    table : str
        :func:`format_benchmark_table`.
    headline : dict
        :func:`headline`.
    excluded : dict of str to str
        Task id -> why it was left out.
    files : dict of str to str
        Name -> path of the files written (results, csv, curves_csv, table, figure).
    reports : list of RunReport
        What :func:`~.runner.run_grid` did, one per grid.
    elapsed : float
        Wall time in seconds.
    """

    rows: list
    table: str
    headline: dict
    excluded: dict
    files: dict = field(default_factory=dict)
    reports: list = field(default_factory=list)
    elapsed: float = 0.0


def _settings_for(settings, included):
    if settings.tasks is None:
        return settings, included
    unknown = [t for t in settings.tasks if t not in included]
    if unknown:
        raise ValueError(f"tasks: {unknown} are not among the benchmark's tasks "
                         f"(included: {sorted(included)})")
    return settings, {t: included[t] for t in settings.tasks}


def _chance_levels(path, tasks, write=True):
    """Chance levels of ``tasks`` (id -> dt in ms): those stored in ``path`` (JSON, for the
    same dt) and :func:`chance_level` for the others, stored back (atomically) if ``write``."""
    import json

    stored = {}
    if os.path.isfile(path):
        with open(path) as f:
            stored = json.load(f)
    out, changed = {}, False
    for task, dt in sorted(tasks.items()):
        entry = stored.get(task)
        if not (isinstance(entry, dict) and entry.get("dt_ms") == dt and "chance" in entry):
            entry = {**chance_level(task, dt), "dt_ms": dt}
            stored[task] = entry
            changed = True
        out[task] = entry
    if changed and write:
        with atomic_write(path, suffix=".json", name="out_dir") as f:
            f.write(json.dumps(stored, indent=1, sort_keys=True).encode())
    return out


@keeps_random_state
def run_benchmark(out_dir: str | os.PathLike, settings: BenchmarkSettings = FULL, *,
                  workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, log: Callable[[str], Any] = print,
                  figure: bool = True, run: bool = True) -> BenchmarkResult:
    """Run the NeuroGym benchmark into ``out_dir`` (resumable) and write its report.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for ``results.sqlite`` (+ ``results_specs/``), ``benchmark.csv`` (one row per
        task and placement), ``curves.csv`` (one row per network and test sigma),
        ``table.md``, ``heatmap.png`` and ``chance.json`` (the chance levels used, reused by
        later reports); rerunning into it resumes.
    settings : BenchmarkSettings
        The protocol (:data:`FULL` or :data:`QUICK`, or a variant).
    workers : int >= 1 or None
        Local worker processes (None: all CPUs; 1: this process).
    scheduler : str or None
        Address of a Dask scheduler (instead of local processes).
    progress : bool
        Show progress bars.
    log : callable(str)
        Receives the report's lines.
    figure : bool
        Write the heatmap.
    run : bool
        False: write the report from what the store holds, without running anything.

    Returns
    -------
    BenchmarkResult
        Rows, table, headline, exclusions, files and run reports.

    Raises
    ------
    ValueError
        For a task in ``settings.tasks`` that the benchmark does not run (before any work).
    FileNotFoundError
        With ``run=False``, if ``out_dir`` holds no results database.
    RuntimeError
        If the store holds no finished cell of the benchmark.
    """
    t0 = time.perf_counter()
    out_dir = os.path.abspath(os.fspath(out_dir))
    files = {"results": os.path.join(out_dir, "results.sqlite"),
             "csv": os.path.join(out_dir, "benchmark.csv"),
             "curves_csv": os.path.join(out_dir, "curves.csv"),
             "table": os.path.join(out_dir, "table.md"),
             "figure": os.path.join(out_dir, "heatmap.png"),
             "chance": os.path.join(out_dir, "chance.json")}
    for path in files.values():
        check_writable(path, "out_dir")
    if not run and not os.path.isfile(files["results"]):
        raise FileNotFoundError(f"out_dir: no results database {files['results']!r} to report on")
    included, excluded = select_tasks(max_dt_ms=settings.max_dt_ms)
    settings, included = _settings_for(settings, included)
    grids = benchmark_grids(settings, included)
    os.makedirs(out_dir, exist_ok=True)
    reports = []
    if run:
        for grid in grids:
            reports.append(run_grid(grid, files["results"], workers=workers,
                                    scheduler=scheduler, progress=progress))
    keys = [c.key for g in grids for c in g.cells()]
    with ResultStore(files["results"], readonly=not run) as store:
        curves = store.curves(keys)
        if not curves:
            raise RuntimeError(f"no cell of the benchmark is recorded in {files['results']}")
        if run:
            store.export_csv(files["curves_csv"], keys, name="out_dir")
    chance = _chance_levels(files["chance"], {t: included[t] for t in {c.task for c in curves}},
                            write=run or os.access(out_dir, os.W_OK))
    rows = benchmark_rows(curves, chance)
    table = format_benchmark_table(rows)
    head = headline(rows)
    with atomic_write(files["csv"], suffix=".csv", name="out_dir") as f:
        f.write(rows_to_csv(rows).encode())
    with atomic_write(files["table"], suffix=".md", name="out_dir") as f:
        f.write((table + "\n\n" + format_headline(head) + "\n").encode())
    if figure:
        from ..plotting import save_figure

        save_figure(plot_benchmark_heatmap(rows), files["figure"], close=True)
    else:
        files.pop("figure")
    if not run:
        files.pop("curves_csv")
    for line in (table, "", format_headline(head)):
        log(line)
    failed = sum(len(r.failed) for r in reports)
    if failed:
        log(f"{failed} cells failed (see above); rerun to retry them")
    return BenchmarkResult(rows=rows, table=table, headline=head, excluded=excluded,
                           files=files, reports=reports, elapsed=time.perf_counter() - t0)
