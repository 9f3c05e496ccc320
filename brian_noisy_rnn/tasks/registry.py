"""Task ids: this package's tasks and every registered NeuroGym task behind one ``make``."""

from __future__ import annotations

import difflib
import warnings
import weakref
from typing import TYPE_CHECKING

from ._base import as_dt_ms, check_timing, core_of
from .wrappers import step_level_wrappers, strip_bookkeeping
from .function_approximation import FunctionApproximation
from .maze_navigation import ClosedLoopMazeNavigation, MazeNavigation
from .multitask import Yang19Multitask
from .path_integration import PathIntegration2D
from .single_neuron_regulator import SingleNeuronRegulator

if TYPE_CHECKING:
    from brian2 import Quantity
    from neurogym.core import TrialEnv

#: this package's task ids -> TrialEnv classes (consulted before NeuroGym's registry)
TASKS = {
    "FunctionApproximation-v0": FunctionApproximation,
    "MazeNavigation-v0": MazeNavigation,
    "MazeNavigationClosedLoop-v0": ClosedLoopMazeNavigation,
    "PathIntegration2D-v0": PathIntegration2D,
    "SingleNeuronRegulator-v0": SingleNeuronRegulator,
    "Yang19Multitask-v0": Yang19Multitask,
}


def _register_with_gymnasium():
    """Also register our ids with gymnasium, so ``neurogym.make(id)`` finds them (skips taken ids)."""
    from neurogym.envs.registration import register

    for task_id, cls in TASKS.items():
        register(id_=task_id, entry_point=f"{cls.__module__}:{cls.__name__}")


_register_with_gymnasium()


def _neurogym_ids():
    from neurogym.envs.registration import all_envs

    return [i for i in all_envs(collections=True) if i not in TASKS]


def list_tasks() -> list[str]:
    """All task ids accepted by :func:`make`: this package's (sorted) first, then NeuroGym's (sorted).

    Returns
    -------
    list of str
        The task ids.
    """
    return sorted(TASKS) + _neurogym_ids()


#: (id, keywords) of every environment returned by :func:`make`
_MADE = weakref.WeakKeyDictionary()


def _recorded(env, task_id, kwargs):
    _MADE[env] = (task_id, dict(kwargs))
    return env


def made_with(env):
    """The id and keywords :func:`make` built ``env`` with, or None if it did not build it.

    Parameters
    ----------
    env : gymnasium.Env
        An environment (not unwrapped: the object :func:`make` returned).

    Returns
    -------
    (str, dict) or None
    """
    try:
        return _MADE.get(env)
    except TypeError:  # not hashable, or not weakly referable
        return None


def make(name: str, dt: float | Quantity | None = None, **kwargs) -> TrialEnv:
    """Create a task by id with time step ``dt``.

    Parameters
    ----------
    name : str
        A task id from :func:`list_tasks`, e.g. ``"FunctionApproximation-v0"`` or
        ``"PerceptualDecisionMaking-v0"`` (any NeuroGym id, including collections such as
        ``"yang19.go-v0"``).
    dt : float, Brian2 time quantity or None
        Time step in ms (NeuroGym's unit) or a quantity such as ``20*ms``; must be > 0.
        None (default): the task's own default, as ``neurogym.make(name)`` (e.g. 100 ms for
        ``PerceptualDecisionMaking-v0``, 80 ms for ``ReadySetGo-v0``; 20 ms for this
        package's tasks).
    **kwargs : dict
        Passed to the task constructor (e.g. ``timing={...}``).

    Returns
    -------
    neurogym.core.TrialEnv or neurogym.core.TrialWrapper
        The object whose ``new_trial()`` generates the task's trials: a bare ``TrialEnv`` for
        our tasks and ordinary NeuroGym tasks (gymnasium's ``OrderEnforcing`` wrapper of
        ``neurogym.make`` is dropped); for NeuroGym collections built from ``TrialWrapper``s
        (e.g. ``yang19.go-v0``, a ``ScheduleEnvs``) that wrapper; for collections built with a
        step-level wrapper (e.g. ``perceptualdecisionmaking.roitman02-v0``, a
        ``ReactionTime``) the outermost such wrapper, so that it is not silently lost:
        :func:`batch` refuses it and :func:`~brian_noisy_rnn.evaluation.closed_loop` honours
        it. ``.unwrapped`` is always the (current) TrialEnv holding ``ob``, ``gt`` and ``seed``.

    Raises
    ------
    TypeError
        If ``name`` is not a string, or ``dt`` neither a number nor a time quantity.
    ValueError
        If ``name`` is unknown (the message lists the closest ids) or ``dt`` <= 0.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a task id string, got {name!r}")
    if dt is not None:
        kwargs["dt"] = as_dt_ms(dt, "dt")
    if name in TASKS:
        return _recorded(TASKS[name](**kwargs), name, kwargs)
    ids = list_tasks()
    if name not in ids:
        lower = {i.lower(): i for i in ids}
        close = [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower), n=5, cutoff=0.5)]
        hint = f"closest ids: {close}" if close else "see brian_noisy_rnn.tasks.list_tasks()"
        raise ValueError(f"unknown task name {name!r}; {hint}")
    import neurogym as ngym

    def build(**kw):
        with warnings.catch_warnings():  # NeuroGym's metadata lacks gymnasium's render_modes
            warnings.filterwarnings("ignore", message=".*render_modes.*")
            return ngym.make(name, **kw)

    if "timing" in kwargs:  # NeuroGym adds unknown periods silently: refuse them, as ours do
        check_timing(kwargs["timing"])
        default = getattr(build(**{k: v for k, v in kwargs.items() if k != "timing"}).unwrapped,
                          "timing", None)
        if isinstance(default, dict):
            check_timing(kwargs["timing"], known=default)
    env = build(**kwargs)
    outer = strip_bookkeeping(env)
    if not step_level_wrappers(outer):
        outer = env.unwrapped._top  # noqa: SLF001  (NeuroGym's top-level trial generator)
    return _recorded(outer, name, kwargs)


def task_name(env: TrialEnv) -> str:
    """A readable id of a task: its registered id, our id for our classes, or its class name.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper
        A task, e.g. from :func:`make`.

    Returns
    -------
    str
        The id, e.g. ``"PerceptualDecisionMaking-v0"``.
    """
    core = getattr(env, "unwrapped", env)
    for obj in (env, core):
        spec = getattr(obj, "spec", None)
        if spec is not None and getattr(spec, "id", None):
            return spec.id
    for task_id, cls in TASKS.items():
        if type(core) is cls:
            return task_id
    return type(core).__name__


def as_task(env, dt=None, name="env"):
    """The task ``env`` names (made with ``dt``), or ``env`` itself after checking it.

    The one way the package's functions that take a task accept it (training, evaluation,
    noise-preference curves, plots).

    Parameters
    ----------
    env : str or TrialEnv
        A task id (see :func:`list_tasks`), or a NeuroGym ``TrialEnv`` or a wrapper of one,
        returned unchanged.
    dt : float, Brian2 time quantity or None
        Time step (ms, or a quantity) of a task made from an id; None: the task's own
        default (as :func:`make`).
    name : str
        The argument named in error messages.

    Returns
    -------
    TrialEnv or gymnasium wrapper of one

    Raises
    ------
    TypeError
        If ``env`` is neither a task id nor a (wrapped) TrialEnv; the message names ``name``.
    ValueError
        If the task id is unknown.
    """
    if isinstance(env, str):
        return make(env, dt=dt)
    core_of(env, name)
    return env


def sample_task(env, name="env"):
    """The task as an object with ``samples(n, seed) -> (x (n, n_in), y (n, n_out))``.

    Parameters
    ----------
    env : str or TrialEnv
        A task id (e.g. ``"FunctionApproximation-v0"``) or a task object with a ``samples``
        method (e.g. ``tasks.make("FunctionApproximation-v0", function=np.cos)``).
    name : str
        The argument named in error messages.

    Returns
    -------
    object
        The task (its unwrapped TrialEnv).

    Raises
    ------
    TypeError
        If the task has no ``samples`` method (it has no input-target pairs without time).
    """
    env = as_task(env, name=name)
    core = getattr(env, "unwrapped", env)
    if not callable(getattr(core, "samples", None)):
        raise TypeError(f"{name}: {task_name(env)} gives no samples without time "
                        "(it needs a samples(n, seed) method, as FunctionApproximation-v0 has)")
    return core
