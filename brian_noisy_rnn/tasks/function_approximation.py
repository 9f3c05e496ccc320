"""FunctionApproximation-v0: map a held scalar input x to g(x) (the paper's main task)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from neurogym.utils import spaces

from ..core.validation import check_int, check_seed
from ._base import TaskEnv, as_range

if TYPE_CHECKING:
    from brian2 import Quantity


def _sin_pi(x):
    return np.sin(np.pi * x)


class FunctionApproximation(TaskEnv):
    """Hold a scalar x as input; after a settling period, output g(x).

    Each trial draws ``x ~ U[x_range]`` (default U[-1, 1]) with ``self.rng``.

    Inputs (n_in = 1): ``ob[:, 0] = x`` on every step of the trial.
    Targets (n_out = 1, float): ``gt[:, 0] = g(x)`` in the ``response`` period, 0 before.
    Timing (ms): ``settle`` 400 then ``response`` 400; at dt = 20 ms that is 20 + 20 = 40 steps
    (the paper's 40-step trial, target over the second half). Durations are rounded down to whole
    steps; override with ``timing={"settle": ..., "response": ...}``.
    Masks: loss and metric over the ``response`` period only.
    Metric: regression, mean squared error (``task_kind = "regression"``).
    ``new_trial(x=...)`` fixes x for that trial (e.g. for evaluation on a grid).

    Parameters
    ----------
    dt : float or Brian2 time quantity
        Time step: a number of ms or a Brian2 time (e.g. ``20*ms``).
    function : callable or None
        Vectorised g: float array -> float array of the same shape. None: ``sin(pi x)``.
    x_range : tuple of float (low, high)
        Interval of the uniform distribution of x (dimensionless, low < high).
    timing : dict or None
        Period durations in ms (keys ``settle``, ``response``); None: the defaults.

    Raises
    ------
    TypeError
        If ``function`` is not callable.
    ValueError
        For an invalid ``dt``, ``x_range`` or ``timing``.
    """

    task_kind = "regression"
    default_timing = {"settle": 400, "response": 400}
    metadata = {  # noqa: RUF012
        "description": "Hold x ~ U[-1, 1]; output g(x) = sin(pi x) after a settling period.",
        "paper_name": "Paradoxical noise preference in RNNs (Eckstein & Srinivasan)",
        "paper_link": "https://arxiv.org/abs/2601.04539",
        "tags": ["regression", "supervised"],
        "render_modes": [],
        "metric": "mse",
    }

    def __init__(self, dt: float | Quantity = 20,
                 function: Callable[[np.ndarray], np.ndarray] | None = None,
                 x_range: tuple[float, float] = (-1.0, 1.0), timing: dict | None = None) -> None:
        super().__init__(dt=dt, timing=timing)
        if function is None:
            function = _sin_pi
        if not callable(function):
            raise TypeError(f"function must be callable (float array -> float array), got {function!r}")
        self.function = function
        self.x_range = as_range(x_range, "x_range")
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64, name={"x": 0})
        self.action_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64, name={"output": 0})

    def _periods(self):
        return [("settle", self.period_steps("settle", minimum=0)),
                ("response", self.period_steps("response"))]

    def _new_trials(self, n):
        """All n trials with one draw of x and one call of g (identical to n ``new_trial()``)."""
        if not self.has_fixed_timing():
            return None
        periods = self._periods()
        xs = self.rng.uniform(*self.x_range, size=n)
        targets = np.asarray(self.function(xs), dtype=float)
        if targets.shape != xs.shape:  # g is not vectorised: one call per x, as new_trial does
            targets = np.array([self._target(x) for x in xs])
        bad = ~np.isfinite(targets)
        if bad.any():
            self._target(float(xs[np.argmax(bad)]))  # raises the error new_trial raises
        trials = [{"x": float(x), "target": float(t)} for x, t in zip(xs, targets)]
        return self._held_value_trials(periods, xs, targets, "response", trials)

    def samples(self, n, seed):
        """``n`` input-target pairs without time, for a feedforward network: x ~ U[x_range], y = g(x).

        Parameters
        ----------
        n : int
            Number of samples, >= 1.
        seed : int
            Seed of the draw of x (``numpy.random.RandomState``), in [0, 2**32); the env's own
            random state is not used or changed.

        Returns
        -------
        x : float64 array (n, 1)
            The inputs.
        y : float64 array (n, 1)
            The targets g(x).
        """
        n = check_int(n, "n", 1)
        xs = np.random.RandomState(check_seed(seed)).uniform(*self.x_range, size=n)
        ys = np.asarray(self.function(xs), dtype=float)
        if ys.shape != xs.shape:  # g is not vectorised
            ys = np.array([self._target(x) for x in xs])
        if not np.all(np.isfinite(ys)):
            self._target(float(xs[np.argmax(~np.isfinite(ys))]))  # raises naming x
        return xs[:, None], ys[:, None]

    def _target(self, x):
        target = np.asarray(self.function(np.asarray([x])), dtype=float).reshape(-1)
        if target.size != 1 or not np.isfinite(target[0]):
            raise ValueError(f"function must map x={x} to one finite float, got {target!r}")
        return float(target[0])

    def _new_trial(self, **kwargs):
        trial = {"x": self.rng.uniform(*self.x_range)}
        trial.update(kwargs)
        x = float(trial["x"])
        trial["target"] = self._target(x)
        self._build_trial(self._periods(), n_out=1)
        self.ob[:, 0] = x
        resp = self.period_slice("response")
        self.gt[resp, 0] = trial["target"]
        self.loss_mask[resp] = True
        self.decision_mask[resp] = True
        return trial
