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
  One exception: NeuroGym's observation ``Noise`` wrapper (outside every trial-level
  wrapper) only adds N(0, ``std_noise``) to each observation, which a batch does to its
  inputs itself (:func:`observation_noise_std`), so batches, training and evaluation
  honour it.

gymnasium's bookkeeping wrappers (``OrderEnforcing``, ``PassiveEnvChecker``) change neither
observations nor trials and are accepted everywhere.
"""

from __future__ import annotations

import gymnasium as gym
from neurogym.core import TrialEnv, TrialWrapper

__all__ = ["BOOKKEEPING_WRAPPERS", "check_batchable", "is_bookkeeping", "observation_noise_std",
           "step_level_wrappers", "strip_bookkeeping", "trial_generator"]

#: gymnasium wrappers that change nothing a task's trials or observations depend on
BOOKKEEPING_WRAPPERS = ("OrderEnforcing", "PassiveEnvChecker")


def is_bookkeeping(obj):
    """True if ``obj`` is one of gymnasium's :data:`BOOKKEEPING_WRAPPERS`."""
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
    while is_bookkeeping(env):
        env = env.env
    return env


def _is_observation_noise(obj):
    from neurogym.wrappers import Noise as ObservationNoise

    return type(obj) is ObservationNoise


def observation_noise_std(env):
    """The standard deviation of the observation noise that ``env``'s NeuroGym ``Noise``
    wrappers add to every observation (0.0 without one).

    Only the wrappers outside the trial generator count (:func:`trial_generator`); nested
    ``Noise`` wrappers add independent noise, so their standard deviations add in
    quadrature.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.

    Returns
    -------
    float
        >= 0, in the units of the observations.
    """
    variance, obj = 0.0, env
    while isinstance(obj, gym.Wrapper) and not isinstance(obj, TrialWrapper):
        if _is_observation_noise(obj):
            variance += float(obj.std_noise) ** 2
        obj = obj.env
    return variance ** 0.5


def trial_generator(env):
    """The object whose ``new_trial()`` makes ``env``'s trials.

    The outermost NeuroGym ``TrialWrapper`` of ``env``'s wrapper chain (e.g. a
    ``ScheduleEnvs``), else the TrialEnv's own top-level generator (``unwrapped._top``).
    Read from the chain, not from ``env.unwrapped._top`` alone: for a ``ScheduleEnvs`` of
    NeuroGym collections (themselves ``ScheduleEnvs``) ``unwrapped`` is the current
    sub-task, whose ``_top`` is the inner collection once the outer one has switched.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.

    Returns
    -------
    TrialEnv or neurogym.core.TrialWrapper
    """
    obj = env
    while isinstance(obj, gym.Wrapper) and not isinstance(obj, TrialWrapper):
        obj = obj.env
    if isinstance(obj, TrialWrapper):
        return obj
    return env.unwrapped._top  # noqa: SLF001  (NeuroGym's top-level trial generator)


def step_level_wrappers(env, *, batchable=False):
    """Names of the step-level wrappers in ``env``'s wrapper chain, outermost first.

    Looks through every wrapper between ``env`` and its ``TrialEnv``, and through the
    sub-environments of scheduling wrappers (``ScheduleEnvs.envs``).

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.

    batchable : bool
        Leave out the wrappers a batch honours (observation ``Noise`` outside every
        trial-level wrapper, see :func:`observation_noise_std`).

    Returns
    -------
    list of str
        Class names, e.g. ``["PassAction"]``.
    """
    found = []
    obj = env
    outside = True  # outside every trial-level wrapper
    while not isinstance(obj, TrialEnv):
        if not isinstance(obj, gym.Wrapper):
            break
        outside = outside and not isinstance(obj, TrialWrapper)
        honoured = batchable and outside and _is_observation_noise(obj)
        if not isinstance(obj, TrialWrapper) and not is_bookkeeping(obj) and not honoured:
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
    found = step_level_wrappers(env, batchable=True)
    if found:
        raise ValueError(
            f"{name} is wrapped in {', '.join(found)}, a step-level NeuroGym wrapper that acts only "
            f"when the environment is stepped; whole-trial batches (tasks.batch, train, evaluate, "
            f"noise_preference) cannot honour it (they honour only the observation Noise "
            f"wrapper). Evaluate it step by step with "
            f"brian_noisy_rnn.evaluation.closed_loop(spec, {name}, ...), or remove the wrapper")
