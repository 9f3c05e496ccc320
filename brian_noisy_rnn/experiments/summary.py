"""The headline table: preferred test sigma per (task, placement, training sigma, backend).

Used by ``brian-noisy-rnn demo`` and ``brian-noisy-rnn results``. A curve "shows the
paper's effect" when (noise inside, ``pre``) its preferred sigma is > 0 and the metric at
sigma = 0 is worse than at the training sigma by more than :data:`CLEAR_SE` paired standard
errors, or (noise outside, ``post``) its preferred sigma is at or near 0 (at most
:data:`NEAR_ZERO` times the training sigma).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.noise import PLACEMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..evaluation.curves import NoisePreferenceCurve

__all__ = ["CLEAR_SE", "NEAR_ZERO", "format_table", "is_clearly_worse_at_zero", "markdown_table",
           "summarize"]

#: "clearly worse": the paired difference metric(0) - metric(train) exceeds this many standard errors
CLEAR_SE = 3.0
#: "near 0": preferred sigma <= NEAR_ZERO * training sigma
NEAR_ZERO = 0.25


def is_clearly_worse_at_zero(curve, diff=None, diff_sem=None):
    """True if the metric at sigma = 0 is worse than at the training sigma by > CLEAR_SE SE.

    Without a paired standard error the two points' own standard errors are combined
    (conservative: ignores the positive correlation common random numbers create).

    Parameters
    ----------
    curve : NoisePreferenceCurve
        The curve (:class:`~brian_noisy_rnn.NoisePreferenceCurve`), possibly with a
        ``cell`` row from a results database.
    diff : float or None
        The paired difference metric(0) - metric(train) (default: from the curve's
        per-trial values, or, if it has none, its ``cell`` row).
    diff_sem : float or None
        The standard error of ``diff`` (defaults as for ``diff``).

    Returns
    -------
    bool
        Whether sigma = 0 is clearly worse (with no finite standard error: just worse).
    """
    if diff is None:
        if curve.trial_values is not None:
            diff, diff_sem = curve.difference(0.0, curve.sigma_train)
        elif getattr(curve, "cell", None) and curve.cell.get("zero_minus_train") is not None:
            diff, diff_sem = curve.cell["zero_minus_train"], curve.cell["zero_minus_train_sem"]
        else:
            diff = curve.metric_at_zero - curve.metric_at_train
            diff_sem = math.hypot(curve.sem_at_zero, curve.sem_at_train)
    worse = diff if not curve.higher_is_better else -diff
    if diff_sem is None or not math.isfinite(diff_sem):
        return bool(worse > 0)
    return bool(worse > CLEAR_SE * diff_sem)


def _fmt(x, digits=4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def summarize(curves: Iterable[NoisePreferenceCurve]) -> list[dict]:
    """Group noise-preference curves by (task, placement, training sigma, backend).

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        The curves (:class:`~brian_noisy_rnn.NoisePreferenceCurve`), one per seed.

    Returns
    -------
    list of dict
        One per group, with ``task``, ``placement``, ``sigma_train``, ``backend``,
        ``metric``, ``n``, ``preferred`` (list of preferred sigmas), ``ratio`` (their mean
        ratio to the training sigma), ``at_zero`` / ``at_train`` (lists of the metric per
        curve), ``worse_at_zero`` (number of curves clearly worse at 0), ``near_zero``
        (number of curves preferring sigma <= NEAR_ZERO * sigma_train) and ``effect`` (a
        one-line verdict: "shown" / "partly shown" / "not shown" for ``pre``, "as expected" /
        "partly as expected" / "not as expected" for other placements).
    """
    groups = {}
    for c in curves:
        key = (c.task, c.train_placement, c.sigma_train, c.backend)
        groups.setdefault(key, []).append(c)
    rows = []
    order = {p: i for i, p in enumerate(q for q in PLACEMENTS if q != "none")}

    def sort_key(item):
        task, placement, sigma_train, backend = item[0]
        return (task, order.get(placement, 9), placement, sigma_train, backend != "torch", backend)

    for (task, placement, sigma_train, backend), cs in sorted(groups.items(), key=sort_key):
        n = len(cs)
        preferred = [c.preferred_sigma for c in cs]
        worse = sum(is_clearly_worse_at_zero(c) for c in cs)
        near = sum(p <= NEAR_ZERO * sigma_train + 1e-12 for p in preferred)
        if placement == "pre":
            both = sum(p > 0 and is_clearly_worse_at_zero(c) for p, c in zip(preferred, cs))
            verdict = "shown" if both == n else "partly shown" if both else "not shown"
            effect = (f"{verdict}: prefers sigma > 0 in {sum(p > 0 for p in preferred)}/{n}, "
                      f"clearly worse at 0 in {worse}/{n}")
        else:
            verdict = "as expected" if near == n else "partly as expected" if near else "not as expected"
            effect = f"{verdict}: prefers sigma near 0 in {near}/{n}"
        ratios = [c.preferred_ratio for c in cs if math.isfinite(c.preferred_ratio)]
        rows.append({
            "task": task, "placement": placement, "sigma_train": sigma_train, "backend": backend,
            "metric": cs[0].metric, "n": n, "preferred": preferred,
            "ratio": float(np.mean(ratios)) if ratios else float("nan"),
            "at_zero": [c.metric_at_zero for c in cs], "at_train": [c.metric_at_train for c in cs],
            "worse_at_zero": worse, "near_zero": near, "effect": effect,
        })
    return rows


def _span(values):
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return _fmt(float(v[0]))
    return f"{_fmt(float(np.mean(v)))} [{_fmt(float(np.min(v)), 3)}, {_fmt(float(np.max(v)), 3)}]"


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`summarize` as a plain-text (Markdown) table.

    Metric columns give the mean over seeds and [min, max].

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`summarize`.

    Returns
    -------
    str
        The table, one line per row plus a header and a separator line.
    """
    header = ("task", "trained", "sigma_train", "backend", "seeds", "metric",
              "preferred sigma (per seed)", "metric at 0", "metric at sigma_train", "effect")
    cells = [(r["task"], r["placement"], _fmt(r["sigma_train"], 3), r["backend"], str(r["n"]),
              r["metric"], ", ".join(_fmt(p, 3) for p in r["preferred"]), _span(r["at_zero"]),
              _span(r["at_train"]), r["effect"]) for r in rows]
    return "\n".join(markdown_table(header, cells))


def markdown_table(header, rows) -> list[str]:
    """A Markdown table's lines: the header, the separator, one line per row.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : iterable of sequence of str
        The cells of each row (as many as ``header``).

    Returns
    -------
    list of str
        ``len(rows) + 2`` lines.

    Examples
    --------
    >>> markdown_table(["a", "b"], [["1", "2"]])
    ['| a | b |', '|---|---|', '| 1 | 2 |']
    """
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cells) + " |" for cells in rows])
