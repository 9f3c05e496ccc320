"""Chance level, the "learned" rule and the scorer check: what stimulus-blind policies score
through each task's own ``step`` (NeuroGym ``performance`` and decision-step accuracy), when a
network counts as having learned its task, and whether a task's ``performance`` agrees with
its decision-step accuracy (:func:`scorer_check`)."""

from __future__ import annotations

import math

import numpy as np

from ...backends.random_state import keeps_random_state
from ..summary import CLEAR_SE

__all__ = ["LEARNED_FRACTION", "SCORER_MARGIN", "chance_level", "is_learned", "scorer_check"]

#: the learning criterion: a network learned its task when its score at the training sigma
#: (decision-step accuracy; NeuroGym performance for continuous actions) exceeds chance by
#: this fraction of the distance from chance to the ceiling (and by CLEAR_SE standard errors)
LEARNED_FRACTION = 0.5
#: the scorer check flags a task when NeuroGym's performance and the decision-step accuracy
#: of the same played trials differ on average by more than this (and by CLEAR_SE SEs)
SCORER_MARGIN = 0.2


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
    answer is chance. The ground truth itself gives the ceiling. The same policies' best
    decision-step accuracy is the chance level of the learning criterion on choice tasks.

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
        performance), ``n_choices`` (int, actions of a discrete space, else 0) and
        ``accuracy_chance`` (float, the best decision-step accuracy of the same policies;
        NaN for continuous actions).
    """
    from ... import tasks

    b = tasks.batch(tasks.make(task, dt=dt_ms), n_trials, seed=seed)
    oracle, candidates = _policy_outputs(b)
    best = ("", float("nan"))
    accuracy = float("nan")
    for name, outputs in candidates.items():
        value = _mean_performance(outputs, b)
        if math.isfinite(value) and not value <= best[1]:
            best = (name, value)
        if b.kind == "classification":
            accuracy = np.nanmax([accuracy, _mean_accuracy(outputs, b)])
    return {"chance": best[1], "policy": best[0], "ceiling": _mean_performance(oracle, b),
            "n_choices": int(b.n_out) if b.kind == "classification" else 0,
            "accuracy_chance": float(accuracy)}


def _mean_accuracy(outputs, b):
    from ...tasks.metrics import task_metrics

    return float(task_metrics(outputs, b)["accuracy"])


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


def _random_answers(b, rng):
    """Outputs answering at random on every decision step (uniform over the answers 1..n-1;
    the ground truth elsewhere)."""
    answers = rng.integers(1, b.n_out, size=b.targets.shape) if b.n_out > 1 else b.targets
    return _one_hot(np.where(b.decision_mask, answers, b.targets), b.n_out)


@keeps_random_state
def scorer_check(env, n_trials: int = 300, seed: int = 0) -> dict:
    """Does a task's NeuroGym ``performance`` agree with its decision-step accuracy?

    Two policies are played through the task's own ``step``
    (:func:`~brian_noisy_rnn.tasks.performance.trial_performance`) on the same ``n_trials``
    trials: the ground truth, and a policy answering at random on every decision step
    (uniformly among the non-fixation answers; the ground truth elsewhere). For each, the
    per-trial difference performance - decision-step accuracy (the fraction of decision steps
    whose answer is right, :func:`~brian_noisy_rnn.tasks.metrics.per_trial_metrics`) is
    averaged. A task is *flagged* when, for either policy, the mean difference exceeds
    :data:`SCORER_MARGIN` in size and :data:`~..summary.CLEAR_SE` standard errors: its
    ``performance`` then measures something else than its decision steps (e.g.
    DualDelayMatchSample, whose ``_step`` sets performance to 1 on any correct step and never
    resets it: random answers score nearly 1). An honest scorer of a task that judges the
    first answer gives the random policy about its accuracy (1 / number of answers).

    Parameters
    ----------
    env : str or TrialEnv
        A task id (made at its default dt) or an env (e.g. ``tasks.make(id, dt=20)``, or any
        ``neurogym.core.TrialEnv``).
    n_trials : int >= 1
        Trials to play.
    seed : int
        Seed of the trials and of the random answers.

    Returns
    -------
    dict
        ``checked`` (bool; False for continuous actions, which have no decision-step
        accuracy), ``flagged`` (bool), ``reason`` (str, empty unless flagged), and per
        policy ``oracle`` / ``random``: ``performance``, ``accuracy``, ``diff``,
        ``diff_sem`` (floats, means over trials).
    """
    from ... import tasks
    from ...core.validation import check_int
    from ...tasks.metrics import per_trial_metrics
    from ...tasks.performance import trial_performance
    from ...evaluation.scoring import finite_mean_sem

    n_trials = check_int(n_trials, "n_trials", 1)
    b = tasks.batch(tasks.make(env) if isinstance(env, str) else env, n_trials, seed=seed)
    out = {"checked": b.kind == "classification" and bool(b.env_states), "flagged": False,
           "reason": ""}
    if not out["checked"]:
        return out
    policies = {"oracle": _one_hot(b.targets, b.n_out),
                "random": _random_answers(b, np.random.default_rng(seed))}
    for name, outputs in policies.items():
        perf = trial_performance(outputs, b.env_states, b.lengths, b.action_space)
        acc = per_trial_metrics(outputs, b)["accuracy"]
        diff, sem = finite_mean_sem(perf - acc)
        out[name] = {"performance": float(np.nanmean(perf)), "accuracy": float(np.nanmean(acc)),
                     "diff": float(diff), "diff_sem": float(sem)}
        if (math.isfinite(diff) and abs(diff) > SCORER_MARGIN
                and not (math.isfinite(sem) and abs(diff) <= CLEAR_SE * sem)):
            out["flagged"] = True
            out["reason"] = out["reason"] or (
                f"{'ground truth' if name == 'oracle' else 'random answers'}: performance "
                f"{out[name]['performance']:.2f} vs decision-step accuracy "
                f"{out[name]['accuracy']:.2f}")
    return out
