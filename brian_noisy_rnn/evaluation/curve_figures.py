"""Figures of noise-preference curves: :func:`plot_noise_preference` (one Axes) and
:func:`plot_noise_preference_panels`, and :func:`new_figure`, the Figure every figure of the
package starts from.

They live beside :class:`~brian_noisy_rnn.evaluation.NoisePreferenceCurve` so that
``curve.plot()`` imports them directly (matplotlib only; nothing here simulates);
:mod:`brian_noisy_rnn.plotting` re-exports them with its own figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.noise import PLACEMENTS
from ..core.noise_processes import placement_label

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    # NoisePreferenceCurve (evaluation.curves) is named in annotations only: curves.py
    # imports this module, so it is not imported back (not even for type checking)

__all__ = ["new_figure", "plot_noise_preference", "plot_noise_preference_panels", "root_figure"]

# line style per backend: torch solid, Brian2 dashed with open markers, others dotted
_BACKEND_STYLE = {
    "torch": {"linestyle": "-", "marker": "o", "markersize": 3, "linewidth": 1.4},
    "numpy": {"linestyle": ":", "marker": "s", "markersize": 3, "linewidth": 1.2},
    "brian2": {"linestyle": "--", "marker": "D", "markersize": 5, "markerfacecolor": "none",
               "linewidth": 1.2},
    "brian2-spiking": {"linestyle": "-.", "marker": "^", "markersize": 5,
                       "markerfacecolor": "none", "linewidth": 1.2},
}
def new_figure(figsize: tuple[float, float] | None = None) -> Figure:
    """A new, empty Figure with constrained layout, managed by pyplot.

    Made with ``matplotlib.pyplot.figure``, so ``plt.show()`` displays it and notebooks show
    it; no window opens before ``plt.show()`` unless pyplot's interactive mode is on (the
    user's choice, e.g. ``%matplotlib`` in IPython). Matplotlib has no public way to hand a
    bare ``Figure`` to pyplot afterwards, hence pyplot from the start.

    Parameters
    ----------
    figsize : (float, float) or None
        Width and height in inches; None: matplotlib's default (``rcParams["figure.figsize"]``).

    Returns
    -------
    matplotlib.figure.Figure
        Close it with ``plt.close(fig)`` (or ``save_figure(fig, path, close=True)``) when
        it is no longer needed: pyplot keeps its figures alive until closed.
    """
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def root_figure(obj, name="fig"):
    """The top-level Figure of a Figure, SubFigure or Axes.

    Parameters
    ----------
    obj : matplotlib Figure, SubFigure or Axes
        What to find the root of.
    name : str
        How ``obj`` is named in the TypeError raised for anything else.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    if isinstance(obj, Axes):
        obj = obj.figure
    while isinstance(obj, SubFigure):
        obj = obj.figure
    if not isinstance(obj, Figure):
        raise TypeError(f"{name} must be a matplotlib Figure, SubFigure or Axes, "
                        f"got {type(obj).__name__}")
    return obj


#: what a figure reads of a NoisePreferenceCurve (checked by attribute: curves.py imports
#: this module, so this module does not import it back)
_CURVE_ATTRIBUTES = ("sigmas", "mean", "sem", "metric", "higher_is_better", "sigma_train",
                     "train_placement", "backend", "task", "preferred_index")


def _is_curve(obj):
    return all(hasattr(obj, name) for name in _CURVE_ATTRIBUTES)


def _check_curves(curves):
    curves = [curves] if _is_curve(curves) else list(curves)
    if not curves:
        raise ValueError("curves must contain at least one NoisePreferenceCurve")
    for i, c in enumerate(curves):
        if not _is_curve(c):
            raise TypeError(f"curves[{i}] must be a NoisePreferenceCurve, got {type(c).__name__}")
    return curves


def _seed_of(curve):
    cell = getattr(curve, "cell", None)
    return cell.get("seed") if isinstance(cell, dict) else None


def _network_of(curve, index):
    """What identifies the curve's network: its grid seed, else its spec hash, else the
    curve itself (curves of one network share a colour)."""
    seed = _seed_of(curve)
    if seed is not None:
        return ("seed", seed)
    return ("spec", curve.spec_hash) if curve.spec_hash else ("curve", index)


def _network_name(curve, key):
    """The default legend name of a curve's network."""
    if key[0] == "seed":
        return f"seed {key[1]}"
    trained = f"trained {curve.train_placement} {curve.sigma_train:g}"
    return trained + (f", spec {key[1][:7]}" if key[0] == "spec" else "")


def plot_noise_preference(curves: NoisePreferenceCurve | Iterable[NoisePreferenceCurve], *,
                          ax: Axes | None = None, relative: bool = False,
                          log_y: bool | str = "auto", title: str | None = None,
                          legend: bool = True, labels: Iterable[str] | None = None) -> Figure:
    """Draw noise-preference curves on one Axes.

    Each curve: mean metric per test sigma with error bars (standard error over trials);
    colour per network, line style per backend (torch solid, Brian2 dashed); a star at each
    curve's best sigma; a grey dotted vertical line at each training sigma. A curve's
    network is its grid seed (curves read from a results database), else its
    ``spec_hash`` (curves of different networks get different colours).

    Parameters
    ----------
    curves : NoisePreferenceCurve or iterable of NoisePreferenceCurve
        E.g. one per seed and backend (also :meth:`NoisePreferenceCurve.plot
        <brian_noisy_rnn.evaluation.NoisePreferenceCurve.plot>`).
    ax : matplotlib Axes or None
        The Axes to draw on; None: a new Figure (:func:`new_figure`) with one Axes.
    relative : bool
        x axis in units of the training sigma (sigma / sigma_train, dimensionless).
    log_y : bool or "auto"
        Log y scale; "auto": for positive loss-like metrics spanning more than 5x.
    title : str or None
        Axes title.
    legend : bool
        Draw a legend (one entry per backend and network).
    labels : sequence of str or None
        One name per curve (in the order given) for the legend, e.g. ``["trained at 0.5",
        "trained at 1"]``; each entry reads "<backend>, <label>". Curves with the same
        label share a colour. None: the network's seed ("seed 2") or its training noise
        and spec hash ("trained pre 1, spec 3fa2c91").

    Returns
    -------
    matplotlib.figure.Figure
        The Figure drawn into (the root Figure of ``ax`` if given); the Axes is
        ``fig.axes[0]`` for a new figure.
    """
    curves = _check_curves(curves)
    if labels is not None:
        labels = list(labels) if not isinstance(labels, str) else None
        if labels is None or len(labels) != len(curves) \
                or not all(isinstance(v, str) for v in labels):
            raise ValueError(f"labels must be a sequence of {len(curves)} strings (one per "
                             f"curve), got {labels!r}")
    if ax is None:
        ax = new_figure((5, 3.6)).add_subplot()
    else:
        root_figure(ax, "ax")
    order = {"torch": 0, "brian2": 1}
    entries = []  # (network key, legend name, curve)
    for i, c in enumerate(curves):
        key = ("label", labels[i]) if labels is not None else _network_of(c, i)
        entries.append((key, labels[i] if labels is not None else _network_name(c, key), c))
    entries.sort(key=lambda e: (str(e[0]), order.get(e[2].backend, 2), e[2].backend))
    networks = list(dict.fromkeys(e[0] for e in entries))
    single = len(networks) == 1 and labels is None and networks[0][0] == "curve"
    for key, name, c in entries:
        x = c.sigmas / c.sigma_train if relative and c.sigma_train > 0 else c.sigmas
        style = dict(_BACKEND_STYLE.get(c.backend, _BACKEND_STYLE["numpy"]))
        color = f"C{networks.index(key) % 10}"
        label = c.backend if single else f"{c.backend}, {name}"
        ax.errorbar(x, c.mean, yerr=c.sem, color=color, capsize=2, label=label, **style)
        best = c.preferred_index
        if best is not None:  # None: no finite point, no preferred sigma
            ax.plot([x[best]], [c.mean[best]], marker="*", markersize=11, color=color,
                    markeredgecolor="k", markeredgewidth=0.5, linestyle="none", zorder=5)
    for st in sorted({c.sigma_train for c in curves}):
        xv = 1.0 if relative and st > 0 else st
        ax.axvline(xv, color="0.4", linestyle=":", linewidth=1)
    ax.text(0.99, 0.01, "dotted: training sigma; star: best", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, color="0.35")
    metric = curves[0].metric
    if log_y == "auto":
        vals = np.concatenate([c.mean[np.isfinite(c.mean)] for c in curves])
        log_y = (not curves[0].higher_is_better and vals.size > 0 and np.all(vals > 0)
                 and vals.max() / vals.min() > 5)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("test sigma / training sigma" if relative else "test noise sigma")
    ax.set_ylabel(f"{metric} ({'higher' if curves[0].higher_is_better else 'lower'} is better)")
    if title is not None:
        ax.set_title(title, fontsize=10)
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7, ncols=2 if len(uniq) > 4 else 1)
    return root_figure(ax)


def plot_noise_preference_panels(curves: Iterable[NoisePreferenceCurve], *,
                                 relative: bool = False,
                                 figsize: tuple[float, float] | None = None) -> Figure:
    """One panel per (task, training placement, training sigma), backends overlaid.

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        Grouped into panels by ``(task, train_placement, sigma_train)``.
    relative : bool
        x axis in units of the training sigma.
    figsize : (float, float) or None
        Width and height in inches; None: 5.2 x 3.8 per panel.

    Returns
    -------
    matplotlib.figure.Figure
        A new Figure (:func:`new_figure`), one visible Axes per panel.
    """
    curves = _check_curves(curves)
    groups = {}
    for c in curves:
        groups.setdefault((c.task, c.train_placement, c.sigma_train), []).append(c)
    order = [*(p for p in PLACEMENTS if p != "none"), "none"]
    keys = sorted(groups, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else 9, k[2]))
    n = len(keys)
    cols = min(n, 2) if n <= 4 else 3
    rows = int(np.ceil(n / cols))
    fig = new_figure(figsize or (5.2 * cols, 3.8 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, key in zip(axes, keys):
        task, placement, st = key
        name = f"noise {placement_label(placement)} ({placement})"
        plot_noise_preference(groups[key], ax=ax, relative=relative,
                              title=f"{task}\ntrained with {name}, sigma = {st:g}")
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig
