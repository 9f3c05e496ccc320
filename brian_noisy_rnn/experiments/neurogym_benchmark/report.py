"""The benchmark's report, computed from stored curves only: rows, Markdown table, headline
counts, CSV and heatmap."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ...core.noise_processes import placement_label
from ..summary import CLEAR_SE, NEAR_ZERO
from .chance import is_learned

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ...evaluation.curves import NoisePreferenceCurve


def _loss_name(curve):
    names = {curve.metric, *curve.other_metrics}
    return "cross_entropy" if "cross_entropy" in names else "mse"


def _paired(curve, name):
    """metric(sigma_train) - metric(0) and its paired standard error (NaN if not stored)."""
    if name not in curve.paired_vs_zero:
        return float("nan"), float("nan")
    mean, sem = curve.paired_vs_zero[name]
    i = curve.index_of(curve.sigma_train)
    return float(mean[i]), float(sem[i])


def _combine(diffs):
    """Mean over networks of paired differences and its standard error (trial noise only)."""
    d = np.array([x for x, _ in diffs], dtype=float)
    e = np.array([s for _, s in diffs], dtype=float)
    ok = np.isfinite(d)
    if not ok.any():
        return float("nan"), float("nan")
    se = float(np.sqrt(np.sum(np.where(np.isfinite(e[ok]), e[ok], np.nan) ** 2)) / ok.sum())
    return float(d[ok].mean()), se


def _significance(mean, sem, higher_is_better):
    """+1 if sigma_train is clearly better than 0, -1 if clearly worse, 0 otherwise."""
    if not (math.isfinite(mean) and math.isfinite(sem)) or abs(mean) <= CLEAR_SE * sem:
        return 0
    better = mean > 0 if higher_is_better else mean < 0
    return 1 if better else -1


def benchmark_rows(curves: Iterable[NoisePreferenceCurve], chance: dict[str, dict]) -> list[dict]:
    """The benchmark table: one row per (task, training placement), from recorded curves.

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        The recorded curves (``ResultStore.curves``; one per network), with
        ``paired_vs_zero`` and ``performance`` among their metrics.
    chance : dict of str to dict
        Task id -> :func:`chance_level` result.

    Returns
    -------
    list of dict
        Sorted by task, then placement (pre first). Keys: ``task``, ``dt_ms``, ``placement``,
        ``sigma_train``, ``n`` (networks), ``chance``, ``chance_policy``, ``performance``
        (list, per network, at the training sigma), ``performance_sem`` (list),
        ``learned`` (networks learned, :func:`is_learned`), ``task_learned`` (bool: a
        majority of the networks), ``loss`` (the trained loss's name), and for ``m`` in
        ``loss`` / ``perf``: ``{m}_preferred`` (list of preferred sigmas),
        ``{m}_ratio`` (mean preferred sigma / sigma_train), ``{m}_diff`` / ``{m}_diff_sem``
        (mean over networks of the paired difference metric(sigma_train) - metric(0) and
        its standard error from the trials), ``{m}_signif`` (+1: sigma_train clearly better
        than 0, -1: clearly worse, 0: neither; :data:`CLEAR_SE` standard errors) and
        ``{m}_seeds_better`` / ``{m}_seeds_worse`` (networks individually clearly better /
        worse at sigma_train).
    """
    groups = {}
    for c in curves:
        groups.setdefault((c.task, c.train_placement), []).append(c)
    order = {"pre": 0, "post": 1, "state": 2}
    rows = []
    for (task, placement), cs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        cs = sorted(cs, key=lambda c: (c.cell or {}).get("seed", 0))
        ch = chance.get(task, {})
        level = float(ch.get("chance", float("nan")))
        row = {"task": task, "placement": placement, "sigma_train": cs[0].sigma_train,
               "dt_ms": ((cs[0].cell or {}).get("config") or {}).get("network", {}).get("dt_ms"),
               "n": len(cs), "chance": level, "chance_policy": ch.get("policy", ""),
               "loss": _loss_name(cs[0])}
        perf = [c.with_metric("performance") for c in cs]
        row["performance"] = [p.metric_at_train for p in perf]
        row["performance_sem"] = [p.sem_at_train for p in perf]
        row["ceiling"] = float(ch.get("ceiling", float("nan")))
        row["learned"] = sum(is_learned(p, s, level, row["ceiling"])
                             for p, s in zip(row["performance"], row["performance_sem"]))
        row["task_learned"] = row["learned"] * 2 > row["n"]
        for key, name in (("loss", row["loss"]), ("perf", "performance")):
            views = [c.with_metric(name) for c in cs]
            row[f"{key}_preferred"] = [v.preferred_sigma for v in views]
            ratios = [v.preferred_ratio for v in views if math.isfinite(v.preferred_ratio)]
            row[f"{key}_ratio"] = float(np.mean(ratios)) if ratios else float("nan")
            diffs = [_paired(c, name) for c in cs]
            hib = views[0].higher_is_better
            row[f"{key}_diff"], row[f"{key}_diff_sem"] = _combine(diffs)
            row[f"{key}_signif"] = _significance(row[f"{key}_diff"], row[f"{key}_diff_sem"], hib)
            each = [_significance(d, s, hib) for d, s in diffs]
            row[f"{key}_seeds_better"] = sum(s > 0 for s in each)
            row[f"{key}_seeds_worse"] = sum(s < 0 for s in each)
        rows.append(row)
    return rows


def _fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _diff_text(row, key):
    d, e = row[f"{key}_diff"], row[f"{key}_diff_sem"]
    if not math.isfinite(d):
        return "-"
    mark = {1: " **+**", -1: " **-**", 0: ""}[row[f"{key}_signif"]]
    return (f"{d:+.3g} ± {_fmt(e, 2)}{mark} "
            f"({row[f'{key}_seeds_better']}/{row[f'{key}_seeds_worse']})")


def format_benchmark_table(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as a Markdown table.

    Columns: task (time step), chance, training placement, performance at sigma_train (mean
    over networks [min, max]), networks learned, preferred test sigma per network on the
    trained loss and on performance, and the paired differences metric(sigma_train) -
    metric(0) ± standard error (**+**: sigma_train clearly better, **-**: clearly worse),
    with the numbers of networks individually clearly better / worse at sigma_train.
    Tasks not learned are marked "(not learned)".

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        The table (header, separator, one line per row).
    """
    header = ("task", "chance", "noise", "performance at σ_train", "learned",
              "preferred σ (loss)", "Δloss = L(σ_train) − L(0) (seeds better/worse)",
              "preferred σ (performance)", "Δperformance = P(σ_train) − P(0) (seeds better/worse)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        perf = [p for p in r["performance"] if math.isfinite(p)]
        if len(perf) > 1:
            perf_text = f"{np.mean(perf):.3f} [{min(perf):.2f}, {max(perf):.2f}]"
        else:
            perf_text = _fmt(perf[0] if perf else float("nan"))
        task = f"{r['task']} ({_fmt(r['dt_ms'])} ms)"
        if not r["task_learned"]:
            task += " (not learned)"
        placement = placement_label(r["placement"])
        cells = (task, _fmt(r["chance"]), placement, perf_text, f"{r['learned']}/{r['n']}",
                 ", ".join(_fmt(p) for p in r["loss_preferred"]) + f" ({r['loss']})",
                 _diff_text(r, "loss"), ", ".join(_fmt(p) for p in r["perf_preferred"]),
                 _diff_text(r, "perf"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline(rows: list[dict]) -> dict:
    """The benchmark's headline counts over the tasks learned.

    A task counts as learned when both placements' rows are (``task_learned``); networks
    counted are those of learned tasks.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    dict
        ``tasks`` (int, tasks in the table), ``learned`` (list of learned task ids), and
        for ``m`` in ``loss`` / ``perf``: ``pre_{m}_prefers_noise`` / ``pre_n`` (noise-in
        networks whose preferred sigma is > 0 / all), ``post_{m}_near_zero`` / ``post_n``
        (noise-out networks preferring sigma <= NEAR_ZERO * sigma_train / all),
        ``pre_{m}_signif`` / ``post_{m}_signif`` (learned tasks whose mean paired
        difference says sigma_train is clearly better / clearly worse than 0).
    """
    tasks = sorted({r["task"] for r in rows})
    learned = [t for t in tasks if all(r["task_learned"] for r in rows if r["task"] == t)]
    out = {"tasks": len(tasks), "learned": learned}
    good = [r for r in rows if r["task"] in learned]
    pre = [r for r in good if r["placement"] == "pre"]
    post = [r for r in good if r["placement"] == "post"]
    out["pre_n"] = sum(r["n"] for r in pre)
    out["post_n"] = sum(r["n"] for r in post)
    for key in ("loss", "perf"):
        out[f"pre_{key}_prefers_noise"] = sum(p > 0 for r in pre for p in r[f"{key}_preferred"])
        out[f"post_{key}_near_zero"] = sum(p <= NEAR_ZERO * r["sigma_train"] + 1e-12
                                           for r in post for p in r[f"{key}_preferred"])
        out[f"pre_{key}_signif"] = sum(r[f"{key}_signif"] > 0 for r in pre)
        out[f"post_{key}_signif"] = sum(r[f"{key}_signif"] < 0 for r in post)
    return out


def format_headline(h: dict) -> str:
    """:func:`headline` as two sentences.

    Parameters
    ----------
    h : dict
        As returned by :func:`headline`.

    Returns
    -------
    str
        The headline text.
    """
    n = len(h["learned"])
    return (f"{n} of {h['tasks']} tasks learned. On the trained loss, "
            f"{h['pre_loss_prefers_noise']}/{h['pre_n']} noise-in networks prefer sigma > 0 "
            f"(sigma_train clearly better than 0 in {h['pre_loss_signif']}/{n} tasks) and "
            f"{h['post_loss_near_zero']}/{h['post_n']} noise-out networks prefer sigma ~ 0 "
            f"(clearly worse at sigma_train in {h['post_loss_signif']}/{n} tasks). On NeuroGym "
            f"performance: {h['pre_perf_prefers_noise']}/{h['pre_n']} noise-in networks prefer "
            f"sigma > 0 ({h['pre_perf_signif']}/{n} tasks clearly better at sigma_train), "
            f"{h['post_perf_near_zero']}/{h['post_n']} noise-out networks prefer ~0 "
            f"({h['post_perf_signif']}/{n} tasks clearly worse at sigma_train).")


#: columns of the benchmark CSV, in order
CSV_COLUMNS = ("task", "dt_ms", "placement", "sigma_train", "n", "chance", "chance_policy",
               "performance", "performance_sem", "learned", "task_learned", "loss",
               "loss_preferred", "loss_ratio", "loss_diff", "loss_diff_sem", "loss_signif",
               "loss_seeds_better", "loss_seeds_worse", "perf_preferred", "perf_ratio",
               "perf_diff", "perf_diff_sem", "perf_signif", "perf_seeds_better",
               "perf_seeds_worse")


def rows_to_csv(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as CSV text (lists joined with ``;``).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        A header line with :data:`CSV_COLUMNS` and one line per row.
    """
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = []
        for k in CSV_COLUMNS:
            v = r[k]
            if isinstance(v, (list, tuple)):
                v = ";".join(_fmt(x, 6) for x in v)
            elif isinstance(v, float):
                v = "" if not math.isfinite(v) else f"{v:.6g}"
            values.append(v)
        writer.writerow(values)
    return text.getvalue()


def plot_benchmark_heatmap(rows: list[dict], ax=None) -> Figure:
    """Heatmap of the benchmark: tasks x (placement, metric), colour = preferred sigma / sigma_train.

    Columns: noise inside f and outside f, on the trained loss and on NeuroGym performance.
    Each cell shows the mean over networks of preferred sigma / sigma_train and a mark from
    the paired difference metric(sigma_train) - metric(0) (mean over networks, beyond
    :data:`CLEAR_SE` standard errors): "+" sigma_train clearly better than 0, "−" clearly
    worse. Tasks not learned for both placements are greyed and labelled (not learned, or
    learned for one placement only).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.
    ax : matplotlib Axes or None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.
    """
    from ...plotting import new_figure

    tasks = sorted({r["task"] for r in rows})
    columns = [(p, k) for k in ("loss", "perf") for p in ("pre", "post")]
    by = {(r["task"], r["placement"]): r for r in rows}
    values = np.full((len(tasks), len(columns)), np.nan)
    marks = [["" for _ in columns] for _ in tasks]
    for i, t in enumerate(tasks):
        for j, (p, k) in enumerate(columns):
            r = by.get((t, p))
            if r is None:
                continue
            values[i, j] = r[f"{k}_ratio"]
            marks[i][j] = {1: "+", -1: "−", 0: ""}[r[f"{k}_signif"]]
    if ax is None:
        fig = new_figure((6.4, 0.9 + 0.26 * len(tasks)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=max(2.0, float(np.nanmax(values))
                                                               if np.isfinite(values).any() else 2.0),
                      aspect="auto")
    for i, t in enumerate(tasks):
        learned = all(by[(t, p)]["task_learned"] for p in ("pre", "post") if (t, p) in by)
        for j in range(len(columns)):
            if math.isfinite(values[i, j]):
                colour = "white" if values[i, j] < 1.0 else "black"
                ax.text(j, i, f"{values[i, j]:.2f}{marks[i][j]}", ha="center", va="center",
                        fontsize=7, color=colour)
        if not learned:
            ax.axhspan(i - 0.5, i + 0.5, color="white", alpha=0.55, lw=0)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{'inside' if p == 'pre' else 'outside'} f\n"
                        f"{'loss' if k == 'loss' else 'perf.'}" for p, k in columns],
                       fontsize=7)
    ax.set_yticks(range(len(tasks)))
    labels = []
    for t in tasks:
        ok = [p for p in ("pre", "post") if (t, p) in by and by[(t, p)]["task_learned"]]
        note = ("" if len(ok) == 2 else " (not learned)" if not ok
                else f" (learned {'inside' if ok[0] == 'pre' else 'outside'} f only)")
        labels.append(t.removesuffix("-v0") + note)
    ax.set_yticklabels(labels, fontsize=7)
    ax.xaxis.tick_top()
    cbar = fig.colorbar(image, ax=ax, shrink=0.6)
    cbar.set_label("preferred σ / σ_train (seed mean)", fontsize=8)
    ax.set_title("+ / −: σ_train clearly better / worse than σ = 0", fontsize=8)
    return fig
