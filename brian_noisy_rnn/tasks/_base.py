"""Shared machinery for this package's NeuroGym tasks: dt handling, step-exact periods, masks."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from neurogym.core import TrialEnv

from ..core.units import is_quantity, unit_error
from ..core.validation import as_dimensionless

if TYPE_CHECKING:
    from brian2 import Quantity

TASK_KINDS = ("classification", "regression")

#: The most time steps one period of a trial may have (a trial of 10**6 steps of 1 ms is
#: 17 minutes): a longer period is refused when the task is made (fixed durations) or when a
#: trial is drawn (sampled durations), before its arrays are allocated.
MAX_PERIOD_STEPS = 10**6


def as_ms(value: float | Quantity, name: str, *, allow_zero: bool = False) -> int | float:
    """Return a duration in milliseconds (NeuroGym's unit) as a number.

    Parameters
    ----------
    value : float or int or Brian2 time quantity
        The duration: a number of ms, or a scalar Brian2 quantity with dimension of time
        (e.g. ``20*ms``).
    name : str
        Argument name used in error messages.
    allow_zero : bool
        Accept 0 (a duration >= 0 instead of > 0).

    Returns
    -------
    int or float
        The duration in ms; an int when the value is integral (NeuroGym's period arithmetic
        is then exact).

    Raises
    ------
    brian2.DimensionMismatchError
        (also a TypeError) if ``value`` is a quantity of another dimension, e.g. ``20*mV``.
    TypeError
        If ``value`` is neither a real number nor a Brian2 quantity (booleans are refused).
    ValueError
        If it is not a scalar or not finite, or negative (or zero without ``allow_zero``;
        also below 1e-9 ms, the resolution of task timing).
    """
    bound = ">= 0" if allow_zero else "> 0"
    if is_quantity(value):
        from brian2 import second

        if value.dim != second.dim:
            raise unit_error(name, value, "a number of ms or a Brian2 time such as 20*ms")
        if np.ndim(value) != 0:
            raise ValueError(f"{name} must be a scalar time, got shape {np.shape(value)}")
        ms_value = float(value / second) * 1000.0
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        ms_value = float(value)
    else:
        raise TypeError(
            f"{name} must be a number of milliseconds or a Brian2 time quantity such as 20*ms, "
            f"got {value!r} ({type(value).__name__})"
        )
    if not np.isfinite(ms_value) or ms_value < 0 or (ms_value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {bound} (a finite time in ms), got {value!r}")
    ms_value = round(ms_value, 9)
    if ms_value == 0 and not allow_zero:
        raise ValueError(f"{name} must be at least 1e-9 ms (the resolution of task timing), "
                         f"got {value!r}")
    return int(ms_value) if ms_value.is_integer() else ms_value


def as_dt_ms(dt: float | Quantity, name: str = "dt") -> int | float:
    """Return a time step in milliseconds (NeuroGym's unit) as a positive number.

    Parameters
    ----------
    dt : float or int or Brian2 time quantity
        The time step: a number of ms, or a Brian2 quantity with dimension of time (e.g.
        ``20*ms``).
    name : str
        Argument name used in error messages.

    Returns
    -------
    int or float
        dt in ms, > 0 (see :func:`as_ms`).
    """
    return as_ms(dt, name)


def as_range(value: Any, name: str) -> tuple[float, float]:
    """A (low, high) pair of dimensionless floats with low < high.

    Parameters
    ----------
    value : sequence of 2 numbers
        The pair (or a dimensionless Brian2 quantity of shape (2,)).
    name : str
        Argument name used in error messages.

    Returns
    -------
    tuple of float (low, high)
        With low < high, both finite.

    Raises
    ------
    brian2.DimensionMismatchError, TypeError, ValueError
        For units, booleans or complex numbers (see
        :func:`~brian_noisy_rnn.core.validation.as_dimensionless`), or not two finite
        numbers with low < high; the message names ``name``.
    """
    arr = as_dimensionless(value, name)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or not arr[0] < arr[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {value!r}")
    return float(arr[0]), float(arr[1])


def as_positive(value: Any, name: str) -> float:
    """A dimensionless finite number > 0 as a float.

    Parameters
    ----------
    value : float
        A real number (or a dimensionless scalar Brian2 quantity).
    name : str
        Argument name used in error messages.

    Returns
    -------
    float
        The value, > 0.

    Raises
    ------
    brian2.DimensionMismatchError, TypeError, ValueError
        For units, booleans, non-scalars, or a value that is not finite and > 0; the message
        names ``name``.
    """
    arr = as_dimensionless(value, name)
    if arr.ndim != 0 or not np.isfinite(arr) or not arr > 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(arr)


def check_timing(timing: dict, known: Iterable[str] | None = None,
                 name: str = "timing") -> dict:
    """Check a NeuroGym ``timing`` dict: known periods, finite durations >= 0.

    Parameters
    ----------
    timing : dict of str to duration
        Period -> duration in ms: a number, or a NeuroGym distribution such as
        ``("uniform", [100, 300])``, ``[100, 200]`` (a choice) or a callable.
    known : iterable of str or None
        The task's periods (None: not checked).
    name : str
        The argument named in error messages.

    Returns
    -------
    dict
        ``timing`` itself.

    Raises
    ------
    TypeError
        If ``timing`` is not a dict, or a duration is neither a number nor a distribution.
    ValueError
        Naming the period, for an unknown period or a duration that is NaN, infinite or
        negative.
    """
    if not isinstance(timing, dict):
        raise TypeError(f"{name} must be a dict period -> duration in ms, got {timing!r}")
    if known is not None:
        unknown = sorted(set(timing) - set(known))
        if unknown:
            raise ValueError(f"{name} has unknown periods {unknown}; expected keys among "
                             f"{sorted(known)}")

    def numbers_in(value):
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, numbers.Real):
            yield float(value)
        elif isinstance(value, (list, tuple)):
            for v in value:
                if not isinstance(v, str):
                    yield from numbers_in(v)
        elif not callable(value):
            raise TypeError

    for period, value in timing.items():
        try:
            values = list(numbers_in(value))
        except TypeError:
            raise TypeError(f"{name}[{period!r}] must be a duration in ms or a NeuroGym "
                            f"distribution, got {value!r}") from None
        if not all(np.isfinite(v) and v >= 0 for v in values):
            raise ValueError(f"{name}[{period!r}] must hold finite durations >= 0 ms, got {value!r}")
    return timing


def n_steps(duration_ms: float, dt_ms: float) -> int:
    """Number of whole time steps of ``dt_ms`` in ``duration_ms`` (rounded down, as NeuroGym does).

    Parameters
    ----------
    duration_ms : float
        Duration in ms.
    dt_ms : float
        Time step in ms.

    Returns
    -------
    int
        ``floor(duration_ms / dt_ms)``, with a tolerance of 1e-9 steps for rounding errors.
    """
    return int(np.floor(duration_ms / dt_ms + 1e-9))


class TrialArrays(NamedTuple):
    """Trials of equal length generated at once (:meth:`TaskEnv.new_trials`).

    Attributes
    ----------
    inputs : float64 array (T, n, n_in)
        Observations of the n trials.
    targets : float64 array (T, n, n_out) or int64 array (T, n)
        Targets (regression) or class labels (classification).
    loss_mask : bool array (T,)
        Steps on which the training loss is computed, the same for every trial.
    decision_mask : bool array (T,)
        Steps on which the task metric is scored, the same for every trial.
    trials : list of dict
        The n trial dicts, as ``new_trial()`` returns them.
    """

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    decision_mask: np.ndarray
    trials: list


class TaskEnv(TrialEnv):
    """Base class of this package's tasks: a NeuroGym ``TrialEnv`` with step-exact periods and masks.

    Subclasses set ``default_timing`` (period -> duration in ms), ``task_kind``
    (``"regression"`` or ``"classification"``), ``observation_space`` and ``action_space``,
    and implement ``_new_trial`` using :meth:`_build_trial`. After every ``new_trial()``:

    - ``ob``: (T, n_in) observations; ``gt``: (T, n_out) float targets (regression) or
      (T,) int class labels (classification);
    - ``loss_mask``: (T,) bool, steps on which the training loss is computed;
    - ``decision_mask``: (T,) bool, steps on which accuracy / the task metric is scored.

    Periods are laid out in whole steps (``start_ind``/``end_ind``), so the number of steps does
    not suffer from floating-point division for non-integral ``dt``.

    Parameters
    ----------
    dt : float or Brian2 time quantity
        Time step: a number of ms or a Brian2 time (see :func:`as_dt_ms`).
    timing : dict of str to duration or None
        Overrides of ``default_timing`` (period -> duration in ms or a NeuroGym
        distribution, see :func:`check_timing`); None: the defaults.

    Raises
    ------
    ValueError
        For an invalid ``dt``, an unknown period or an invalid duration.
    """

    task_kind = "regression"
    extra_metrics: tuple = ()
    default_timing: dict = {}

    def __init__(self, dt: float | Quantity = 20, timing: Mapping | None = None) -> None:
        super().__init__(dt=as_dt_ms(dt))
        self.timing = dict(self.default_timing)
        if timing is not None:
            check_timing(timing)
            unknown = sorted(set(timing) - set(self.default_timing))
            if unknown:
                raise ValueError(
                    f"timing has unknown periods {unknown}; expected keys among "
                    f"{sorted(self.default_timing)}"
                )
            self.timing.update(timing)
        for period, value in self.timing.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                self._check_period_steps(period, value, n_steps(float(value), self.dt))
        self.loss_mask = np.zeros(0, dtype=bool)
        self.decision_mask = np.zeros(0, dtype=bool)

    # -- timing ---------------------------------------------------------------------------
    def period_steps(self, period: str, minimum: int = 1) -> int:
        """Number of steps of ``period`` for the next trial (samples random durations with self.rng).

        Parameters
        ----------
        period : str
            A key of ``self.timing``.
        minimum : int
            The fewest steps the period may have.

        Returns
        -------
        int
            Whole steps of ``dt`` in the period's duration (see :func:`n_steps`).

        Raises
        ------
        ValueError
            Naming ``timing``, if the duration gives fewer than ``minimum`` steps.
        """
        spec = self.timing[period]
        if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
            duration = float(spec)
        else:
            duration = float(self.sample_time(period))
        steps = n_steps(duration, self.dt)
        self._check_period_steps(period, spec, steps)
        if steps < minimum or duration < 0:
            raise ValueError(
                f"timing[{period!r}] = {spec!r} ms gives {steps} steps at dt={self.dt} ms; "
                f"at least {minimum} needed"
            )
        return steps

    def _check_period_steps(self, period, spec, steps):
        """ValueError naming ``timing[period]`` if it gives more than MAX_PERIOD_STEPS steps."""
        if steps > MAX_PERIOD_STEPS:
            raise ValueError(f"timing[{period!r}] = {spec!r} ms gives {steps} steps at "
                             f"dt={self.dt} ms, more than MAX_PERIOD_STEPS = {MAX_PERIOD_STEPS}")

    def _build_trial(self, periods, n_out=None, ob_dtype=np.float64):
        """Lay out consecutive ``periods`` [(name, n_steps), ...] and allocate ob, gt and masks."""
        start = 0
        for name, steps in periods:
            self.start_ind[name], self.end_ind[name] = start, start + steps
            self.start_t[name], self.end_t[name] = start * self.dt, (start + steps) * self.dt
            self._duration[name] = steps * self.dt
            start += steps
        T = start
        self._tmax = self.tmax = T * self.dt
        self.ob = np.zeros((T, *self.observation_space.shape), dtype=ob_dtype)
        if self.task_kind == "regression":
            self.gt = np.zeros((T, n_out), dtype=np.float64)
        else:
            self.gt = np.zeros(T, dtype=np.int64)
        self._ob_built = self._gt_built = True
        self.loss_mask = np.zeros(T, dtype=bool)
        self.decision_mask = np.zeros(T, dtype=bool)
        return T

    def period_slice(self, period: str) -> slice:
        """``slice`` of the steps of ``period`` in the current trial.

        Parameters
        ----------
        period : str
            A period of the current trial.

        Returns
        -------
        slice
            ``slice(start_ind[period], end_ind[period])``, in time steps.
        """
        return slice(self.start_ind[period], self.end_ind[period])

    # -- many trials at once --------------------------------------------------------------
    def has_fixed_timing(self) -> bool:
        """True if every period has a fixed duration (no random draws for the timing)."""
        return all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                   for v in self.timing.values())

    def new_trials(self, n: int) -> TrialArrays | None:
        """``n`` trials at once, exactly as ``n`` calls of ``new_trial()`` would make them.

        Tasks whose trials can be drawn with vectorised code override :meth:`_new_trials`;
        the default (and a task whose timing is random) returns None, and callers fall back
        to ``new_trial()``. Afterwards the env is in the state ``n`` calls leave it in: the
        same random state, ``num_tr``, and the last trial as the current one.

        Parameters
        ----------
        n : int >= 1
            Number of trials.

        Returns
        -------
        TrialArrays or None
            The trials (:class:`TrialArrays`); None if the task has no vectorised path
            (the env is then unchanged).
        """
        arrays = self._new_trials(int(n))
        if arrays is not None:
            self.trial = arrays.trials[-1]
            self.num_tr += int(n)
            self._has_gt = True
        return arrays

    def _new_trials(self, n):
        """Override: a :class:`TrialArrays` of ``n`` trials, or None (no vectorised path)."""
        return None

    def _held_value_trials(self, periods, values, targets, target_period, trials):
        """TrialArrays of trials that hold ``values`` (n,) as the one input and output
        ``targets`` (n,) in ``target_period`` (loss and metric there); ``trials`` are the
        trial dicts. The last trial becomes the env's current one."""
        n = len(values)
        T = self._build_trial(periods, n_out=1)
        target = self.period_slice(target_period)
        self.ob[:, 0] = values[-1]
        self.gt[target, 0] = targets[-1]
        self.loss_mask[target] = True
        self.decision_mask[target] = True
        inputs = np.empty((T, n, 1))
        inputs[:] = values[:, None]
        out = np.zeros((T, n, 1))
        out[target, :, 0] = targets
        return TrialArrays(inputs, out, self.loss_mask.copy(), self.decision_mask.copy(), trials)

    # -- gym interface --------------------------------------------------------------------
    def _step(self, action):
        """One step for gym-style use: reward -squared error (regression) or 1 if correct."""
        gt = self.gt_now
        reward = 0.0
        if self.decision_mask[self.t_ind]:
            if self.task_kind == "regression":
                reward = -float(np.mean((np.asarray(action, dtype=float) - gt) ** 2))
            else:
                reward = float(action == gt)
            self.performance = reward
        return self.ob_now, reward, False, False, {"new_trial": False, "gt": gt}


def reset_schedules(obj: Any) -> None:
    """Reset the scheduling state of NeuroGym ``ScheduleEnvs`` wrappers inside ``obj`` (recursively).

    ``ScheduleEnvs.seed`` reseeds the schedule's RNG but keeps which sub-environment comes next;
    resetting it makes the trial sequence a function of the seed alone.

    Parameters
    ----------
    obj : gymnasium.Env
        A NeuroGym env or wrapper; a bare TrialEnv has no schedule and is left alone.
    """
    if isinstance(obj, TrialEnv):
        return
    state = vars(obj)
    if "schedule" in state and "envs" in state:
        state["schedule"].reset()
        obj.set_i(0)
        if "next_i_env" in state:
            obj.next_i_env = 0
    for child in state.get("envs", []):
        reset_schedules(child)
    if "env" in state:
        reset_schedules(state["env"])


def _defines(obj, attr):
    """True if ``obj``'s own class chain (not gymnasium's Wrapper forwarding) defines ``attr``."""
    import gymnasium as gym

    return any(attr in vars(c) for c in type(obj).__mro__ if c not in (gym.Wrapper, gym.Env, object))


def check_dataset_free(env, name="env"):
    """Raise TypeError naming ``name`` if ``env`` is a ``neurogym.Dataset``.

    A Dataset cuts fixed windows through concatenated trials, without loss masks and
    sometimes without any decision period; this package's batches are whole trials with
    masks, made from the environment itself. The message says what to pass instead.

    Parameters
    ----------
    env : object
        The argument to check.
    name : str
        The argument named in the message.
    """
    if type(env).__name__ == "Dataset" and type(env).__module__.startswith("neurogym"):
        raise TypeError(f"{name} is a neurogym.Dataset (fixed windows through concatenated "
                        "trials, without masks); pass its environment instead, e.g. "
                        f"train(dataset.env, batch_size=dataset.batch_size, ...): batches of "
                        "whole trials with loss masks are made from it")


def core_of(env, name="env"):
    """The TrialEnv under ``env``'s wrappers (TypeError naming ``name`` if there is none).

    Parameters
    ----------
    env : TrialEnv or gymnasium wrapper of one
        The environment.
    name : str
        The argument named in the error.

    Returns
    -------
    neurogym.core.TrialEnv
        ``env.unwrapped``.
    """
    check_dataset_free(env, name)
    core = getattr(env, "unwrapped", None)
    if not isinstance(core, TrialEnv):
        raise TypeError(f"{name} must be a task id or a NeuroGym TrialEnv (or a wrapper of "
                        f"one, e.g. from brian_noisy_rnn.tasks.make), got {type(env).__name__}")
    return core


def seed_trials(top: Any, seed: int | None) -> None:
    """Seed a NeuroGym trial generator and reset its schedule state.

    Afterwards its trial sequence depends on ``seed`` alone.

    Parameters
    ----------
    top : gymnasium.Env
        A TrialEnv, or a wrapper of one; the outermost wrapper that defines ``seed`` (e.g. a
        TrialWrapper such as ScheduleEnvs) is seeded.
    seed : int or None
        The seed passed to its ``seed`` method.
    """
    obj = top
    while not isinstance(obj, TrialEnv) and not _defines(obj, "seed"):
        obj = obj.env
    with warnings.catch_warnings():  # ScheduleEnvs.seed reaches through gymnasium wrappers
        warnings.filterwarnings("ignore", message=".*env.seed to get variables.*")
        obj.seed(seed)
    reset_schedules(top)
