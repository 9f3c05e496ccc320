"""PathIntegration2D-v0: integrate a smooth 2-D velocity into a position inside a square arena."""

from __future__ import annotations

import numpy as np
from neurogym.utils import spaces

from ._base import TaskEnv, as_ms, as_positive


class PathIntegration2D(TaskEnv):
    """Integrate a random 2-D velocity into position, starting at the origin of a square arena.

    The agent's velocity follows an Ornstein-Uhlenbeck process per component (time constant
    ``velocity_tau`` ms, stationary s.d. ``speed`` arena units/s, discretised exactly so its
    statistics do not depend on dt), its norm clipped to ``max_speed``. The position starts at
    (0, 0) and stays in the arena [-arena_size, arena_size]^2: a step that would cross a wall is
    clipped at the wall and the velocity component is reversed for the following steps.

    Inputs (n_in = 2): the *actual* velocity on each step after wall handling, in arena units/s:
    ``ob[t] = (p_t - p_{t-1}) / dt_s`` with ``dt_s = dt / 1000`` (attribute ``dt_seconds``).
    Targets (n_out = 2, float): the position after the step,
    ``gt[t] = sum_{s <= t} ob[s] * dt_s`` (exactly the cumulative sum of the inputs).
    Timing (ms): one period ``integrate`` of 1000 ms (50 steps at dt = 20 ms).
    Masks: loss and metric on every step.
    Metric: regression; report normalised MSE (``nmse``) beside ``mse``.

    Parameters
    ----------
    dt : float (ms) or Brian2 time quantity
        The time step (default 20 ms).
    arena_size : float
        Half-width of the square arena (arena units).
    speed : float
        Stationary standard deviation of each velocity component (arena units/s).
    max_speed : float
        Upper bound of the velocity norm (arena units/s).
    velocity_tau : float (ms) or Brian2 time quantity
        Correlation time of the velocity, > 0 (e.g. ``200`` or ``200*ms``).
    timing : dict, optional
        ``{"integrate": duration_ms}``.
    """

    task_kind = "regression"
    default_timing = {"integrate": 1000}
    metadata = {  # noqa: RUF012
        "description": "Integrate a smooth random 2-D velocity into position in a bounded arena.",
        "paper_name": "Paradoxical noise preference in RNNs (Eckstein & Srinivasan)",
        "paper_link": "https://arxiv.org/abs/2601.04539",
        "tags": ["regression", "supervised", "working memory", "navigation"],
        "render_modes": [],
        "metric": "nmse",
    }

    def __init__(self, dt=20, arena_size=1.0, speed=1.0, max_speed=2.0, velocity_tau=200.0, timing=None):
        super().__init__(dt=dt, timing=timing)
        velocity_tau = as_ms(velocity_tau, "velocity_tau")
        self.arena_size = as_positive(arena_size, "arena_size")
        self.speed = as_positive(speed, "speed")
        self.max_speed = as_positive(max_speed, "max_speed")
        self.velocity_tau = float(velocity_tau)
        self.dt_seconds = self.dt / 1000.0
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(2,), dtype=np.float64, name={"velocity": [0, 1]}
        )
        self.action_space = spaces.Box(
            -arena_size, arena_size, shape=(2,), dtype=np.float64, name={"position": [0, 1]}
        )

    def _new_trial(self, **kwargs):
        T = self._build_trial([("integrate", self.period_steps("integrate"))], n_out=2)
        a = np.exp(-self.dt / self.velocity_tau)
        noise = self.rng.randn(T + 1, 2) * self.speed
        # The walk is sequential (speed clipping and wall reflections feed back into the
        # velocity), so it runs on Python floats; every operation is the same IEEE operation as
        # the former numpy-array version (same trials for a seed), about 10x faster per trial.
        kick = (np.sqrt(1.0 - a * a) * noise[1:]).tolist()  # (T, 2) OU innovations
        a, dt_s, size, vmax = float(a), self.dt_seconds, self.arena_size, self.max_speed
        # Squared norms below this cannot exceed vmax (margin >> rounding): skip the exact norm.
        sq_safe = vmax * vmax * (1.0 - 1e-9)
        vx, vy = noise[0].tolist()
        px = py = 0.0
        xs, ys = [px], [py]  # positions p_0 .. p_T
        for t in range(T):
            if vx * vx + vy * vy > sq_safe:
                # np.linalg.norm, exactly as before (its rounding may differ from a hand sum)
                norm = float(np.linalg.norm(np.array((vx, vy))))
                if norm > vmax:
                    scale = vmax / norm
                    vx, vy = vx * scale, vy * scale
            nx, ny = px + vx * dt_s, py + vy * dt_s
            if abs(nx) > size:  # clipped at the wall; the velocity component reverses
                nx, vx = (size if nx > 0 else -size), -vx
            if abs(ny) > size:
                ny, vy = (size if ny > 0 else -size), -vy
            xs.append(nx)
            ys.append(ny)
            px, py = nx, ny
            kx, ky = kick[t]
            vx, vy = a * vx + kx, a * vy + ky
        positions = np.array((xs, ys)).T  # (T + 1, 2)
        self.ob[:] = (positions[1:] - positions[:-1]) / dt_s
        self.gt[:] = np.cumsum(self.ob * self.dt_seconds, axis=0)
        self.loss_mask[:] = True
        self.decision_mask[:] = True
        trial = {"start": np.zeros(2), "end": self.gt[-1].copy()}
        trial.update(kwargs)
        return trial
