"""The reproduction report: per-network rows, verdicts computed from them, Markdown and figures.

The pipeline is data -> rows -> verdicts -> text, each step a plain function, so that a
verdict can be recomputed from the CSV the run writes (``summary.csv`` holds exactly the
rows the verdicts come from):

- :func:`curve_row` turns a recorded noise-preference curve into one row (claim, task,
  placement, training sigma, seed, backend, preferred sigma, metric at 0 and at sigma_train,
  the paired difference and its standard error, the report metrics);
- :func:`compute_verdicts` applies the rules of :mod:`.verdicts` to the rows and to the
  analyses (C4, C5, compensation, C3, Brian2 agreement);
- :func:`render_report` writes the Markdown (one entry of :data:`CLAIM_SECTIONS` per claim);
  :func:`~.figures.make_figures` (in :mod:`.figures`) the PNG figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import verdicts as V
from .figures import make_figures, short_name
from .protocol import FAMILIES

__all__ = ["CLAIMS", "CLAIM_SECTIONS", "CLOSED_LOOP", "FEEDFORWARD", "ROW_COLUMNS", "ClaimSection",
           "ReportData", "columns_of", "compute_verdicts", "curve_row", "make_figures",
           "render_report", "verdict_rows"]

#: the column of the closed-loop maze in the verdict table
CLOSED_LOOP = "MazeNavigation (closed loop)"
#: the column of the feedforward networks (C3)
FEEDFORWARD = "Feedforward (FunctionApproximation)"
#: columns of summary.csv, in order
ROW_COLUMNS = ("claim", "grid", "task", "placement", "train_sigma", "seed", "backend", "metric",
               "higher_is_better", "preferred_sigma", "metric_at_zero", "sem_at_zero",
               "metric_at_train", "sem_at_train", "diff", "diff_sem", "n_trials", "steps")


def _f(x, digits=4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def curve_row(curve, claim: str, report_metrics: Sequence[str] = (), *, seed: int | None = None,
              diff: float | None = None, diff_sem: float | None = None, grid: str = "",
              steps: int | None = None) -> dict:
    """One row of ``summary.csv`` from a noise-preference curve.

    Parameters
    ----------
    curve : NoisePreferenceCurve
        A curve read from the results database (with its ``cell`` row, which gives the
        seed, grid, steps and paired difference), or a curve computed elsewhere (then pass
        them).
    claim : str
        The claim the curve serves ("C1", "C2", "C3", "brian2", ...).
    report_metrics : sequence of str
        Other metrics of the curve to add (``<name>_at_zero`` / ``<name>_at_train``).
    seed : int or None
        The network's training seed (default: from ``curve.cell``).
    diff : float or None
        The paired difference metric(0) - metric(sigma_train) (default: from the curve's
        per-trial values, else ``curve.cell``).
    diff_sem : float or None
        Its standard error (defaults as for ``diff``).
    grid : str
        The grid (or study) name (default: from ``curve.cell``).
    steps : int or None
        Training steps (default: from ``curve.cell``).

    Returns
    -------
    dict
        The :data:`ROW_COLUMNS`, the report metrics and ``curve`` (the curve itself, not
        written to the CSV).
    """
    cell = curve.cell or {}
    if diff is None:
        if curve.trial_values is not None:
            diff, diff_sem = curve.difference(0.0, curve.sigma_train)
        else:
            diff, diff_sem = cell.get("zero_minus_train"), cell.get("zero_minus_train_sem")
    row = {
        "claim": claim, "grid": grid or cell.get("grid_name", ""), "task": curve.task,
        "placement": curve.train_placement, "train_sigma": float(curve.sigma_train),
        "seed": cell.get("seed") if seed is None else seed, "backend": curve.backend,
        "metric": curve.metric, "higher_is_better": bool(curve.higher_is_better),
        "preferred_sigma": curve.preferred_sigma, "metric_at_zero": curve.metric_at_zero,
        "sem_at_zero": curve.sem_at_zero, "metric_at_train": curve.metric_at_train,
        "sem_at_train": curve.sem_at_train,
        "diff": float("nan") if diff is None else float(diff),
        "diff_sem": float("nan") if diff_sem is None else float(diff_sem),
        "n_trials": curve.n_trials, "steps": cell.get("steps") if steps is None else steps,
        "curve": curve,
    }
    for name in report_metrics:
        if name in curve.other_metrics:
            mean = curve.other_metrics[name][0]
            row[f"{name}_at_zero"] = float(mean[curve.index_of(0.0)])
            row[f"{name}_at_train"] = float(mean[curve.index_of(curve.sigma_train)])
    return row


def columns_of(rows: Sequence[dict]) -> list[str]:
    """The CSV columns of ``rows``: :data:`ROW_COLUMNS`, then every other key but ``curve``.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`curve_row`.

    Returns
    -------
    list of str
        Column names.
    """
    cols = list(ROW_COLUMNS)
    for r in rows:
        cols += [k for k in r if k not in cols and k != "curve"]
    return cols


def _select(rows, claim, task, placement=None, sigma=None, backend="torch"):
    return [r for r in rows if r["claim"] == claim and r["task"] == task
            and (placement is None or r["placement"] == placement)
            and (sigma is None or math.isclose(r["train_sigma"], sigma))
            and r["backend"] == backend]


def _pre_flags(rows):
    return [V.noise_in_effect(r["preferred_sigma"], r["diff"], r["diff_sem"],
                              r["higher_is_better"]) for r in rows]


def _post_flags(rows):
    return [V.noise_out_as_expected(r["preferred_sigma"], r["train_sigma"]) for r in rows]


_PRE_RULE = f"prefer sigma > 0 and worse at 0 by > {V.SE_RULE:g} SE"
_POST_RULE = f"prefer sigma <= {V.NEAR_ZERO:g} sigma_train"


def _placement_verdicts(rows, claim, task, sigma):
    pre = V.count_verdict(_pre_flags(_select(rows, claim, task, "pre", sigma)), _PRE_RULE)
    post = V.count_verdict(_post_flags(_select(rows, claim, task, "post", sigma)), _POST_RULE)
    return pre, post


def compute_verdicts(rows: Sequence[dict], analyses: dict, *, sigma_train: float = 1.0,
                     c2_families: Sequence[str] = FAMILIES[:2],
                     closed_loop_task: str = "MazeNavigationClosedLoop-v0") -> dict:
    """Every verdict of the report, from the rows and the analyses.

    Parameters
    ----------
    rows : sequence of dict
        :func:`curve_row` rows (claims "C1", "C2", "C3").
    analyses : dict
        ``"c4"``: rows with ``task``, ``placement``, ``delta_measured``,
        ``delta_predicted_dynamic``; ``"c5"``: rows with ``task``, ``sigma_train`` and
        ``processes`` (name -> ``preferred``, ``gain``); ``"compensation"``: rows with
        ``task``, ``compensated_minus_train`` and its ``..._sem`` (paired),
        ``higher_is_better``. Missing
        keys mean "not run".
    sigma_train : float
        C1's training sigma (also C2's default level).
    c2_families : sequence of str
        The families of C2, C4 and C5 (others get no verdict there).
    closed_loop_task : str
        The task id of the closed-loop maze rows.

    Returns
    -------
    dict
        ``(claim, column) -> Verdict`` where column is a task id of :data:`FAMILIES`,
        :data:`CLOSED_LOOP` or :data:`FEEDFORWARD`; C1 and C3 also have ``("C1 inside",
        column)`` and ``("C1 outside", column)`` (and C3's likewise), and C2 ``("C2 onset",
        task)`` (a Verdict whose ``detail`` is the onset level, or "none").
    """
    from .analyses import C5_PROCESSES

    out = {}
    columns = [(t, t) for t in FAMILIES] + [(CLOSED_LOOP, closed_loop_task)]
    for column, task in columns:
        pre, post = _placement_verdicts(rows, "C1", task, sigma_train)
        out["C1 inside", column], out["C1 outside", column] = pre, post
        out["C1", column] = V.c1_verdict(pre, post)
    # C2
    for task in c2_families:
        levels = sorted({r["train_sigma"] for r in _select(rows, "C2", task, "pre")})
        passed, totals = [], []
        for lv in levels:
            flags = _pre_flags(_select(rows, "C2", task, "pre", lv))
            passed.append(sum(flags))
            totals.append(len(flags))
        out["C2", task] = V.c2_verdict(levels, passed, totals, sigma_train)
        onset = V.c2_onset(levels, passed, totals) if levels else None
        out["C2 onset", task] = V.Verdict("n/a", detail="none" if onset is None else f"{onset:g}")
    # C3: feedforward networks, every depth and placement together
    ff = [r for r in rows if r["claim"] == "C3"]
    pre = V.count_verdict(_pre_flags([r for r in ff if r["placement"] == "pre"]), _PRE_RULE)
    post = V.count_verdict(_post_flags([r for r in ff if r["placement"] == "post"]), _POST_RULE)
    out["C3 inside", FEEDFORWARD], out["C3 outside", FEEDFORWARD] = pre, post
    out["C3", FEEDFORWARD] = V.c1_verdict(pre, post)
    # C4
    c4 = analyses.get("c4") or []
    for task in c2_families:
        sel = [a for a in c4 if a["task"] == task]
        # the verdict: the fixed-point prediction, independent of the noisy runs
        out["C4", task] = V.count_verdict(
            [V.c4_network_ok(a["delta_measured"], a["delta_predicted"]) for a in sel],
            f"fixed-point prediction within {V.PREDICTION_TOLERANCE:.0%} of the measurement")
        # the original rule (protocol v1): the trajectory prediction, which uses the noisy
        # mean output for noise outside f: a consistency check
        out["C4 trajectory", task] = V.count_verdict(
            [V.c4_network_ok(a["delta_measured"], a["delta_predicted_dynamic"]) for a in sel],
            f"trajectory prediction within {V.PREDICTION_TOLERANCE:.0%} of the measurement")
    # C5
    c5 = analyses.get("c5") or []
    names = list(C5_PROCESSES)
    outside = [n for n in names if C5_PROCESSES[n][0] == "post"]
    for task in c2_families:
        flags = []
        for a in (a for a in c5 if a["task"] == task):
            p = a["processes"]
            same = p[names[0]]
            gain_out = max((p[n]["gain"] for n in outside if p[n]["gain"] is not None),
                           default=float("nan"))
            flags.append(V.c5_network_ok(same["preferred"], a["sigma_train"], same["gain"],
                                         gain_out))
        out["C5", task] = V.count_verdict(
            flags, "prefers its training sigma +-25% and gains < half as much outside f")
    # compensation
    comp = analyses.get("compensation") or []
    for task in FAMILIES:
        sel = [a for a in comp if a["task"] == task]
        out["compensation", task] = V.count_verdict(
            [V.compensation_ok(a["compensated_minus_train"], a["compensated_minus_train_sem"],
                               a["higher_is_better"]) for a in sel],
            f"compensated network without noise not worse than the original at sigma_train "
            f"by > {V.SE_RULE:g} SE")
        # the rule fixed before the data: the compensated network closes >= 50 % of the gap
        # metric(0) - metric(sigma_train), over the networks that have a gap (> 2 SE)
        gapped = [a for a in sel if V.noise_in_effect(1.0, a["zero_minus_train"],
                                                      a["zero_minus_train_sem"],
                                                      a["higher_is_better"])]
        out["compensation gap", task] = V.count_verdict(
            [V.gap_closed(a["at_zero"], a["at_train"], a["compensated"], a["higher_is_better"])
             >= V.GAP_CLOSED_RULE for a in gapped],
            f"gap closed >= {V.GAP_CLOSED_RULE:.0%} (networks with a gap)") if gapped or not sel \
            else V.Verdict("n/a", 0, 0, f"none of its {len(sel)} networks has a gap to close")
    return out


def verdict_rows(verdicts: dict) -> list[dict]:
    """The verdicts as rows for ``verdicts.csv``.

    Parameters
    ----------
    verdicts : dict
        As returned by :func:`compute_verdicts`.

    Returns
    -------
    list of dict
        ``claim``, ``column``, ``verdict``, ``passed``, ``total``, ``detail``.
    """
    return [{"claim": claim, "column": column, "verdict": v.label, "passed": v.passed,
             "total": v.total, "detail": v.detail} for (claim, column), v in verdicts.items()]


# --- Markdown --------------------------------------------------------------------------------
def _span(values):
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return "-"
    if v.size == 1:
        return _f(float(v[0]))
    return f"{_f(float(v.mean()))} [{_f(float(v.min()), 3)}, {_f(float(v.max()), 3)}]"


def _diffs(rows):
    return ", ".join(f"{_f(r['diff'], 3)} +- {_f(r['diff_sem'], 2)}" for r in rows) or "-"


def _curve_table(rows, report_metrics=()):
    """Markdown table: one line per (task, placement, training sigma) over seeds."""
    head = ["task", "trained", "sigma_train", "seeds", "metric", "preferred sigma (per seed)",
            "metric at 0", "metric at sigma_train", "paired diff 0 - train +- SE (per seed)"]
    head += [f"{m} at 0 / at sigma_train" for m in report_metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = {}
    for r in rows:
        groups.setdefault((r["task"], r["placement"], r["train_sigma"]), []).append(r)
    order = {"pre": 0, "post": 1}
    for (task, placement, sigma), rs in sorted(groups.items(),
                                               key=lambda kv: (kv[0][0], order.get(kv[0][1], 2), kv[0][2])):
        rs = sorted(rs, key=lambda r: (r["seed"] is None, r["seed"]))
        cells = [task, "inside f" if placement == "pre" else "outside f" if placement == "post"
                 else placement, _f(sigma, 3), str(len(rs)), rs[0]["metric"],
                 ", ".join(_f(r["preferred_sigma"], 3) for r in rs),
                 _span(r["metric_at_zero"] for r in rs), _span(r["metric_at_train"] for r in rs),
                 _diffs(rs)]
        for m in report_metrics:
            cells.append(f"{_span(r.get(f'{m}_at_zero') for r in rs)} / "
                         f"{_span(r.get(f'{m}_at_train') for r in rs)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict_line(v):
    return f"**Verdict: {v.label}** ({v.detail})" if v.detail else f"**Verdict: {v.label}**"


def _table_columns(verdicts):
    cols = list(FAMILIES)
    cols.insert(3, CLOSED_LOOP)
    return cols + [FEEDFORWARD]


def _verdict_table(verdicts):
    cols = _table_columns(verdicts)
    lines = ["| claim | " + " | ".join(short_name(c) for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for claim in (section.claim for section in CLAIM_SECTIONS):
        cells = []
        for c in cols:
            v = verdicts.get((claim, c))
            pre, post = verdicts.get((f"{claim} inside", c)), verdicts.get((f"{claim} outside", c))
            if v is None:
                cells.append("—")
            elif pre is not None and v.total:  # the claim, then its control
                cells.append(f"{v.label} (inside f {pre.passed}/{pre.total}; control "
                             f"{post.passed}/{post.total})")
            else:
                unit = " levels" if claim == "C2" else ""
                cells.append(v.label if not v.total else f"{v.label} ({v.passed}/{v.total}{unit})")
        lines.append(f"| {claim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class ReportData:
    """What the report's claim sections read (see :func:`render_report`).

    Attributes
    ----------
    rows : sequence of dict
        :func:`curve_row` rows.
    analyses : dict
        As for :func:`render_report`.
    verdicts : dict
        :func:`compute_verdicts` of the same data.
    figures : dict
        Claim -> figure file name (relative to the report).
    report_metrics : dict
        Task -> further metrics to tabulate.
    """

    rows: Sequence[dict]
    analyses: dict
    verdicts: dict
    figures: dict
    report_metrics: dict

    def figure(self, claim: str) -> list[str]:
        """The Markdown lines of a claim's figure (none if it has no figure).

        Parameters
        ----------
        claim : str
            A claim of :data:`CLAIMS`.

        Returns
        -------
        list of str
            ``["![claim](file)", ""]`` or ``[]``.
        """
        return [f"![{claim}]({self.figures[claim]})", ""] if claim in self.figures else []

    def verdict_lines(self, claim: str, tasks: Sequence[str]) -> list[str]:
        """One ``- task: verdict`` line per task with a verdict of ``claim``, then a blank line.

        Parameters
        ----------
        claim : str
            A claim of :data:`CLAIMS`.
        tasks : sequence of str
            The columns, in order (those without a verdict of ``claim`` are skipped).

        Returns
        -------
        list of str
            The lines.
        """
        return [f"- {task}: {_verdict_line(self.verdicts[(claim, task)])}" for task in tasks
                if (claim, task) in self.verdicts] + [""]


def _claim_tasks(data, claim):
    return sorted(t for (c, t) in data.verdicts if c == claim)


def _c1_section(data):
    out = []
    c1 = [r for r in data.rows if r["claim"] == "C1" and r["backend"] == "torch"]
    if c1:
        for task in sorted({r["task"] for r in c1},
                           key=lambda t: (FAMILIES.index(t) if t in FAMILIES else 2.5, t)):
            sel = [r for r in c1 if r["task"] == task]
            out += [f"### {task}", "", _curve_table(sel, data.report_metrics.get(task, ())), ""]
            column = task if task in FAMILIES else CLOSED_LOOP
            for key, what in (("C1 inside", "inside f"), ("C1 outside", "outside f")):
                v = data.verdicts.get((key, column))
                if v is not None:
                    out.append(f"- {what}: {v.label} ({v.detail})")
            out += ["", _verdict_line(data.verdicts[("C1", column)]), ""]
        out += data.figure("C1")
    missing = [c for c in _table_columns(data.verdicts)[:-1]
               if data.verdicts.get(("C1", c)) is not None
               and data.verdicts[("C1", c)].label == "not run"]
    if missing:
        out += [f"Not run (no data): {', '.join(short_name(c) for c in missing)}.", ""]
    return out + _brian2_agreement(data)


def _brian2_agreement(data):
    out = ["### Brian2 against PyTorch", ""]
    b2 = data.analyses.get("brian2") or []
    if not b2:
        return out + ["not run", ""]
    out += ["The first seed's networks of each family swept in Brian2 (numpy target) and in "
            "PyTorch on the same trials and noise draws:", "",
            "| task | networks | points within 2 SE | largest difference of the curves |",
            "|---|---|---|---|"]
    for a in b2:
        out.append(f"| {a['task']} | {a['pairs']} | {a['within_error']}/{a['points']} | "
                   f"{a['max_abs_diff']:.2g} |")
    largest = max(a["max_abs_diff"] for a in b2)
    return out + ["", f"Largest Brian2-vs-torch difference of any curve: {largest:.2g}.", ""]


def _c2_section(data):
    out = []
    c2 = [r for r in data.rows if r["claim"] == "C2" and r["backend"] == "torch"]
    for task in sorted({t for (claim, t) in data.verdicts if claim == "C2"}):
        sel = [r for r in c2 if r["task"] == task]
        out += [f"### {task}", ""]
        if sel:
            out += [_curve_table(sel), ""] + _c2_levels(sel, task, data.verdicts)
        out += [_verdict_line(data.verdicts[("C2", task)]), ""]
    return out + data.figure("C2")


def _c2_levels(sel, task, verdicts):
    """C2's lines about the training levels of one task: ratios, counts, onset."""
    ratio = {}
    for r in sel:
        ratio.setdefault(r["train_sigma"], []).append(r["preferred_sigma"] / r["train_sigma"])
    out = ["preferred / training sigma (mean over seeds): " + ", ".join(
        f"{lv:g}: {np.mean(v):.2f}" for lv, v in sorted(ratio.items()))]
    counts = ", ".join(
        f"{lv:g}: {sum(_pre_flags(_select(sel, 'C2', task, 'pre', lv)))}/"
        f"{len(_select(sel, 'C2', task, 'pre', lv))}" for lv in sorted(ratio))
    out += ["", f"Seeds showing the effect per training sigma: {counts}."]
    onset = verdicts[("C2 onset", task)].detail
    below = [lv for lv in sorted(ratio) if onset != "none" and lv < float(onset)]
    return out + ["", f"Onset (effect in every seed from this level up): {onset}; "
                  + (f"below it (sigma_train <= {max(below):g}) the preference is not "
                     "measurable in every seed." if below else "measurable at every level tested."
                     if onset != "none" else "no level from which on it holds in every seed."),
                  ""]


def _c3_section(data):
    out = []
    ff = [r for r in data.rows if r["claim"] == "C3"]
    if ff:
        out += [_curve_table(ff), ""]
        for task in sorted({r["task"] for r in ff}):
            pre = [r for r in ff if r["task"] == task and r["placement"] == "pre"]
            post = [r for r in ff if r["task"] == task and r["placement"] == "post"]
            out.append(f"- {task}: inside f {sum(_pre_flags(pre))}/{len(pre)} show the effect, "
                       f"outside f {sum(_post_flags(post))}/{len(post)} prefer ~0")
        diffs = [r["torch_max_abs_diff"] for r in ff if r.get("torch_max_abs_diff") is not None]
        if diffs:
            out.append(f"- numpy reference against torch (first seed's networks): largest "
                       f"difference of the curves {max(diffs):.2g}")
        out.append("")
    return out + [_verdict_line(data.verdicts[("C3", FEEDFORWARD)]), ""] + data.figure("C3")


def _c4_section(data):
    out = []
    c4 = data.analyses.get("c4") or []
    if c4:
        tol = f"{V.PREDICTION_TOLERANCE:.0%}"
        out += ["`analysis.network_shift_report` on each C1 network: the loss change when the "
                "training noise is removed, measured (noise-free run against the noisy runs) and "
                "predicted from the mean field at its fixed points per trial input: a prediction "
                "independent of the noisy runs. The mean-field trajectory is given beside it as "
                "a consistency check, not a prediction: for noise outside f it is built from the "
                "noisy mean output.", "",
                "| task | trained | seed | loss at 0 | loss with noise | measured increase | "
                "predicted (fixed points) | its relative error | consistency check: trajectory | "
                "shift R^2 |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for a in sorted(c4, key=lambda a: (a["task"], a["placement"] != "pre", a["seed"])):
            m, p = a["delta_measured"], a["delta_predicted"]
            rel = f"{(p - m) / abs(m):+.0%}" if m and math.isfinite(m) and math.isfinite(p) else "-"
            out.append(f"| {a['task']} | {a['placement']} | {a['seed']} | {_f(a['loss_det'])} | "
                       f"{_f(a['loss_noisy'])} | {_f(m)} | {_f(p)} | {rel} | "
                       f"{_f(a['delta_predicted_dynamic'])} | {_f(a['shift_r2'], 3)} |")
        out += ["", f"The rule fixed before the data (protocol v1) was: the *trajectory* "
                    f"prediction is within {tol} of the measured change. Its result first:", ""]
        out += data.verdict_lines("C4 trajectory", _claim_tasks(data, "C4 trajectory"))
        out += [f"Since issue 19 the verdict uses the independent fixed-point prediction with "
                f"the same tolerance ({tol}), because the trajectory check reuses the noisy "
                "runs' mean and so cannot fail for the reason C4 tests:", ""]
    return out + data.verdict_lines("C4", _claim_tasks(data, "C4")) + data.figure("C4")


def _c5_section(data):
    from .analyses import C5_PROCESSES

    out = []
    c5 = data.analyses.get("c5") or []
    if c5:
        out += ["Each noise-inside network of C1 (white noise, sigma_train 1) swept with other "
                "test-noise processes; gain = metric(0) - metric(best sigma), paired, with its "
                "standard error.", "",
                "| task | seed | " + " | ".join(C5_PROCESSES) + " |",
                "|---|---|" + "---|" * len(C5_PROCESSES)]
        for a in sorted(c5, key=lambda a: (a["task"], a["seed"])):
            cells = [f"best {_f(p['preferred'], 3)}, gain {_f(p['gain'], 3)} +- "
                     f"{_f(p['gain_sem'], 2)}" for p in (a["processes"][n] for n in C5_PROCESSES)]
            out.append(f"| {a['task']} | {a['seed']} | " + " | ".join(cells) + " |")
        out.append("")
    return out + data.verdict_lines("C5", _claim_tasks(data, "C5")) + data.figure("C5")


def _compensation_section(data):
    out = []
    comp = data.analyses.get("compensation") or []
    if comp:
        out += ["`analysis.compensate(spec)` replaces f by its noise average E[f(a + sigma xi)] "
                "and runs without noise (same trials). Gap closed = (metric(0) - compensated) / "
                "(metric(0) - metric(sigma_train)), given where the original is worse at 0 by "
                f"more than {V.SE_RULE:g} SE. In `compensation.png` the bars are means over seeds "
                "and the error bars the range (smallest to largest seed).", "",
                f"The rule fixed before the data: the compensated network closes at least "
                f"{V.GAP_CLOSED_RULE:.0%} of the gap, on the networks that have one. Its result "
                "first:", ""]
        out += data.verdict_lines("compensation gap", _claim_tasks(data, "compensation gap"))
        out += ["The verdict's rule (since the first full run, because most networks of the "
                "families without the effect have no gap to close, where the fraction is "
                "undefined): the compensated network is not worse than the original at its "
                f"training noise by more than {V.SE_RULE:g} paired SE.", "",
                "| task | seed | metric | original at 0 | original at sigma_train | compensated "
                "at 0 | compensated - original at sigma_train (+- SE) | gap closed |",
                "|---|---|---|---|---|---|---|---|"]
        for a in sorted(comp, key=lambda a: (FAMILIES.index(a["task"]) if a["task"] in FAMILIES
                                             else 99, a["seed"])):
            fr = V.gap_closed(a["at_zero"], a["at_train"], a["compensated"], a["higher_is_better"])
            clear = V.noise_in_effect(1.0, a["zero_minus_train"], a["zero_minus_train_sem"],
                                      a["higher_is_better"])
            closed = f"{fr:.0%}" if clear and math.isfinite(fr) else "- (no gap)"
            out.append(f"| {a['task']} | {a['seed']} | {a['metric']} | {_f(a['at_zero'])} | "
                       f"{_f(a['at_train'])} | {_f(a['compensated'])} | "
                       f"{_f(a['compensated_minus_train'], 3)} +- "
                       f"{_f(a['compensated_minus_train_sem'], 2)} | "
                       f"{closed} |")
        out.append("")
    return (out + data.verdict_lines("compensation", FAMILIES)
            + data.figure("compensation"))


@dataclass(frozen=True)
class ClaimSection:
    """One claim's section of the report: its heading and the function that writes its body.

    Attributes
    ----------
    claim : str
        The claim's key in the verdicts, figures and the verdict table.
    title : str
        The section's heading (``## title``).
    render : callable(ReportData) -> list of str
        The section's Markdown lines after the heading.
    """

    claim: str
    title: str
    render: Callable[[ReportData], list[str]]


#: the report's claim sections, in order: adding a claim is one entry here (and its verdicts
#: in :func:`compute_verdicts`)
CLAIM_SECTIONS = (
    ClaimSection("C1", "C1: noise inside f is preferred, noise outside f is not (five task "
                 "families)", _c1_section),
    ClaimSection("C2", "C2: the preference arises for large enough training noise", _c2_section),
    ClaimSection("C3", "C3: feedforward networks", _c3_section),
    ClaimSection("C4", "C4: the mechanism (predicted vs measured loss increase at sigma 0)",
                 _c4_section),
    ClaimSection("C5", "C5: the network is tuned to its training noise (other processes)",
                 _c5_section),
    ClaimSection("compensation", "Beyond the paper: the compensated deterministic network",
                 _compensation_section),
)
#: the report's claims, in order
CLAIMS = tuple(s.claim for s in CLAIM_SECTIONS)
_CLAIM_TITLES = {s.claim: s.title for s in CLAIM_SECTIONS}


def _header_lines(header, settings, lead):
    """The report's title, run facts, lead and settings."""
    out = ["# Reproduction of Eckstein & Srinivasan (2026), paradoxical noise preference", ""]
    out += [f"- command: `{header.get('command', '')}`",
            f"- date: {header.get('date', '')}; protocol: {header.get('protocol', '')}; "
            f"seeds {list(header.get('seeds', []))}",
            f"- wall time: {header.get('wall', '-')}; CPU time: {header.get('cpu', '-')}"]
    if header.get("commits"):
        out.append("- code: commit " + ", ".join(c[:12] for c in header["commits"])
                   + " (one per invocation that changed it)")
    versions = header.get("versions") or {}
    out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    out += [f"- {n}" for n in header.get("notes", [])]
    if lead:
        out += ["", lead, "", "## The paper's claims, one by one"]
    out += ["", "Settings: relu CTRNNs, tau 100 ms, dt 20 ms (gamma 0.2), per-step white noise "
            "inside f (`pre`) or outside f (`post`) during training; each network's test noise "
            "is swept over 0, 0.25, ..., 2 times its training sigma on the same trials and "
            "noise draws at every sigma (paired differences).", ""]
    return out + list(settings)


def _verdicts_lines(verdicts):
    """The verdict table with its rules."""
    return ["", "## Verdicts", "",
            f"Rules (computed from the data by `brian_noisy_rnn.experiments.reproduction."
            f"verdicts`): a noise-inside network shows the effect if its preferred test sigma is "
            f"> 0 and its metric at sigma 0 is worse than at sigma_train by more than "
            f"{V.SE_RULE:g} paired standard errors; a noise-outside network behaves as claimed if "
            f"its preferred sigma is <= {V.NEAR_ZERO:g} sigma_train. \"reproduced\": the rule "
            "holds for every network (seed), \"partly\": for some, \"not\": for none; "
            "C1 and C3 are labelled by their claim (the noise-inside networks), with the "
            "noise-outside networks' count beside it as the control; "
            "\"not run\": no data in this run; —: not part of the claim. C2 counts the training levels with the "
            "effect in every seed; the sections below give each claim's own rule.", "",
            _verdict_table(verdicts), ""]


def render_report(header: dict, rows: Sequence[dict], analyses: dict, verdicts: dict,
                  figures: dict, settings: Sequence[str] = (),
                  report_metrics: dict | None = None, lead: str = "") -> str:
    """The report as Markdown: header, verdict table, then each of :data:`CLAIM_SECTIONS`.

    Parameters
    ----------
    header : dict
        ``command``, ``date``, ``wall``, ``cpu`` (str), ``versions`` (dict), ``protocol``
        (str: "full" or "quick"), ``seeds`` (list), ``notes`` (list of str, optional).
    rows : sequence of dict
        :func:`curve_row` rows.
    analyses : dict
        As for :func:`compute_verdicts`, plus ``"brian2"``: rows with ``task``, ``backend``,
        ``pairs``, ``points``, ``within_error``, ``max_abs_diff``.
    verdicts : dict
        :func:`compute_verdicts` of the same data.
    figures : dict
        Claim -> figure file name (relative to the report); a missing claim has no figure.
    settings : sequence of str
        Lines describing the protocol (``Protocol.describe()``).
    report_metrics : dict or None
        Task -> further metrics to tabulate.
    lead : str
        Markdown placed after the header, before the claims (the onset study's answer).

    Returns
    -------
    str
        The Markdown text.
    """
    data = ReportData(rows, analyses, verdicts, figures, report_metrics or {})
    out = _header_lines(header, settings, lead) + _verdicts_lines(verdicts)
    for section in CLAIM_SECTIONS:
        out += [f"## {section.title}", ""] + section.render(data)
    out += list(header.get("appendix", []))
    return "\n".join(out).rstrip() + "\n"
