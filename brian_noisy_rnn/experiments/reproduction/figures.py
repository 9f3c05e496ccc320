"""The reproduction report's figures: one PNG per claim with data (:func:`make_figures`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import verdicts as V
from .protocol import FAMILIES

__all__ = ["make_figures", "short_name"]


def short_name(column: str) -> str:
    """A task id without its version, e.g. ``"MazeNavigation-v0"`` -> ``"MazeNavigation"``.

    Parameters
    ----------
    column : str
        A task id or a column name of the verdict table.

    Returns
    -------
    str
        ``column`` without a trailing ``-v0``; other names as given.
    """
    return column.rsplit("-v", 1)[0] if column.endswith("-v0") else column


def make_figures(rows: Sequence[dict], analyses: dict, verdicts: dict, folder: str,
                 prefix: str = "") -> dict:
    """Write the report's PNG figures into ``folder``.

    Parameters
    ----------
    rows : sequence of dict
        :func:`~.report.curve_row` rows (with their ``curve``).
    analyses : dict
        As for :func:`~.report.render_report`.
    verdicts : dict
        :func:`~.report.compute_verdicts` of the same data (C2's onsets).
    folder : str
        Where the PNGs go.
    prefix : str
        Prefix of the file names (e.g. ``"reproduction_"``).

    Returns
    -------
    dict
        Claim -> file name (relative to ``folder``) of each figure written (claims without
        data get none).
    """
    import os

    from ...plotting import new_figure, plot_noise_preference, save_figure

    files = {}

    def save(fig, claim):
        name = f"{prefix}{claim.lower()}.png"
        save_figure(fig, os.path.join(folder, name), dpi=72, close=True)
        files[claim] = name

    c1 = [r for r in rows if r["claim"] == "C1" and r["backend"] == "torch"]
    tasks = sorted({r["task"] for r in c1},
                   key=lambda t: (FAMILIES.index(t) if t in FAMILIES else 2.5, t))
    if tasks:
        fig = new_figure((3.3 * len(tasks), 5.6))
        axes = fig.subplots(2, len(tasks), squeeze=False)
        for j, task in enumerate(tasks):
            for i, placement in enumerate(("pre", "post")):
                curves = [r["curve"] for r in c1 if r["task"] == task and r["placement"] == placement]
                ax = axes[i, j]
                if curves:
                    plot_noise_preference(curves, ax=ax, relative=True, legend=False,
                                          title=f"{short_name(task)}, {'inside' if i == 0 else 'outside'} f")
                    ax.set_xlabel("test / training sigma", fontsize=8)
                    ax.set_ylabel(curves[0].metric, fontsize=8)
                else:
                    ax.set_axis_off()
        save(fig, "C1")

    c2 = [r for r in rows if r["claim"] == "C2" and r["backend"] == "torch"]
    c2_tasks = sorted({r["task"] for r in c2})
    if c2_tasks:
        fig = new_figure((4.2 * len(c2_tasks), 3.8))
        axes = fig.subplots(1, len(c2_tasks), squeeze=False)[0]
        for ax, task in zip(axes, c2_tasks):
            sel = [r for r in c2 if r["task"] == task]
            levels = sorted({r["train_sigma"] for r in sel})
            top = max(levels) * 1.1
            ax.plot([0, top], [0, top], "k--", lw=1, label="diagonal")
            for r in sel:
                effect = V.noise_in_effect(r["preferred_sigma"], r["diff"], r["diff_sem"],
                                           r["higher_is_better"])
                ax.plot(r["train_sigma"], r["preferred_sigma"], "o", ms=6,
                        color=f"C{int(r['seed'] or 0) % 10}", mfc=None if effect else "none")
            means = [np.mean([r["preferred_sigma"] for r in sel if r["train_sigma"] == lv])
                     for lv in levels]
            ax.plot(levels, means, "-", color="0.3", lw=1.5, label="mean over seeds")
            onset = verdicts.get(("C2 onset", task))
            if onset is not None and onset.detail not in ("none", ""):
                ax.axvline(float(onset.detail), color="C3", ls=":", label="onset")
            ax.set_xlabel("training sigma")
            ax.set_ylabel("preferred test sigma")
            ax.set_title(f"{short_name(task)} (filled: effect > 2 SE)", fontsize=9)
            ax.legend(fontsize=7)
        save(fig, "C2")

    ff = [r for r in rows if r["claim"] == "C3"]
    if ff:
        groups = sorted({(r["task"], r["placement"]) for r in ff})
        fig = new_figure((3.3 * len(groups), 3.2))
        axes = fig.subplots(1, len(groups), squeeze=False)[0]
        for ax, (task, placement) in zip(axes, groups):
            curves = [r["curve"] for r in ff if r["task"] == task and r["placement"] == placement]
            # short two-line titles: the task's long name goes once, in the figure's title
            network = task.split("/", 1)[-1].removeprefix("feedforward, ")
            plot_noise_preference(curves, ax=ax, relative=True, legend=False,
                                  title=f"{network}\nnoise {'inside' if placement == 'pre' else 'outside'} f")
            ax.title.set_fontsize(8)
        fig.suptitle(f"feedforward networks on {sorted({t.split('/', 1)[0] for t, _ in groups})[0]}"
                     if groups else "", fontsize=9)
        save(fig, "C3")

    c4 = analyses.get("c4") or []
    if c4:
        c4_tasks = sorted({a["task"] for a in c4})
        fig = new_figure((4.0 * len(c4_tasks), 3.6))
        axes = fig.subplots(1, len(c4_tasks), squeeze=False)[0]
        for ax, task in zip(axes, c4_tasks):
            sel = [a for a in c4 if a["task"] == task]
            vals = [a[k] for a in sel for k in ("delta_measured", "delta_predicted",
                                                 "delta_predicted_dynamic")
                    if a[k] is not None]
            lo, hi = min(vals + [0.0]), max(vals + [0.0])
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            for a in sel:
                color = "C0" if a["placement"] == "pre" else "C1"
                ax.plot(a["delta_predicted_dynamic"], a["delta_measured"], "o", color=color)
                ax.plot(a["delta_predicted"], a["delta_measured"], "s", color=color, mfc="none")
            ax.plot([], [], "o", color="C0", label="inside f")
            ax.plot([], [], "o", color="C1", label="outside f")
            ax.plot([], [], "ks", mfc="none", label="fixed-point prediction")
            ax.set_xlabel("predicted loss increase at sigma 0")
            ax.set_ylabel("measured loss increase")
            ax.set_title(short_name(task), fontsize=9)
            ax.legend(fontsize=7)
        save(fig, "C4")

    c5 = analyses.get("c5") or []
    if c5:
        from ...evaluation.curves import NoisePreferenceCurve

        c5_tasks = sorted({a["task"] for a in c5})
        fig = new_figure((4.4 * len(c5_tasks), 3.6))
        axes = fig.subplots(1, len(c5_tasks), squeeze=False)[0]
        for ax, task in zip(axes, c5_tasks):
            sel = [a for a in c5 if a["task"] == task]
            from .analyses import C5_PROCESSES

            for k, name in enumerate(n for n in C5_PROCESSES if n in sel[0]["processes"]):
                curves = [NoisePreferenceCurve.from_dict(a["processes"][name]["curve"]) for a in sel]
                x = curves[0].sigmas
                y = np.mean([c.mean for c in curves], axis=0)
                ax.plot(x, y, "o-", ms=3, color=f"C{k}", label=name)
            ax.set_yscale("log")
            ax.set_xlabel("test sigma")
            ax.set_ylabel(f"{curves[0].metric} (mean over seeds)")
            ax.set_title(short_name(task), fontsize=9)
            ax.legend(fontsize=6)
        save(fig, "C5")

    comp = analyses.get("compensation") or []
    if comp:
        comp_tasks = [t for t in FAMILIES if any(a["task"] == t for a in comp)]
        fig = new_figure((2.6 * len(comp_tasks), 3.2))
        axes = fig.subplots(1, len(comp_tasks), squeeze=False)[0]
        for ax, task in zip(axes, comp_tasks):
            sel = [a for a in comp if a["task"] == task]
            keys = ("at_zero", "at_train", "compensated")
            vals = [[a[k] for a in sel] for k in keys]
            means = [np.mean(v) for v in vals]
            err = [[m - min(v) for m, v in zip(means, vals)], [max(v) - m for m, v in zip(means, vals)]]
            ax.bar(range(3), means, yerr=err, color=["C3", "C0", "C2"], capsize=3)
            ax.set_xticks(range(3), ["orig.\nsigma 0", "orig.\nsigma_train", "comp.\nsigma 0"],
                          fontsize=7)
            if all(m > 0 for m in means) and not sel[0]["higher_is_better"]:
                ax.set_yscale("log")
            ax.set_title(f"{short_name(task)} ({sel[0]['metric']})", fontsize=8)
        fig.suptitle("mean over seeds; error bars: range over seeds", fontsize=8)
        save(fig, "compensation")
    return files
