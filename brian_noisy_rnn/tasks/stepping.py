"""B copies of a NeuroGym env, each at the start of its own trial, stepped together.

:class:`SteppedTrials` is the environment side of closed-loop evaluation
(:func:`brian_noisy_rnn.evaluation.closed_loop`): copy b of ``env`` plays trial b of
``tasks.batch(env, n_trials, seed=seed)`` (before step-level wrappers act), and every action
goes through the whole wrapper chain, so ``PassAction``, ``ReactionTime``, ``Noise``, ... act
as in a NeuroGym run. See :mod:`brian_noisy_rnn.evaluation.closed_loop` for the conventions.
"""

from __future__ import annotations

import copy
import types

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv

from ._base import core_of, seed_trials
from .performance import actions_from_outputs
from .wrappers import trial_generator

__all__ = ["SteppedTrials", "copy_env"]


def _fixate(action_space):
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.start)
    return np.zeros(action_space.shape, dtype=action_space.dtype)


def _rebind(function, memo):
    """``function`` with the closure cells that held copied objects pointing to the copies."""
    cells = tuple(types.CellType(memo.get(id(c.cell_contents), c.cell_contents))
                  for c in function.__closure__)
    return types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, cells)


def _trial_envs(env):
    """Every TrialEnv reachable from ``env`` (through wrappers and scheduled sub-envs)."""
    found, todo = [], [env]
    while todo:
        obj = todo.pop()
        if isinstance(obj, TrialEnv):
            found.append(obj)
            continue
        state = vars(obj)
        todo.extend(state.get("envs", ()) or ())
        if "env" in state:
            todo.append(state["env"])
    return found


def copy_env(env):
    """A deep copy of a NeuroGym env whose timing functions use the copy's random state.

    ``copy.deepcopy`` shares functions: a timing entry such as ReadySetGo's
    ``lambda: self.rng.uniform(800, 1500)`` would still draw from the *original* env's ``rng``.
    Functions held in a TrialEnv's attributes (one level into dicts) are rebuilt with their
    closures pointing to the copied objects.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment to copy.

    Returns
    -------
    TrialEnv or gymnasium wrapper
        The copy (same type as ``env``).
    """
    memo = {}
    new = copy.deepcopy(env, memo)
    for core in _trial_envs(new):
        for name, value in vars(core).items():
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for key, item in list(items):
                if isinstance(item, types.FunctionType) and item.__closure__:
                    if key is None:
                        setattr(core, name, _rebind(item, memo))
                    else:
                        value[key] = _rebind(item, memo)
    return new


class SteppedTrials:
    """``n_trials`` copies of ``env``, each at the start of its own trial, stepped together.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment (any wrappers). Copied with :func:`copy_env`; ``env`` itself is
        never stepped.
    n_trials : int >= 1
        B, one trial per copy.
    seed : int in [0, 2**32)
        Copy b plays trial b of ``tasks.batch(env, n_trials, seed=seed)``.

    Attributes
    ----------
    envs : list
        The B environments.
    observations : float64 array (B, n_in)
        The observations the next actions respond to (0 for ended trials).
    performance : float64 array (B,)
        ``info["performance"]`` at each trial's end (NaN while running).
    reward : float64 array (B,)
        Summed rewards.
    lengths : int64 array (B,)
        Steps each trial lasted (0 while running).
    active : bool array (B,)
        Trials still running.
    n_steps : int
        Steps taken so far.
    max_steps : int
        Bound after which :meth:`advance` raises (twice the longest trial, plus 10).
    inputs : list of float64 arrays (B, n_in)
        The observations, one per step taken.
    outputs : list of float64 arrays (B, n_out)
        The network outputs, one per step taken.
    action_space : gymnasium.spaces.Space
        The env's action space.
    """

    def __init__(self, env, n_trials, seed):
        master = copy_env(env)  # the caller's env is left as it was
        master.reset()  # gymnasium's OrderEnforcing wants a reset before any step
        core_of(master)
        top = trial_generator(master)
        seed_trials(top, seed)
        self.action_space = env.action_space
        self.envs, first = [], []
        for _ in range(n_trials):
            copy_b = copy_env(master)
            top.new_trial()  # advance the master exactly as tasks.batch does
            first.append(self._prime(copy_b))
            self.envs.append(copy_b)
        sizes = {o.size for o in first}
        if len(sizes) != 1:
            raise ValueError(f"the trials of env have different observation sizes {sorted(sizes)}")
        self.observations = np.stack(first)
        self.lengths = np.zeros(n_trials, dtype=np.int64)
        self.performance = np.full(n_trials, np.nan)
        self.reward = np.zeros(n_trials)
        self.active = np.ones(n_trials, dtype=bool)
        self.max_steps = 2 * max(len(core_of(e).ob) for e in self.envs) + 10
        self.n_steps = 0
        self.inputs, self.outputs = [], []

    def _prime(self, env):
        """Step ``env`` once across a trial boundary: NeuroGym generates the next trial inside
        ``step`` and every wrapper transforms its first observation."""
        core = core_of(env)

        def boundary(_action):  # the step that ends the previous trial
            return None, 0.0, False, False, {"new_trial": True, "gt": None}

        def first_observation(ob, reward, terminated, truncated, info):
            # the new trial's first observation, from the env that generated it (a scheduled
            # collection may have switched sub-task)
            return core_of(env).ob[0], reward, terminated, truncated, info

        core._step, core.post_step = boundary, first_observation
        core.t, core.t_ind = core.dt, 1  # not at a trial start: ReactionTime waits for t_ind 0
        try:
            ob = env.step(_fixate(env.action_space))[0]
        finally:
            del core._step, core.post_step
        new = core_of(env)  # a scheduled collection may have switched to a sub-task whose
        new.t = new.t_ind = 0  # clock NeuroGym does not reset: the trial starts at step 0
        new.performance = 0
        return np.asarray(ob, dtype=np.float64).reshape(-1)

    @property
    def done(self):
        """True when every trial has ended."""
        return not self.active.any()

    def advance(self, outputs):
        """Act with ``outputs`` in every running env and collect the next observations.

        Parameters
        ----------
        outputs : float array (B, n_out)
            Logits (discrete action space: the action is the argmax) or actions.

        Raises
        ------
        RuntimeError
            If some trial has not ended after ``max_steps`` steps.
        """
        outputs = np.asarray(outputs, dtype=np.float64)
        self.inputs.append(self.observations.copy())
        self.outputs.append(outputs.copy())
        actions = actions_from_outputs(outputs, self.action_space)
        nxt = np.zeros_like(self.observations)
        for b in np.flatnonzero(self.active):
            action = actions[b] if actions.ndim == 1 else actions[b].reshape(self.action_space.shape)
            ob, reward, _, _, info = self.envs[b].step(action)
            self.reward[b] += reward
            if info.get("new_trial", False):
                self.performance[b] = float(info["performance"])
                self.lengths[b] = self.n_steps + 1
                self.active[b] = False
            else:
                nxt[b] = np.asarray(ob, dtype=np.float64).reshape(-1)
        self.observations = nxt
        self.n_steps += 1
        if not self.done and self.n_steps >= self.max_steps:
            raise RuntimeError(f"trials {np.flatnonzero(self.active).tolist()} did not end within "
                               f"{self.max_steps} steps")
