"""SingleNeuronRegulator-v0: settle to and hold a commanded positive level (solvable by 1 relu unit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from neurogym.utils import spaces

from ._base import TaskEnv, as_range

if TYPE_CHECKING:
    from brian2 import Quantity


class SingleNeuronRegulator(TaskEnv):
    """Settle the output to a commanded level c and hold it.

    Each trial draws a command ``c ~ U[command_range]`` (default U[0.1, 1.0], positive so that a
    single relu unit can hold it: w_in = 1, w_rec = 0, b = 0, w_out = 1 gives the fixed point
    h* = c). The task is the minimal setting of the noisy-fixed-point shift: noise inside the
    relu moves E[h] away from c.

    Inputs (n_in = 1): ``ob[:, 0] = c`` on every step of the trial.
    Targets (n_out = 1, float): ``gt[:, 0] = c`` in the ``hold`` period, 0 before.
    Timing (ms): ``settle`` 400 then ``hold`` 400 (20 + 20 = 40 steps at dt = 20 ms).
    Masks: loss and metric over the ``hold`` period only.
    Metric: regression, mean squared error (``task_kind = "regression"``).
    ``new_trial(command=...)`` fixes c for that trial.

    Parameters
    ----------
    dt : float or Brian2 time quantity
        Time step: a number of ms or a Brian2 time (e.g. ``20*ms``).
    command_range : tuple of float (low, high)
        Interval of the uniform command distribution (dimensionless, low < high).
    timing : dict or None
        Period durations in ms (keys ``settle``, ``hold``); None: the defaults.

    Raises
    ------
    ValueError
        For an invalid ``dt``, ``command_range`` or ``timing``.
    """

    task_kind = "regression"
    default_timing = {"settle": 400, "hold": 400}
    metadata = {  # noqa: RUF012
        "description": "Settle to and hold a commanded level c ~ U[0.1, 1].",
        "paper_name": "Paradoxical noise preference in RNNs (Eckstein & Srinivasan)",
        "paper_link": "https://arxiv.org/abs/2601.04539",
        "tags": ["regression", "supervised", "single neuron"],
        "render_modes": [],
        "metric": "mse",
    }

    def __init__(self, dt: float | Quantity = 20, command_range: tuple[float, float] = (0.1, 1.0),
                 timing: dict | None = None) -> None:
        super().__init__(dt=dt, timing=timing)
        self.command_range = as_range(command_range, "command_range")
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64, name={"command": 0})
        self.action_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64, name={"rate": 0})

    def _periods(self):
        return [("settle", self.period_steps("settle", minimum=0)),
                ("hold", self.period_steps("hold"))]

    def _new_trials(self, n):
        """All n trials with one draw of the commands (identical to n ``new_trial()``)."""
        if not self.has_fixed_timing():
            return None
        periods = self._periods()
        cs = self.rng.uniform(*self.command_range, size=n)
        return self._held_value_trials(periods, cs, cs, "hold", [{"command": float(c)} for c in cs])

    def _new_trial(self, **kwargs):
        trial = {"command": self.rng.uniform(*self.command_range)}
        trial.update(kwargs)
        c = float(trial["command"])
        self._build_trial(self._periods(), n_out=1)
        self.ob[:, 0] = c
        hold = self.period_slice("hold")
        self.gt[hold, 0] = c
        self.loss_mask[hold] = True
        self.decision_mask[hold] = True
        return trial
