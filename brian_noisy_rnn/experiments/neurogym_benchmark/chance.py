"""Chance level and the "learned" rule: what stimulus-blind policies score through each task's
own ``step``, and when a network counts as having learned its task."""

from __future__ import annotations

import math

import numpy as np

from ...backends.random_state import keeps_random_state
from ..summary import CLEAR_SE

#: a network learned its task when its performance at the training sigma exceeds chance by
#: this fraction of the distance from chance to 1 (and by CLEAR_SE standard errors)
LEARNED_FRACTION = 0.2


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
    from ...tasks.performance import trial_performance

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
    from ... import tasks

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
