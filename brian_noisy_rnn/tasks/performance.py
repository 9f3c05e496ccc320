"""NeuroGym's own ``performance`` of network outputs on a batch of whole trials.

NeuroGym scores a trial by stepping the environment: ``env.step(action)`` returns
``info["performance"]`` at the end of each trial (1 for a correct trial on most tasks; what
counts as correct is the task's own ``_step``: e.g. ``ReadySetGo`` accepts a production
anywhere inside a window of ``prod_margin * production + 25`` ms, ``PerceptualDecisionMaking``
the first non-fixation action of the decision period). A trial also ends early when the
task says so (e.g. at the first response).

This module reproduces that number for the trials of a :class:`~brian_noisy_rnn.tasks.TaskBatch`
without a gym loop over fresh environments: :func:`~brian_noisy_rnn.tasks.batch` keeps a
snapshot of the environment right after each ``new_trial()`` (:class:`TrialState`), and
:func:`trial_performance` restores it, steps the task's own ``step`` with the network's
actions (argmax of the logits for discrete action spaces, the outputs for continuous ones)
until the trial ends, and reads ``info["performance"]``. The environment is left as found.

This differs from :mod:`~brian_noisy_rnn.tasks.metrics`' ``accuracy`` (the fraction of scored
steps whose argmax equals the ground truth) wherever a task's rule is not "every decision
step right": on ReadySetGo a network that goes one step late has accuracy 0 and performance 1.
Step-level wrappers (``ReactionTime``, ``PassAction``, ...) never reach a batch (it refuses
them); use :func:`brian_noisy_rnn.evaluation.closed_loop` for those.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

__all__ = ["TrialState", "actions_from_outputs", "snapshot", "trial_performance"]

#: attributes of a TrialEnv that are not per-trial state (kept as they are during a replay)
_NOT_TRIAL_STATE = frozenset({"_top", "rng", "observation_space", "action_space", "_np_random"})


@dataclass(frozen=True, eq=False)
class TrialState:
    """A TrialEnv as it was right after one ``new_trial()``: enough to step that trial again.

    Attributes
    ----------
    env : neurogym.core.TrialEnv
        The environment that generated the trial (for collections, the scheduled sub-task).
    attributes : dict
        Copies of its per-trial attributes (``ob``, ``gt``, ``trial``, ``start_t``, ...).
    rng_state : tuple
        ``env.rng.get_state()`` at that moment (tasks whose ``_step`` draws random numbers
        then draw the same ones).
    """

    env: object
    attributes: dict
    rng_state: tuple


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (dict, list, set)):
        return type(value)(value)
    return value


def snapshot(env):
    """The per-trial state of TrialEnv ``env`` now (call right after ``new_trial()``).

    Parameters
    ----------
    env : neurogym.core.TrialEnv
        The environment, right after its ``new_trial()``.

    Returns
    -------
    TrialState
        Copies of its per-trial attributes and its random state.
    """
    attributes = {k: _copy(v) for k, v in vars(env).items() if k not in _NOT_TRIAL_STATE}
    return TrialState(env, attributes, env.rng.get_state())


class _NoNextTrial:
    """Stands in for ``env._top`` during a replay: the trial's end generates no new trial."""

    @staticmethod
    def new_trial(**kwargs):
        return None


def actions_from_outputs(outputs, action_space):
    """Network outputs as actions of ``action_space``.

    Parameters
    ----------
    outputs : float array (..., n_out)
        Logits (discrete action space) or action values (continuous).
    action_space : gymnasium.spaces.Space
        The task's action space.

    Returns
    -------
    int64 array (...) or float64 array (..., n_out)
        ``argmax(outputs)`` (plus the space's ``start``) for a ``Discrete`` space, else the
        outputs themselves.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if isinstance(action_space, gym.spaces.Discrete):
        return outputs.argmax(axis=-1) + int(action_space.start)
    return outputs


def _replay(state, actions):
    """Step ``state``'s trial with ``actions`` (L, ...) until it ends; its performance."""
    env = state.env
    saved, saved_rng = dict(vars(env)), env.rng.get_state()
    try:
        vars(env).update({k: _copy(v) for k, v in state.attributes.items()})
        env.rng.set_state(state.rng_state)
        env.t = env.t_ind = 0
        env.performance = 0
        env._top = _NoNextTrial()  # noqa: SLF001
        for action in actions:
            info = env.step(action)[4]
            if info.get("new_trial", False):
                return float(info["performance"])
        return float("nan")  # the task did not end its trial within the given steps
    finally:
        vars(env).clear()
        vars(env).update(saved)
        env.rng.set_state(saved_rng)


def trial_performance(outputs, states, lengths, action_space):
    """NeuroGym's ``performance`` of each trial, given the network outputs.

    Parameters
    ----------
    outputs : float array (T, B, n_out)
        Network outputs, time-major (logits for discrete action spaces).
    states : sequence of B :class:`TrialState`
        The trials' snapshots (``TaskBatch.env_states``).
    lengths : int array (B,)
        Number of valid steps of each trial.
    action_space : gymnasium.spaces.Space
        The task's action space (actions: :func:`actions_from_outputs`).

    Returns
    -------
    float64 array (B,)
        ``info["performance"]`` at the end of each trial, as NeuroGym's ``env.step`` reports it
        when the trial is played with these actions (NaN if a trial does not end within its
        length, which no NeuroGym task does).
    """
    actions = actions_from_outputs(outputs, action_space)
    out = np.full(len(states), np.nan)
    for b, state in enumerate(states):
        out[b] = _replay(state, actions[: int(lengths[b]), b])
    return out
