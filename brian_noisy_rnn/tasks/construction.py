"""How a task was built (id, constructor keywords, wrappers), as JSON, and building it again.

A network trained on ``neurogym.make("PerceptualDecisionMaking-v0", sigma=0.5,
timing=...)`` is only meaningful on that task: the default construction of the same id is
another task. :func:`task_construction` describes an environment as a JSON-compatible dict,
which training stores in ``spec.metadata["training"]["task_construction"]``;
:func:`make_from_construction` builds it again, and evaluation, noise-preference curves and
the command line do so when they are given the network's task id (or no task).

Where the keywords come from:

* :func:`~brian_noisy_rnn.tasks.make` records the keywords it was called with (every task;
  :func:`~brian_noisy_rnn.tasks.registry.made_with`);
* ``neurogym.make`` / ``gymnasium.make`` record theirs in the environment's ``spec.kwargs``;
* a wrapper applied by the user (``Noise(env, std_noise=5)``, ``SideBias(env, probs=...,
  block_dur=...)``, ...) is recorded with its class and, when each constructor argument is
  kept as an attribute of the same name, those values.

Anything that cannot be recorded (a task class constructed directly, a keyword that is not
JSON data such as a function, a wrapper whose arguments are not kept, a ``ScheduleEnvs``
over several tasks) is listed under ``"unrecorded"``; building such a construction raises
a ValueError naming it, so a task is never silently replaced by another.
"""

from __future__ import annotations

import importlib
import inspect
import json
import numbers

import gymnasium as gym
import numpy as np
from neurogym.core import TrialEnv, TrialWrapper

from .registry import made_with, make, task_name
from .wrappers import is_bookkeeping

__all__ = ["construction_differences", "make_from_construction", "task_construction"]

class _NotData(Exception):
    """A value that is not JSON data."""


def _data(value):
    """``value`` as JSON data (tuples and numpy arrays as lists); _NotData otherwise."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return _data(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _data(v) for k, v in value.items()}
    raise _NotData(repr(value))


def _class_path(obj):
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _wrapper_entry(obj):
    """A user's wrapper as {"class", "kwargs"}; kwargs None if they cannot be read back."""
    entry = {"class": _class_path(obj), "kwargs": None}
    try:
        params = [p for p in inspect.signature(type(obj).__init__).parameters.values()
                  if p.name not in ("self", "env")
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        state = vars(obj)
        if all(p.name in state for p in params):
            entry["kwargs"] = {p.name: _data(state[p.name]) for p in params}
    except (TypeError, ValueError, _NotData):
        pass
    return entry


def _gym_made(obj):
    """(id, kwargs) recorded by ``gymnasium.make`` (``neurogym.make``) for ``obj``, or None."""
    try:
        spec = obj.spec
    except Exception:  # noqa: BLE001  (gymnasium deep-copies the spec; anything may fail)
        return None
    if spec is None or not getattr(spec, "id", None):
        return None
    return spec.id, dict(spec.kwargs)


def task_construction(env):
    """How ``env`` was built, as a JSON-compatible dict.

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        E.g. from :func:`~brian_noisy_rnn.tasks.make` or ``neurogym.make``, possibly wrapped.

    Returns
    -------
    dict
        ``"id"`` (str), ``"kwargs"`` (dict: the keywords of the task id, ``dt`` in ms
        included; None if unknown), ``"wrappers"`` (list, outermost first, of
        ``{"class": "module:Name", "kwargs": dict or None}``: the wrappers around the task
        that are not part of its registration), ``"unrecorded"`` (list of str: what could
        not be recorded; empty when :func:`make_from_construction` rebuilds ``env``
        exactly).
    """
    wrappers, unrecorded, obj = [], [], env
    while True:
        made = made_with(obj)  # from tasks.make
        if made is not None:
            task_id, kwargs = made
            break
        if isinstance(obj, TrialWrapper) and "envs" in vars(obj):  # a schedule of tasks
            task_id, kwargs = task_name(obj), None
            unrecorded.append(f"the tasks and schedule of {type(obj).__name__}")
            break
        # gymnasium.make's outermost wrapper (OrderEnforcing) or a bare TrialEnv made by it
        made = _gym_made(obj) if is_bookkeeping(obj) or not isinstance(obj, gym.Wrapper) \
            else None
        if made is not None:
            task_id, kwargs = made
            break
        if not isinstance(obj, gym.Wrapper):
            task_id, kwargs = task_name(obj), None
            unrecorded.append(f"the keywords of {task_id} (built without tasks.make or "
                              "neurogym.make)")
            break
        if not is_bookkeeping(obj):
            entry = _wrapper_entry(obj)
            if entry["kwargs"] is None:
                unrecorded.append(f"the arguments of wrapper {type(obj).__name__}")
            wrappers.append(entry)
        obj = obj.env
    if kwargs is not None:
        try:
            kwargs = _data(kwargs)
        except _NotData:
            bad = sorted(k for k, v in kwargs.items() if not _is_data(v))
            unrecorded.append(f"keywords {bad} of {task_id} (not JSON data)")
            kwargs = {k: _data(v) for k, v in kwargs.items() if k not in bad}
    return {"id": task_id, "kwargs": kwargs, "wrappers": wrappers, "unrecorded": unrecorded}


def _is_data(value):
    try:
        _data(value)
    except _NotData:
        return False
    return True


def _check_construction(construction, name):
    if not isinstance(construction, dict) or not isinstance(construction.get("id"), str):
        raise TypeError(f"{name} must be a dict from task_construction (with a task 'id'), "
                        f"got {construction!r}")


def make_from_construction(construction, dt=None, name="construction"):
    """Build the task a :func:`task_construction` dict describes.

    Parameters
    ----------
    construction : dict
        From :func:`task_construction` (e.g. ``spec.metadata["training"]
        ["task_construction"]``).
    dt : float, Brian2 time or None
        Time step (ms or a quantity) replacing the recorded ``dt``; None: the recorded one.
    name : str
        The argument named in error messages.

    Returns
    -------
    TrialEnv or gymnasium wrapper of one

    Raises
    ------
    ValueError
        If part of the construction was not recorded (``"unrecorded"`` is not empty): the
        message names it and says to pass the task itself.
    """
    _check_construction(construction, name)
    missing = construction.get("unrecorded") or []
    if missing:
        raise ValueError(f"{name}: the task {construction['id']!r} cannot be rebuilt: "
                         f"{'; '.join(missing)} were not recorded; pass the task itself "
                         "(e.g. an env made as for training)")
    kwargs = dict(construction.get("kwargs") or {})
    recorded_dt = kwargs.pop("dt", None)
    env = make(construction["id"], dt=recorded_dt if dt is None else dt, **kwargs)
    for entry in reversed(construction.get("wrappers") or []):
        module, _, qualname = entry["class"].partition(":")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        env = cls(env, **(entry.get("kwargs") or {}))
    return env


def _comparable(construction):
    kwargs = {k: v for k, v in (construction.get("kwargs") or {}).items() if k != "dt"}
    return json.dumps({"id": construction["id"], "kwargs": kwargs,
                       "wrappers": construction.get("wrappers") or []}, sort_keys=True)


def construction_differences(given, stored):
    """What differs between two constructions of one task id (``dt`` is ignored).

    Parameters
    ----------
    given, stored : dict
        From :func:`task_construction`.

    Returns
    -------
    list of str
        Empty if they build the same task (or have different ids, which is a choice of
        task, not a difference of construction); else one line per difference.
    """
    if given["id"] != stored["id"] or _comparable(given) == _comparable(stored):
        return []
    out = []
    a, b = given.get("kwargs") or {}, stored.get("kwargs") or {}
    for key in sorted((set(a) | set(b)) - {"dt"}):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key, '(default)')!r} instead of {b.get(key, '(default)')!r}")
    wa = [w["class"].rsplit(":", 1)[-1] for w in given.get("wrappers") or []]
    wb = [w["class"].rsplit(":", 1)[-1] for w in stored.get("wrappers") or []]
    if (given.get("wrappers") or []) != (stored.get("wrappers") or []):
        out.append(f"wrappers {wa} instead of {wb}")
    return out or ["its construction"]
