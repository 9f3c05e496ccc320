"""The benchmark's report, computed from stored curves only: which network of the two training
stages counts, rows, Markdown tables, headline counts, CSV and heatmap.

Ties are sets: a network's preferred test sigma is every sigma within one standard error of
the best (:meth:`~brian_noisy_rnn.evaluation.curves.NoisePreferenceCurve.preferred_set`), and
a network whose set holds both sigma ~ 0 and sigma > 0 counts as a tie, never as either."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ...core.noise_processes import placement_label
from ..summary import CLEAR_SE, NEAR_ZERO, markdown_table
from .chance import is_learned
from .protocol import network_id

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ...evaluation.curves import NoisePreferenceCurve
    from .protocol import BenchmarkSettings

__all__ = ["CSV_COLUMNS", "DIAGNOSTIC", "TIE_SE", "benchmark_rows", "criterion_score",
           "decision_loss_name", "failed_networks", "format_benchmark_table", "format_headline",
           "format_loss_comparison", "format_missed",
           "format_preferred_set", "headline", "missed_for_stage2", "passes",
           "plot_benchmark_heatmap", "preference_verdict", "rows_to_csv", "select_networks",
           "trained_loss"]

#: band of the preferred set, in standard errors of the best point (the one-SE rule)
TIE_SE = 1.0
#: the column of the noise-dependence diagnostic (bias^2 against variance at sigma_train):
#: shift / fluctuation (ratio) of ``brian_noisy_rnn.analysis.noise_dependence`` per network
DIAGNOSTIC = "noise_dependence"


def _config(curve):
    return (curve.cell or {}).get("config") or {}


def _is_classification(curve):
    return "accuracy" in {curve.metric, *curve.other_metrics}


def trained_loss(curve: NoisePreferenceCurve) -> str:
    """The loss a recorded network was trained on.

    Parameters
    ----------
    curve : NoisePreferenceCurve
        A recorded curve (``curve.cell`` holds its cell row).

    Returns
    -------
    str
        ``"cross_entropy"``, ``"mse_onehot"`` or ``"mse"``.
    """
    return _loss_name(_config(curve), _is_classification(curve))


def _loss_name(config, classification):
    """The training loss of a cell config: its own, else its task kind's default."""
    loss = config.get("training", {}).get("loss")
    if loss is not None:
        return loss
    return "cross_entropy" if classification else "mse"


def decision_loss_name(loss: str) -> str:
    """The decision-step metric of a training loss (regression: ``mse``, already scored on
    the response period only).

    Parameters
    ----------
    loss : str
        A training loss (:func:`trained_loss`).

    Returns
    -------
    str
        ``decision_cross_entropy``, ``decision_mse_onehot`` or ``mse``.
    """
    return {"cross_entropy": "decision_cross_entropy",
            "mse_onehot": "decision_mse_onehot"}.get(loss, loss)


def _names(curve):
    return {curve.metric, *curve.other_metrics}


def criterion_score(curve: NoisePreferenceCurve, chance: dict) -> tuple[float, float, float, float]:
    """What the learning criterion judges: ``(score, sem, chance, ceiling)`` at sigma_train.

    Classification: decision-step accuracy against the best decision-step accuracy of the
    stimulus-blind policies (``chance["accuracy_chance"]``), ceiling 1. Continuous actions:
    NeuroGym performance against ``chance["chance"]`` and ``chance["ceiling"]``.

    Parameters
    ----------
    curve : NoisePreferenceCurve
        A recorded curve.
    chance : dict
        The task's :func:`~.chance.chance_level` result.

    Returns
    -------
    tuple of float
        Arguments of :func:`~.chance.is_learned`.
    """
    if _is_classification(curve):
        view = curve.with_metric("accuracy")
        level, ceiling = chance.get("accuracy_chance", float("nan")), 1.0
    else:
        view = curve.with_metric("performance")
        level, ceiling = chance.get("chance", float("nan")), chance.get("ceiling", float("nan"))
    return view.metric_at_train, view.sem_at_train, float(level), float(ceiling)


def passes(curve: NoisePreferenceCurve, chance: dict) -> bool:
    """True if the network of ``curve`` meets the learning criterion (:func:`criterion_score`
    judged by :func:`~.chance.is_learned`).

    Parameters
    ----------
    curve : NoisePreferenceCurve
        One network's recorded curve (its metrics at the training sigma are judged).
    chance : dict
        Chance levels of its task (as :func:`~.chance.chance_level` returns them).

    Returns
    -------
    bool
        Whether the network learned its task.
    """
    return is_learned(*criterion_score(curve, chance))


def select_networks(curves: Iterable[NoisePreferenceCurve], chance: dict[str, dict],
                    settings: BenchmarkSettings) -> tuple[list, list]:
    """The network that counts for each (task, placement, sigma_train, seed, loss).

    The first stage's network (``settings.steps``) if it met the criterion (:func:`passes`),
    else the second stage's (``settings.cap_steps``) if recorded, else the first stage's.

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        Recorded curves of both stages.
    chance : dict of str to dict
        Task id -> :func:`~.chance.chance_level` result.
    settings : BenchmarkSettings
        The protocol (its ``steps`` and ``cap_steps`` tell the stages apart).

    Returns
    -------
    selected : list of NoisePreferenceCurve
        One per network, each with attributes ``stage`` (1 or 2), ``tried`` (steps of the
        stages recorded) and ``learned`` (bool).
    missed : list of NoisePreferenceCurve
        Those of ``selected`` that did not learn, with stage 2 recorded or none configured.
    """
    by_id = {}
    for c in curves:
        steps = int(_config(c).get("training", {}).get("steps", 0))
        stage = 1 if steps == settings.steps else 2 if steps == settings.cap_steps else None
        if stage is not None:
            by_id.setdefault(network_id(_config(c)), {})[stage] = c
    selected, missed = [], []
    for nid in sorted(by_id, key=lambda k: tuple("" if x is None else x for x in k)):
        stages = by_id[nid]
        task_chance = chance.get(nid[0], {})
        first_ok = 1 in stages and passes(stages[1], task_chance)
        stage = 1 if (first_ok or 2 not in stages) else 2
        c = stages[stage]
        c.stage, c.learned = stage, first_ok if stage == 1 else passes(c, task_chance)
        c.tried = [settings.steps if s == 1 else settings.cap_steps for s in sorted(stages)]
        selected.append(c)
        if not c.learned and (stage == 2 or settings.cap_steps <= 0):
            missed.append(c)
    return selected, missed


def missed_for_stage2(curves: Iterable[NoisePreferenceCurve], chance: dict[str, dict],
                      settings: BenchmarkSettings) -> set:
    """:func:`~.protocol.network_id` s of first-stage networks that missed the criterion.

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        Recorded curves.
    chance : dict of str to dict
        Task id -> :func:`~.chance.chance_level` result.
    settings : BenchmarkSettings
        The protocol.

    Returns
    -------
    set of tuple
        The networks to train again for ``settings.cap_steps``.
    """
    return {network_id(_config(c)) for c in curves
            if int(_config(c).get("training", {}).get("steps", 0)) == settings.steps
            and not passes(c, chance.get(c.task, {}))}


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


def preference_verdict(preferred: Iterable[float], sigma_train: float) -> str:
    """What a preferred set says: ``"noise"`` (every sigma in it > NEAR_ZERO * sigma_train),
    ``"zero"`` (every sigma <= NEAR_ZERO * sigma_train), ``"tie"`` (both kinds) or ``"-"``
    (empty set).

    Parameters
    ----------
    preferred : iterable of float
        A preferred set (:meth:`~brian_noisy_rnn.evaluation.curves.NoisePreferenceCurve.preferred_set`).
    sigma_train : float
        The training sigma.

    Returns
    -------
    str
        The verdict.
    """
    near = [s <= NEAR_ZERO * sigma_train + 1e-12 for s in preferred]
    if not near:
        return "-"
    return "zero" if all(near) else "noise" if not any(near) else "tie"


def _preferences(row, key, curves, name):
    views = [c.with_metric(name) for c in curves]
    row[f"{key}_metric"] = name
    row[f"{key}_at_train"] = [v.metric_at_train for v in views]
    row[f"{key}_preferred"] = [v.preferred_sigma for v in views]
    row[f"{key}_sets"] = [v.preferred_set(TIE_SE) for v in views]
    row[f"{key}_verdicts"] = [preference_verdict(s, row["sigma_train"]) for s in row[f"{key}_sets"]]
    ratios = [v.preferred_ratio for v in views if math.isfinite(v.preferred_ratio)]
    row[f"{key}_ratio"] = float(np.mean(ratios)) if ratios else float("nan")
    row[f"{key}_ties"] = row[f"{key}_verdicts"].count("tie")
    diffs = [_paired(c, name) for c in curves]
    hib = views[0].higher_is_better
    row[f"{key}_diff"], row[f"{key}_diff_sem"] = _combine(diffs)
    row[f"{key}_signif"] = _significance(row[f"{key}_diff"], row[f"{key}_diff_sem"], hib)
    each = [_significance(d, s, hib) for d, s in diffs]
    row[f"{key}_seeds_better"] = sum(s > 0 for s in each)
    row[f"{key}_seeds_worse"] = sum(s < 0 for s in each)


def _at_train(curves, name):
    if not all(name in _names(c) for c in curves):
        return [float("nan")] * len(curves), [float("nan")] * len(curves)
    views = [c.with_metric(name) for c in curves]
    return [v.metric_at_train for v in views], [v.sem_at_train for v in views]


def benchmark_rows(curves: Iterable[NoisePreferenceCurve], chance: dict[str, dict],
                   scorers: dict[str, dict] | None = None,
                   diagnostics: dict | None = None,
                   failed: Iterable[dict] = ()) -> list[dict]:
    """The benchmark table: one row per (task, sigma_train, training loss, placement).

    Parameters
    ----------
    curves : iterable of NoisePreferenceCurve
        One curve per network (:func:`select_networks`; curves without its ``stage`` /
        ``learned`` attributes are judged by :func:`passes` here).
    chance : dict of str to dict
        Task id -> :func:`~.chance.chance_level` result.
    scorers : dict of str to dict or None
        Task id -> :func:`~.chance.scorer_check` result (None or missing: not checked).
    diagnostics : dict or None
        Cell key -> the noise-dependence diagnostic of that network (text); None: the
        diagnostic is not available (``DIAGNOSTIC`` column "pending").
    failed : iterable of dict
        :func:`failed_networks`: networks of the protocol without a result (their training
        failed, e.g. diverged) count as not learned, in their row's ``failed``.

    Returns
    -------
    list of dict
        Sorted by task, sigma_train, loss, placement (pre first). Keys: ``task``, ``dt_ms``,
        ``units``, ``placement``, ``sigma_train``, ``loss`` (trained), ``n`` (networks with a
        result), ``failed`` (networks without one), ``seeds``,
        ``steps`` (per network, the stage used), ``chance`` (performance),
        ``accuracy_chance``, ``ceiling``, ``performance`` / ``performance_sem`` /
        ``accuracy`` / ``accuracy_sem`` (per network, at sigma_train), ``learned``
        (networks meeting the criterion), ``task_learned`` (a majority of ``n + failed``),
        ``scorer_checked``
        (the check ran: a choice task with NeuroGym performance), ``scorer_flagged``,
        ``scorer_reason``, ``score_name`` (what the row is judged on besides the loss:
        ``performance``, or ``accuracy`` where the scorer is flagged or absent),
        ``diagnostic`` (list of text, or None), and for ``key`` in ``dloss`` (the
        decision-step loss) and ``score``: ``{key}_metric``, ``{key}_at_train``,
        ``{key}_preferred`` (best sigma per network), ``{key}_sets`` (preferred sets),
        ``{key}_verdicts`` (:func:`preference_verdict`), ``{key}_ties``, ``{key}_ratio``,
        ``{key}_diff`` / ``{key}_diff_sem`` / ``{key}_signif`` (paired difference
        metric(sigma_train) - metric(0) over networks; +1 clearly better at sigma_train),
        ``{key}_seeds_better`` / ``{key}_seeds_worse``.
    """
    scorers = scorers or {}
    n_failed = {}
    for f in failed:
        if f.get("has_result"):  # counted with the result of its other stage
            continue
        key = (f["task"], float(f["sigma_train"]), f["loss"], f["placement"])
        n_failed[key] = n_failed.get(key, 0) + 1
    groups = {}
    for c in curves:
        groups.setdefault((c.task, float(c.sigma_train), trained_loss(c), c.train_placement),
                          []).append(c)
    order = {"pre": 0, "post": 1, "state": 2}
    rows = []
    for (task, sigma, loss, placement), cs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], order.get(kv[0][3], 9))):
        cs = sorted(cs, key=lambda c: _config(c).get("seed", 0))
        ch = chance.get(task, {})
        sc = scorers.get(task, {})
        network = _config(cs[0]).get("network", {})
        row = {"task": task, "placement": placement, "sigma_train": sigma, "loss": loss,
               "dt_ms": network.get("dt_ms"), "units": network.get("n_hidden"), "n": len(cs),
               "failed": n_failed.get((task, sigma, loss, placement), 0),
               "seeds": [_config(c).get("seed") for c in cs],
               "steps": [int(_config(c).get("training", {}).get("steps", 0)) for c in cs],
               "chance": float(ch.get("chance", float("nan"))),
               "accuracy_chance": float(ch.get("accuracy_chance", float("nan"))),
               "ceiling": float(ch.get("ceiling", float("nan"))),
               "chance_policy": ch.get("policy", ""),
               "scorer_checked": bool(sc.get("checked", False)),
               "scorer_flagged": bool(sc.get("flagged", False)),
               "scorer_reason": sc.get("reason", "")}
        row["performance"], row["performance_sem"] = _at_train(cs, "performance")
        row["accuracy"], row["accuracy_sem"] = _at_train(cs, "accuracy")
        row["learned"] = sum(c.learned if hasattr(c, "learned") else passes(c, ch) for c in cs)
        row["task_learned"] = row["learned"] * 2 > row["n"] + row["failed"]
        has_perf = all("performance" in _names(c) for c in cs)
        row["score_name"] = ("performance" if has_perf and not row["scorer_flagged"]
                             else "accuracy" if _is_classification(cs[0]) else "performance")
        _preferences(row, "dloss", cs, decision_loss_name(loss))
        _preferences(row, "score", cs, row["score_name"])
        row["diagnostic"] = (None if diagnostics is None
                             else [diagnostics.get((c.cell or {}).get("cell_key"), "-") for c in cs])
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


def format_preferred_set(preferred: Iterable[float]) -> str:
    """A preferred set as text: ``"1"`` for one sigma, ``"tie {0, 0.5, 1}"`` for several.

    Parameters
    ----------
    preferred : iterable of float
        Test sigmas.

    Returns
    -------
    str
        The text ("-" for an empty set).
    """
    values = [_fmt(s) for s in preferred]
    if not values:
        return "-"
    return values[0] if len(values) == 1 else "tie {" + ", ".join(values) + "}"


def _spread(values, digits=2):
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits + 1}f}"
    return f"{np.mean(v):.{digits + 1}f} [{min(v):.{digits}f}, {max(v):.{digits}f}]"


def _condition(row):
    return (row["sigma_train"], row["loss"] if row["loss"] != "mse" else "cross_entropy")


def _condition_title(sigma, loss):
    return (f"σ_train = {_fmt(sigma)}, loss {loss} "
            + ("(continuous-action tasks: mse)" if loss == "cross_entropy" else
               "(classification tasks only)"))


def format_benchmark_table(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as Markdown: one table per (sigma_train, loss).

    Columns: task (time step, units), training placement, training steps of the networks
    used, networks learned (criterion; networks whose training failed count as not learned),
    chance (decision-step accuracy / performance),
    decision-step accuracy, decision-step loss and NeuroGym performance at sigma_train (mean
    [min, max]), the scorer check ("not checked" for continuous actions or without a check),
    the preferred test sigma per network on the decision-step loss and on the row's score
    (ties shown as ``tie {...}``), the paired differences metric(sigma_train) - metric(0) ±
    standard error (**+**: sigma_train clearly better, **-**: clearly worse; networks
    individually better / worse), and the noise-dependence diagnostic per network (shift /
    fluctuation (ratio) on the decision-step loss at sigma_train; "pending" when not
    computed).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        A ``###`` heading and a table per condition.
    """
    header = ("task", "noise", "steps", "learned", "chance (acc / perf)",
              "accuracy at σ_train", "decision loss at σ_train", "performance at σ_train",
              "scorer",
              "preferred σ (decision loss)", "Δ decision loss (better/worse)",
              "preferred σ (score)", "Δ score (better/worse)",
              "shift / fluctuation (ratio), decision steps")
    out = []
    for cond in sorted({_condition(r) for r in rows}):
        table = []
        for r in (r for r in rows if _condition(r) == cond):
            task = f"{r['task']} ({_fmt(r['dt_ms'])} ms, {r['units']} units)"
            if not r["task_learned"]:
                task += " (not learned)"
            placement = placement_label(r["placement"])
            scorer = ("**flagged**: judged on accuracy" if r["scorer_flagged"]
                      else "no performance" if r["score_name"] != "performance"
                      else "ok" if r["scorer_checked"] else "not checked")
            steps = ", ".join(str(s) for s in r["steps"])
            diag = ("pending" if r["diagnostic"] is None else ", ".join(r["diagnostic"]))
            learned = f"{r['learned']}/{r['n'] + r.get('failed', 0)}" + (
                f" ({r['failed']} failed)" if r.get("failed") else "")
            cells = (task, placement, steps, learned,
                     f"{_fmt(r['accuracy_chance'])} / {_fmt(r['chance'])}",
                     _spread(r["accuracy"]), _spread(r["dloss_at_train"], 3),
                     _spread(r["performance"]), scorer,
                     "; ".join(format_preferred_set(s) for s in r["dloss_sets"])
                     + f" ({r['dloss_metric']})",
                     _diff_text(r, "dloss"),
                     "; ".join(format_preferred_set(s) for s in r["score_sets"])
                     + f" ({r['score_name']})",
                     _diff_text(r, "score"), diag)
            table.append(cells)
        out += ["", f"### {_condition_title(*cond)}", ""] + markdown_table(header, table)
    return "\n".join(out).strip("\n")


def _verdict_counts(row, key):
    v = row[f"{key}_verdicts"]
    return f"{v.count('noise')}/{v.count('tie')}/{v.count('zero')}"


def format_loss_comparison(rows: list[dict]) -> str:
    """Cross-entropy against one-hot MSE on the same protocol, as a Markdown table.

    One line per classification task, training sigma and placement trained on both losses:
    per loss the networks learned, the verdicts of the networks' preferred sets on the
    decision-step loss and on the score (counts prefer σ > 0 / tie / prefer σ ~ 0, see
    :func:`preference_verdict`) and the paired difference of the decision-step loss
    metric(sigma_train) - metric(0) (as in :func:`format_benchmark_table`).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    str
        The table, or a sentence saying no task was trained on both losses.
    """
    pairs = {}
    for r in rows:
        if r["loss"] in ("cross_entropy", "mse_onehot"):
            pairs.setdefault((r["task"], r["sigma_train"], r["placement"]), {})[r["loss"]] = r
    pairs = {k: v for k, v in pairs.items() if len(v) == 2}
    if not pairs:
        return "No task was trained on both cross-entropy and one-hot MSE."
    order = {"pre": 0, "post": 1}
    header = ["task", "σ_train", "noise"]
    for loss in ("cross_entropy", "mse_onehot"):
        header += [f"{loss}: learned", f"{loss}: decision loss σ>0/tie/~0",
                   f"{loss}: score σ>0/tie/~0", f"{loss}: Δ decision loss"]
    table = []
    for (task, sigma, placement), by_loss in sorted(
            pairs.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 9))):
        cells = [task, _fmt(sigma), placement_label(placement)]
        for loss in ("cross_entropy", "mse_onehot"):
            r = by_loss[loss]
            cells += [f"{r['learned']}/{r['n']}", _verdict_counts(r, "dloss"),
                      _verdict_counts(r, "score"), _diff_text(r, "dloss")]
        table.append(cells)
    return "\n".join(markdown_table(header, table))


def headline(rows: list[dict]) -> list[dict]:
    """The benchmark's headline counts, one entry per (sigma_train, loss) condition.

    Tasks count as learned when both placements' rows are (``task_learned``); the networks
    counted are those of learned tasks. Each network's preferred set on the decision-step
    loss and on the score gives a verdict (:func:`preference_verdict`): prefers noise,
    prefers ~0, or a tie.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.

    Returns
    -------
    list of dict
        Each: ``sigma_train``, ``loss``, ``tasks`` (int), ``learned`` (task ids), and for
        placement ``p`` in pre / post and ``key`` in dloss / score: ``{p}_n`` (networks),
        ``{p}_{key}_noise`` / ``{p}_{key}_zero`` / ``{p}_{key}_tie`` (networks by verdict),
        ``{p}_{key}_better`` / ``{p}_{key}_worse`` (learned tasks whose mean paired
        difference says sigma_train is clearly better / worse than 0).
    """
    out = []
    for cond in sorted({_condition(r) for r in rows}):
        rs = [r for r in rows if _condition(r) == cond]
        tasks = sorted({r["task"] for r in rs})
        learned = [t for t in tasks if all(r["task_learned"] for r in rs if r["task"] == t)]
        h = {"sigma_train": cond[0], "loss": cond[1], "tasks": len(tasks), "learned": learned}
        for p in ("pre", "post"):
            good = [r for r in rs if r["task"] in learned and r["placement"] == p]
            h[f"{p}_n"] = sum(r["n"] for r in good)
            for key in ("dloss", "score"):
                verdicts = [v for r in good for v in r[f"{key}_verdicts"]]
                for v in ("noise", "zero", "tie"):
                    h[f"{p}_{key}_{v}"] = verdicts.count(v)
                h[f"{p}_{key}_better"] = sum(r[f"{key}_signif"] > 0 for r in good)
                h[f"{p}_{key}_worse"] = sum(r[f"{key}_signif"] < 0 for r in good)
        out.append(h)
    return out


def _counts(h, p, key):
    return (f"{h[f'{p}_{key}_noise']} prefer σ > 0, {h[f'{p}_{key}_tie']} tie, "
            f"{h[f'{p}_{key}_zero']} prefer σ ~ 0 (σ_train clearly better / worse than 0 in "
            f"{h[f'{p}_{key}_better']} / {h[f'{p}_{key}_worse']} tasks)")


def format_headline(heads: list[dict]) -> str:
    """:func:`headline` as one paragraph per condition (readable when nothing is learned).

    Parameters
    ----------
    heads : list of dict
        As returned by :func:`headline`.

    Returns
    -------
    str
        The headline text.
    """
    lines = []
    for h in heads:
        n = len(h["learned"])
        title = f"σ_train {_fmt(h['sigma_train'])}, {h['loss']}: "
        if n == 0:
            lines.append(title + f"no task of {h['tasks']} learned by both placements, so no "
                                 "preference is counted.")
            continue
        lines.append(
            title + f"{n} of {h['tasks']} tasks learned. On the decision-step loss, the "
            f"{h['pre_n']} noise-in networks: {_counts(h, 'pre', 'dloss')}; the {h['post_n']} "
            f"noise-out networks: {_counts(h, 'post', 'dloss')}. On the score (performance, "
            f"or accuracy where flagged): noise-in {_counts(h, 'pre', 'score')}; noise-out "
            f"{_counts(h, 'post', 'score')}.")
    return "\n\n".join(lines)


def failed_networks(cells: Iterable, selected: Iterable[NoisePreferenceCurve],
                    errors: dict[str, str], kinds: dict[str, str]) -> list[dict]:
    """The networks of the protocol without a result in any stage, and the cells whose
    training failed although their network has a result from another stage.

    Parameters
    ----------
    cells : iterable of Cell
        The cells of both stages (:func:`~.protocol.benchmark_grids`).
    selected : iterable of NoisePreferenceCurve
        :func:`select_networks`' first result.
    errors : dict of str to str
        Cell key -> why its training failed (as the run reported it; kept in
        ``failed.json``); a cell without an entry has not been run (yet).
    kinds : dict of str to str
        Task id -> ``"classification"`` or ``"regression"`` (its default loss).

    Returns
    -------
    list of dict
        Sorted: ``task``, ``placement``, ``sigma_train``, ``loss`` (as :func:`trained_loss`
        names it), ``seed``, ``steps`` (the failed cell's), ``error`` (None: not run yet) and
        ``has_result`` (the network has another stage's result, which is used).
    """
    have = {network_id(_config(c)) for c in selected}
    out, seen = [], set()
    for cell in cells:
        nid = network_id(cell.config)
        if (nid in have and cell.key not in errors) or (nid not in have and nid in seen):
            continue
        seen.add(nid)
        loss = _loss_name(cell.config, kinds.get(cell.config["task"]) == "classification")
        out.append({"task": cell.config["task"], "placement": cell.config["placement"],
                    "sigma_train": float(cell.config["train_sigma"]), "loss": loss,
                    "seed": int(cell.config["seed"]),
                    "steps": int(cell.config["training"].get("steps", 0)),
                    "error": errors.get(cell.key), "has_result": nid in have})
    return sorted(out, key=lambda f: (f["task"], f["sigma_train"], f["loss"], f["placement"],
                                      f["seed"], f["steps"]))


def format_missed(missed: Iterable[NoisePreferenceCurve], chance: dict[str, dict],
                  failed: Iterable[dict] = ()) -> str:
    """The networks that missed the criterion in every stage tried, and those without a
    result (:func:`failed_networks`), as a Markdown list.

    Parameters
    ----------
    missed : iterable of NoisePreferenceCurve
        :func:`select_networks`' second result.
    chance : dict of str to dict
        Task id -> :func:`~.chance.chance_level` result.
    failed : iterable of dict
        :func:`failed_networks`.

    Returns
    -------
    str
        One line per network (what was tried and the score reached, or why it has no
        result), or a sentence saying none missed.
    """
    lines = [f"- {f['task']} {f['placement']} σ_train {_fmt(f['sigma_train'])} {f['loss']} "
             f"seed {f['seed']}: " + (f"its {f['steps']}-step training failed ({f['error']}); "
                                      "the other stage's network is used" if f["has_result"]
                                      else "no result: " + (
                                          f"its {f['steps']}-step training failed ({f['error']})"
                                          if f["error"] else "not run yet"))
             for f in failed]
    for c in missed:
        score, _, level, _ = criterion_score(c, chance.get(c.task, {}))
        cfg = _config(c)
        what = "accuracy" if _is_classification(c) else "performance"
        lines.append(f"- {c.task} {c.train_placement} σ_train {_fmt(c.sigma_train)} "
                     f"{trained_loss(c)} seed {cfg.get('seed')}: "
                     f"{cfg.get('network', {}).get('n_hidden')} units, tried "
                     f"{' then '.join(str(s) for s in c.tried)} steps; decision-step {what} "
                     f"{_fmt(score)} (chance {_fmt(level)})")
    return "\n".join(lines) if lines else "Every network met the criterion."


#: columns of the benchmark CSV, in order
CSV_COLUMNS = ("task", "dt_ms", "units", "placement", "sigma_train", "loss", "n", "failed",
               "seeds", "steps", "chance", "accuracy_chance", "ceiling", "chance_policy",
               "performance", "performance_sem", "accuracy", "accuracy_sem", "learned",
               "task_learned", "scorer_checked", "scorer_flagged", "scorer_reason", "score_name",
               *(f"{k}_{f}" for k in ("dloss", "score")
                 for f in ("metric", "at_train", "preferred", "sets", "verdicts", "ties", "ratio",
                           "diff", "diff_sem", "signif", "seeds_better", "seeds_worse")),
               "diagnostic")


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return ";".join(" ".join(_fmt(y, 6) for y in x) if isinstance(x, (list, tuple))
                        else str(_csv_value(x)) for x in v)
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return v


def rows_to_csv(rows: list[dict]) -> str:
    """The rows of :func:`benchmark_rows` as CSV text (lists joined with ``;``, a preferred
    set's sigmas with spaces).

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
        writer.writerow([_csv_value(r[k]) for k in CSV_COLUMNS])
    return text.getvalue()


def plot_benchmark_heatmap(rows: list[dict], key: str = "dloss", ax=None) -> Figure:
    """Heatmap: tasks x (sigma_train, loss, placement), colour = preferred sigma / sigma_train.

    Each cell shows the mean over networks of best sigma / sigma_train and a mark from the
    paired difference metric(sigma_train) - metric(0) ("+" sigma_train clearly better than 0,
    "−" clearly worse). Cells where any network's preferred set is a tie (sigma ~ 0 and
    sigma > 0 within one standard error) are hatched and labelled "tie k/n". Tasks not
    learned for both placements are greyed and labelled.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`benchmark_rows`.
    key : {"dloss", "score"}
        The decision-step loss or the score (performance, accuracy where flagged).
    ax : matplotlib Axes or None
        Where to draw; None: a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.
    """
    from ...plotting import new_figure

    if key not in ("dloss", "score"):
        raise ValueError(f"key must be 'dloss' or 'score', got {key!r}")
    tasks = sorted({r["task"] for r in rows})
    conditions = sorted({_condition(r) for r in rows})
    columns = [(cond, p) for cond in conditions for p in ("pre", "post")]
    by = {(r["task"], _condition(r), r["placement"]): r for r in rows}
    values = np.full((len(tasks), len(columns)), np.nan)
    if ax is None:
        fig = new_figure((1.6 + 0.85 * len(columns) + 2.2, 1.9 + 0.28 * len(tasks)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for i, t in enumerate(tasks):
        for j, (cond, p) in enumerate(columns):
            r = by.get((t, cond, p))
            if r is not None:
                values[i, j] = r[f"{key}_ratio"]
    top = max(2.0, float(np.nanmax(values))) if np.isfinite(values).any() else 2.0
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=top, aspect="auto")
    for i, t in enumerate(tasks):
        for j, (cond, p) in enumerate(columns):
            r = by.get((t, cond, p))
            if r is None or not math.isfinite(values[i, j]):
                continue
            text = f"{values[i, j]:.2f}" + {1: "+", -1: "−", 0: ""}[r[f"{key}_signif"]]
            if r[f"{key}_ties"]:
                ax.add_patch(_hatch(j, i))
                text += f"\ntie {r[f'{key}_ties']}/{r['n']}"
            ax.text(j, i, text, ha="center", va="center", fontsize=6,
                    color="white" if values[i, j] < 0.5 * top else "black")
            if not r["task_learned"]:
                ax.add_patch(_grey(j, i))
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"σ {_fmt(c[0])} {'CE' if c[1] == 'cross_entropy' else 'MSE1h'}\n"
                        f"{'inside' if p == 'pre' else 'outside'} f" for c, p in columns],
                       fontsize=6)
    ax.set_yticks(range(len(tasks)))
    ax.set_yticklabels([t.removesuffix("-v0") for t in tasks], fontsize=7)
    ax.xaxis.tick_top()
    # horizontal, below: a vertical label would not fit the height of a few task rows
    cbar = fig.colorbar(image, ax=ax, location="bottom", fraction=0.06, pad=0.03, aspect=50)
    cbar.set_label("best σ / σ_train (seed mean)", fontsize=7)
    cbar.ax.tick_params(labelsize=6)
    what = "decision-step loss" if key == "dloss" else "score (performance; accuracy if flagged)"
    ax.set_title(f"{what}; + / −: σ_train clearly better / worse than 0; hatched: ties; "
                 "greyed: not learned", fontsize=7)
    return fig


def _hatch(j, i):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.85",
                     linewidth=0, label="tie")


def _grey(j, i):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, color="white", alpha=0.55, linewidth=0,
                     label="not learned")
