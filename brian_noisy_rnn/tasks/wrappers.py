"""Which NeuroGym wrappers the trial-batch path honours, and which need closed-loop play.

NeuroGym has two kinds of wrappers:

- *trial-level* wrappers (``neurogym.core.TrialWrapper``: ``ScheduleEnvs``, ``ScheduleAttr``,
  ``RandomGroundTruth``, ``SideBias``, ``TrialHistoryV2``) act in ``new_trial()``. The batch
  path (:func:`~brian_noisy_rnn.tasks.batch`) calls the top-level ``new_trial()``, so it
  honours them.
- *step-level* wrappers (gymnasium ``Wrapper`` s that are not ``TrialWrapper`` s:
  ``PassAction``, ``PassReward``, ``ReactionTime``, ``Noise``, ``Monitor``, a user's own
  ``ObservationWrapper`` ...) act only when the environment is stepped. A batch of whole
  trials never steps the environment, so :func:`check_batchable` refuses them and points to
  :func:`brian_noisy_rnn.evaluation.closed_loop`, which steps the real environments.

gymnasium's bookkeeping wrappers (``OrderEnforcing``, ``PassiveEnvChecker``) change neither
observations nor trials and are accepted everywhere.
"""

from __future__ import annotations

import gymnasium as gym
from neurogym.core import TrialEnv, TrialWrapper

__all__ = ["BOOKKEEPING_WRAPPERS", "check_batchable", "step_level_wrappers", "strip_bookkeeping"]

#: gymnasium wrappers that change nothing a task's trials or observations depend on
BOOKKEEPING_WRAPPERS = ("OrderEnforcing", "PassiveEnvChecker")


def _is_bookkeeping(obj):
    return type(obj).__name__ in BOOKKEEPING_WRAPPERS and type(obj).__module__.startswith("gymnasium")


def strip_bookkeeping(env):
    """``env`` without its outer gymnasium bookkeeping wrappers (``OrderEnforcing``, ...).

    Parameters
    ----------
    env : gymnasium.Env
        E.g. what ``neurogym.make`` returns.

    Returns
    -------
    gymnasium.Env
        The first object of the wrapper chain, from the outside, that is not a bookkeeping
        wrapper.
    """
    while _is_bookkeeping(env):
        env = env.env
    return env


def step_level_wrappers(env):
    """Names of the step-level wrappers in ``env``'s wrapper chain, outermost first.

    Looks through every wrapper between ``env`` and its ``TrialEnv``, and through the
    sub-environments of scheduling wrappers (``ScheduleEnvs.envs``).

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.

    Returns
    -------
    list of str
        Class names, e.g. ``["PassAction"]``; empty when the batch path can honour ``env``.
    """
    found = []
    obj = env
    while not isinstance(obj, TrialEnv):
        if not isinstance(obj, gym.Wrapper):
            break
        if not isinstance(obj, TrialWrapper) and not _is_bookkeeping(obj):
            found.append(type(obj).__name__)
        for child in vars(obj).get("envs", ()) or ():
            found.extend(step_level_wrappers(child))
        obj = obj.env
    return found


def check_batchable(env, name="env"):
    """Raise ValueError if ``env`` has a step-level wrapper the batch path cannot honour.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.
    name : str
        The argument name used in the message.

    Raises
    ------
    ValueError
        Naming the wrapper(s) and saying to use closed-loop evaluation.
    """
    found = step_level_wrappers(env)
    if found:
        raise ValueError(
            f"{name} is wrapped in {', '.join(found)}, a step-level NeuroGym wrapper that acts only "
            f"when the environment is stepped; whole-trial batches (tasks.batch, train, evaluate, "
            f"noise_preference) cannot honour it. Evaluate it step by step with "
            f"brian_noisy_rnn.evaluation.closed_loop(spec, {name}, ...), or remove the wrapper")
