"""Yang19Multitask-v0: NeuroGym's Yang et al. (2019) 20-task suite as one TrialEnv with rule inputs."""

from __future__ import annotations

import numpy as np
from neurogym.envs.collections import get_collection
from neurogym.envs.collections import yang19 as _yang19
from neurogym.utils import spaces

from ._base import TaskEnv, as_dt_ms, seed_trials

#: The 20 task names in Yang et al.'s (and NeuroGym's) order; rule input i <-> YANG19_TASKS[i].
YANG19_TASKS = tuple(name.split(".", 1)[1].rsplit("-v", 1)[0] for name in get_collection("yang19"))


class Yang19Multitask(TaskEnv):
    """The cognitive multi-task suite of Yang et al. (2019), one network, rule inputs.

    Built from NeuroGym's own collection ``neurogym.envs.collections.yang19`` (the ids
    ``yang19.<task>-v0``): one sub-environment per task (``go, rtgo, dlygo, anti, rtanti,
    dlyanti, dm1, dm2, ctxdm1, ctxdm2, multidm, dlydm1, dlydm2, ctxdlydm1, ctxdlydm2,
    multidlydm, dms, dnms, dmc, dnmc``), all sharing a 16-direction ring. Each ``new_trial()``
    picks a task uniformly with ``self.rng`` (or ``new_trial(task=name)``), generates that task's
    trial and appends a one-hot rule input held on every step. NeuroGym's ``ScheduleEnvs(...,
    env_input=True)`` does the same concatenation but, being a wrapper whose ``unwrapped`` changes
    with the current task, cannot be seeded through ``env.unwrapped.seed``; this class can.

    Inputs (n_in = 33 + n_tasks = 53): fixation (1), stimulus modality 1 (16), modality 2 (16),
    rule one-hot (n_tasks). Stimulus inputs carry NeuroGym's input noise.
    Targets (classification, n_out = 17): 0 = fixate, 1..16 = choose ring direction.
    Timing: each task's NeuroGym timing (variable; at dt = 20 ms trials last 31-160 steps).
    Masks: loss on every step (NeuroGym's cross-entropy training); metric over each task's
    ``decision`` period (``decision_mask``). ``trial["task"]``/``trial["task_index"]`` name the task.
    Metric: classification accuracy.

    Parameters
    ----------
    dt : float (ms) or Brian2 time quantity
        The time step (default 20 ms).
    tasks : sequence of str, optional
        Subset of :data:`YANG19_TASKS` (in the given order, which sets the rule indices).
    env_kwargs : dict, optional
        Extra keyword arguments for every sub-task (e.g. ``{"dim_ring": 8}``).
    """

    task_kind = "classification"
    metadata = {  # noqa: RUF012
        "description": "Yang et al. (2019) 20 cognitive tasks with rule inputs (NeuroGym collection).",
        "paper_name": "Task representations in neural networks trained to perform many cognitive tasks",
        "paper_link": "https://www.nature.com/articles/s41593-018-0310-2",
        "tags": ["supervised", "multitask", "perceptual", "working memory"],
        "render_modes": [],
        "metric": "accuracy",
    }

    def __init__(self, dt=20, tasks=None, env_kwargs=None):
        dt = as_dt_ms(dt)
        super().__init__(dt=dt)
        tasks = YANG19_TASKS if tasks is None else tuple(tasks)
        unknown = [t for t in tasks if t not in YANG19_TASKS]
        if not tasks or unknown or len(set(tasks)) != len(tasks):
            raise ValueError(f"tasks must be distinct names among {list(YANG19_TASKS)}, got {list(tasks)}")
        self.tasks = tasks
        env_kwargs = dict(env_kwargs or {})
        self.subtasks = [getattr(_yang19, name)(dt=dt, **env_kwargs) for name in tasks]
        n_obs = {s.observation_space.shape for s in self.subtasks}
        n_act = {s.action_space.n for s in self.subtasks}
        if len(n_obs) != 1 or len(n_act) != 1:
            raise ValueError(f"yang19 sub-tasks have inconsistent spaces: observations {n_obs}, actions {n_act}")
        (n_stim,), n_actions = n_obs.pop(), n_act.pop()
        n_rule = len(tasks)
        self.timing = {name: s.unwrapped.timing for name, s in zip(tasks, self.subtasks)}
        name = dict(self.subtasks[0].observation_space.name)
        name["rule"] = list(range(n_stim, n_stim + n_rule))
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(n_stim + n_rule,), dtype=np.float32, name=name)
        self.action_space = spaces.Discrete(n_actions, name={"fixation": 0, "choice": list(range(1, n_actions))})

    def seed(self, seed=None):
        """Seed task choice and every sub-task (sub-task i gets a seed derived from (seed, i)).

        Parameters
        ----------
        seed : int or None
            The seed (None: unseeded).

        Returns
        -------
        list
            ``[seed]``, as gymnasium's ``seed`` convention.
        """
        super().seed(seed)
        for i, sub in enumerate(self.subtasks):
            sub_seed = None if seed is None else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
            seed_trials(sub, sub_seed)
        return [seed]

    def _new_trial(self, **kwargs):
        kwargs = dict(kwargs)
        task = kwargs.pop("task", None)
        i = int(self.rng.randint(len(self.tasks))) if task is None else self.tasks.index(task)
        sub = self.subtasks[i]
        sub_trial = sub.new_trial(**kwargs)
        core = sub.unwrapped  # the sub-task's current TrialEnv (after the wrappers' new_trial)
        ob, gt = np.asarray(core.ob), np.asarray(core.gt)
        T = ob.shape[0]
        for d in (self.start_ind, self.end_ind, self.start_t, self.end_t):
            d.clear()
        self.start_ind.update(core.start_ind)
        self.end_ind.update(core.end_ind)
        self.start_t.update(core.start_t)
        self.end_t.update(core.end_t)
        self._tmax = self.tmax = T * self.dt
        self.ob = np.zeros((T, self.observation_space.shape[0]), dtype=np.float32)
        self.ob[:, : ob.shape[1]] = ob
        self.ob[:, ob.shape[1] + i] = 1.0
        self.gt = gt.astype(np.int64)
        self._ob_built = self._gt_built = True
        self.loss_mask = np.ones(T, dtype=bool)
        self.decision_mask = np.zeros(T, dtype=bool)
        self.decision_mask[core.start_ind["decision"] : core.end_ind["decision"]] = True
        trial = {"task": self.tasks[i], "task_index": i, **sub_trial}
        return trial
