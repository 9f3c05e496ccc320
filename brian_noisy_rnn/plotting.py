"""Figures: noise-preference curves and example trial traces.

Every plotting function returns a ``matplotlib.figure.Figure`` (the one it drew into, or the
root Figure of a given ``Axes``/``SubFigure``); :func:`save_figure` writes it (or an Axes'
figure) atomically. New figures are made with :func:`new_figure`, i.e. ``pyplot.figure``:
they belong to pyplot's figure manager, so ``plt.show()`` shows them in a script and
notebooks display them, and nothing is shown until then (pyplot's non-interactive mode, the
default outside IPython's ``%matplotlib``). Headless runs use pyplot's non-GUI backend (Agg:
chosen automatically without a display, or set ``MPLBACKEND=Agg``). Batch code that only
saves figures closes them (``save_figure(..., close=True)``) so pyplot does not keep them.

- :func:`plot_noise_preference`: curves on one Axes, error bars = standard error over trials,
  training sigma marked, backends overlaid (solid torch, dashed markers for Brian2).
- :func:`plot_noise_preference_panels`: one panel per (task, training placement).
- :func:`plot_trial_traces`: inputs, outputs vs targets and a few hidden units of a few
  trials at several test sigmas (default 0 and the training sigma).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from .backends.random_state import keeps_random_state
from .core.atomic import atomic_write
from .core.validation import as_dimensionless, check_int
from .evaluation.curve_figures import (new_figure, plot_noise_preference,
                                       plot_noise_preference_panels, root_figure)

if TYPE_CHECKING:
    import gymnasium as gym
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from .core.spec import CTRNNSpec

__all__ = ["new_figure", "plot_noise_preference", "plot_noise_preference_panels",
           "plot_trial_traces", "save_figure"]

@keeps_random_state
def plot_trial_traces(spec: CTRNNSpec, env: str | gym.Env, *, sigmas: np.ndarray | None = None,
                      placement: str | None = None, backend: str = "torch", n_trials: int = 3,
                      n_units: int = 4, seed: int = 0, fig: Figure | SubFigure | None = None,
                      **options) -> Figure:
    """Example trials of a network at several test-noise sigmas.

    Parameters
    ----------
    spec : CTRNNSpec
        A trained network.
    env : str or TrialEnv
        A task id (made with the network's dt) or a NeuroGym TrialEnv with the network's dt.
    sigmas : sequence of float or None
        1 to 6 test sigmas >= 0 (dimensionless), one column each; None: 0 and the training
        sigma.
    placement : {"pre", "post", "state"} or None
        Test-noise placement; None: the training one ("pre" for a noise-free network).
    backend : str
        Simulation backend (default "torch").
    n_trials : int
        Trials drawn, >= 1 (the same trials and noise draws in every column).
    n_units : int
        Hidden units (>= 0) of the first trial shown in the bottom row (0: no hidden-unit
        row).
    seed : int
        Trial and noise seed (noise drawn as in :func:`~brian_noisy_rnn.evaluate`).
    fig : matplotlib Figure, SubFigure or None
        Where to draw; None: a new Figure (:func:`new_figure`).
    **options : keyword arguments
        :func:`~brian_noisy_rnn.simulate` options (e.g. ``target`` for Brian2).

    Returns
    -------
    matplotlib.figure.Figure
        The Figure drawn into (the root Figure if ``fig`` is a SubFigure): one column per
        sigma; rows: inputs, outputs (solid) with targets (dashed, on scored steps;
        classification: the target class as dots on the argmax output), hidden units.
    """
    from . import tasks
    from .evaluation.scoring import check_spec_for_task, noise_seed, task_env
    from .evaluation.curves import swept_noise
    from .backends.simulation import simulate

    env = task_env(spec, env)
    check_spec_for_task(spec, env)
    check_int(n_trials, "n_trials", 1)
    check_int(n_units, "n_units", 0)
    placement = placement or (spec.noise.placement if spec.noise.placement != "none" else "pre")
    st = spec.noise.scalar_sigma()
    if sigmas is None:
        sigmas = [0.0, st] if st > 0 else [0.0]
    sigmas = as_dimensionless(sigmas, "sigmas")
    if sigmas.ndim != 1 or not 1 <= sigmas.size <= 6 or not np.all(np.isfinite(sigmas)) \
            or np.any(sigmas < 0):
        raise ValueError(f"sigmas must be 1 to 6 finite floats >= 0, got {sigmas.tolist()}")

    batch = tasks.batch(env, n_trials, seed=seed)
    dt_s = spec.dt_seconds
    rows = 3 if n_units > 0 else 2
    if fig is None:
        fig = new_figure((3.6 * len(sigmas), 2.2 * rows + 0.4))
    axes = fig.subplots(rows, len(sigmas), squeeze=False, sharex=True, sharey="row")
    colors = [f"C{i % 10}" for i in range(n_trials)]
    units = None
    for j, s in enumerate(sigmas):
        nz = swept_noise(spec, placement, s)
        res = simulate(spec, batch.inputs, backend=backend, noise=nz, seed=noise_seed(seed),
                       **options)
        if units is None:  # the most active units of trial 1 in the first column
            activity = np.abs(res.states[: int(batch.lengths[0]), 0]).mean(axis=0)
            units = np.sort(np.argsort(activity)[::-1][:n_units])
        for b in range(n_trials):
            L = int(batch.lengths[b])
            t = np.arange(L) * dt_s * 1e3
            axes[0, j].plot(t, batch.inputs[:L, b], color=colors[b], linewidth=1)
            out = res.outputs[:L, b]
            if batch.kind == "regression":
                axes[1, j].plot(t, out, color=colors[b], linewidth=1.3)
                tgt = np.where(batch.mask[:L, b, None], batch.targets[:L, b], np.nan)
                axes[1, j].plot(t, tgt, color=colors[b], linestyle="--", linewidth=1.3)
            else:
                choice = out.argmax(axis=-1)
                axes[1, j].plot(t, choice, color=colors[b], linewidth=1.3)
                tgt = np.where(batch.decision_mask[:L, b], batch.targets[:L, b], np.nan)
                axes[1, j].plot(t, tgt, color=colors[b], linestyle="none", marker=".",
                                markersize=4)
            if rows == 3 and b == 0:
                for k, u in enumerate(units):
                    axes[2, j].plot(t, res.states[:L, 0, u], linewidth=1, color=f"C{k + 3}",
                                    label=f"unit {u}")
        axes[0, j].set_title(f"{placement} test noise, sigma = {s:g}", fontsize=9)
        axes[-1, j].set_xlabel("time (ms)")
    axes[0, 0].set_ylabel("inputs")
    axes[1, 0].set_ylabel("output (solid)\ntarget (dashed)" if batch.kind == "regression"
                          else "chosen class (line)\ntarget (dots)")
    if rows == 3:
        axes[2, 0].set_ylabel(f"hidden h (trial 1,\n{len(units)} most active units)")
    fig.suptitle(f"{tasks.task_name(env)}: example trials (training: {spec.noise.placement}, "
                 f"sigma = {st:g})", fontsize=10)
    return root_figure(fig)


def save_figure(fig: Figure | SubFigure | Axes, path: str | os.PathLike, dpi: float = 120, *,
                close: bool = False, name: str = "path") -> str:
    """Save a figure to ``path`` atomically (no partial file is ever visible).

    Parameters
    ----------
    fig : matplotlib Figure, SubFigure or Axes
        What a plotting function returned; for a SubFigure or an Axes its whole (root)
        Figure is saved.
    path : str or path-like
        Output file; the format comes from the extension (``.png``, ``.pdf``, ``.svg``, ...;
        PNG if there is none). Missing parent folders are created.
    dpi : float
        Resolution in dots per inch (raster formats).
    close : bool
        Also close the figure in pyplot afterwards (for batch code that only saves: pyplot
        keeps open figures alive).
    name : str
        The argument named in errors about the file (e.g. ``"--figure"``; see
        :func:`~brian_noisy_rnn.core.atomic.atomic_write` for the rules on existing files).

    Returns
    -------
    str
        ``path``.
    """
    root = root_figure(fig)
    path = os.fspath(path)
    ext = os.path.splitext(path)[1] or ".png"
    with atomic_write(path, prefix=".tmp-fig-", suffix=ext, name=name) as f:
        root.savefig(f, dpi=dpi, format=ext.lstrip("."))
    if close:
        import matplotlib.pyplot as plt

        plt.close(root)
    return path
