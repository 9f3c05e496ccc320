"""``run_benchmark``: select the tasks, measure chance, run the grids, write the report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...backends.random_state import keeps_random_state
from ...core.atomic import atomic_write, checked_output_files
from ...core.settings import renamed_keyword
from ..run_log import (append_log, cpu_seconds, format_run_log, log_entry, logged_if_stopped,
                       read_log)
from ..runner import package_versions, run_grid
from ..store import ResultStore
from .chance import chance_level, scorer_check
from .protocol import FULL, YANG19_TASK, BenchmarkSettings, benchmark_grids, select_tasks
from .report import (benchmark_rows, failed_networks, format_benchmark_table, format_headline,
                     format_loss_comparison, format_missed, headline, missed_for_stage2, passes,
                     plot_benchmark_heatmap, rows_to_csv, select_networks, trained_loss)
from .yang19 import format_yang19_table, score_yang19

__all__ = ["BenchmarkResult", "run_benchmark"]


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` produced.

    Attributes
    ----------
    rows : list of dict
        :func:`benchmark_rows`.
    table : str
        :func:`format_benchmark_table`.
    headline : list of dict
        :func:`headline` (one per training sigma and loss).
    excluded : dict of str to str
        Task id -> why it was left out.
    files : dict of str to str
        Name -> path of the files written (results, csv, curves_csv, table, figure).
    reports : list of RunReport
        What :func:`~.runner.run_grid` did, one per grid.
    elapsed : float
        Wall time in seconds.
    missed : str
        :func:`format_missed`: the networks that missed the criterion in every stage.
    yang19 : str
        :func:`format_yang19_table`: the Yang19 sub-task scores.
    """

    rows: list
    table: str
    headline: dict
    excluded: dict
    files: dict = field(default_factory=dict)
    reports: list = field(default_factory=list)
    elapsed: float = 0.0
    missed: str = ""
    yang19: str = ""


def _settings_for(settings, included):
    """The tasks to run (id -> dt in ms): ``settings.tasks`` (checked against ``included``)
    or all of ``included``, plus the Yang19 multitask network if ``settings.yang19``."""
    if settings.tasks is not None:
        unknown = [t for t in settings.tasks if t not in included and t != YANG19_TASK]
        if unknown:
            raise ValueError(f"tasks: {unknown} are not among the benchmark's tasks "
                             f"(included: {sorted(included)})")
        included = {t: included[t] for t in settings.tasks if t in included}
    if settings.yang19 or (settings.tasks and YANG19_TASK in settings.tasks):
        included = {**included, YANG19_TASK: min(float(settings.max_dt_ms), 20.0)}
    return included


def _read_json(path):
    """The JSON file ``path`` ({} if there is none)."""
    import json

    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _write_json(path, data):
    """Write ``data`` to the JSON file ``path`` atomically."""
    import json

    with atomic_write(path, suffix=".json", name="out_dir") as f:
        f.write(json.dumps(data, indent=1, sort_keys=True).encode())


def _cached(path, keys, compute, write=True, workers=1, args=None):
    """Entries of the JSON file ``path`` for ``keys`` (key -> what identifies the entry, e.g.
    its dt); missing or stale entries are ``compute(*args(key, ident))`` (default args:
    ``(key, ident)``), run on ``workers`` local processes (1: this process, one by one; more
    needs a module-level ``compute`` and picklable args) and stored back atomically if
    ``write`` (also when an error or an interrupt stops the loop: what was computed is kept,
    and a rerun computes only the rest)."""
    from ..executors import run_each

    stored = _read_json(path)
    missing = [(key, ident) for key, ident in sorted(keys.items())
               if not (isinstance(stored.get(key), dict) and stored[key].get("ident") == ident)]
    changed = False

    def store(i, result):
        nonlocal changed
        key, ident = missing[i]
        stored[key] = {**result, "ident": ident}
        changed = True

    try:
        run_each([(compute, (args or (lambda k, i: (k, i)))(key, ident)) for key, ident in missing],
                 workers, store)
    finally:
        if changed and write:
            _write_json(path, stored)
    return {key: stored[key] for key in sorted(keys)}


def _failures(path, reports, write):
    """Cell key -> why its training failed: the JSON file ``path`` updated with the failed
    cells of ``reports`` (:class:`~.runner.RunReport`; written back if ``write``), so a later
    report can say why a network has no result."""
    stored = _read_json(path)
    new = {k: v for r in reports for k, v in r.failed.items() if stored.get(k) != v}
    if new and write:
        _write_json(path, {**stored, **new})
    return {**stored, **new}


def _chance(task, dt):
    return chance_level(task, dt)


def _scorer(task, dt):
    from ... import tasks

    return scorer_check(tasks.make(task, dt=dt))


def _yang19_networks(store, curves, source=""):
    """Spec hash -> (label, spec path, curve) of the Yang19Multitask-v0 networks among
    ``curves`` whose spec file ``store`` finds (labels prefixed with ``source``)."""
    out = {}
    for c in curves:
        if c.task != YANG19_TASK:
            continue
        found = store.spec_for_train_key(c.cell["train_key"])
        if found is not None and os.path.isfile(found[0]):
            out[found[1]] = (source + _label(c), found[0], c)
    return out


#: what the cells of the Yang19 sub-task table hold (printed above it)
YANG19_CAPTION = ("One row per network condition (n networks, seeds averaged), one column per "
                  "sub-task of the yang19 collection, with that sub-task's rule input: "
                  "decision-step accuracy at test σ 0 → at σ_train, and NeuroGym performance at "
                  "σ_train (p) where the sub-task's scorer passes the check.")


def _yang19_scores(spec_path, n_trials, seed, scorers):
    """:func:`score_yang19` of the network stored at ``spec_path`` (a worker's job)."""
    from ...core.spec import CTRNNSpec

    return {"rows": score_yang19(CTRNNSpec.load(spec_path), n_trials=n_trials, seed=seed,
                                 scorers=scorers)}


def _yang19_tables(networks, settings, cache_path, scorer_path, write, diagnostics, chance,
                   workers=1):
    """Per-sub-task scores of the Yang19 networks ``networks`` (:func:`_yang19_networks`;
    cached by spec hash, the sub-tasks' scorer checks cached with the others, computed on
    ``workers`` local processes) and the notes rows of the table: networks learned (the
    benchmark's criterion) and their noise-dependence diagnostics (``diagnostics``: cell
    key -> text)."""
    from ...tasks.multitask import YANG19_TASKS

    if not networks:
        return [], {}
    dt = min(float(settings.max_dt_ms), 20.0)
    checks = _cached(scorer_path, {f"yang19.{n}-v0": dt for n in YANG19_TASKS}, _scorer,
                     write=write, workers=workers)
    scorers = {n: checks[f"yang19.{n}-v0"] for n in YANG19_TASKS}
    ident = f"{settings.n_trials} trials, seed {settings.eval_seed}"
    scores = _cached(cache_path, {h: ident for h in networks}, _yang19_scores, write=write,
                     workers=workers, args=lambda h, _: (networks[h][1], settings.n_trials,
                                                         settings.eval_seed, scorers))
    table, learned, diags = [], {}, {}
    for h, (label, _, c) in sorted(networks.items(), key=lambda kv: (kv[1][0], kv[0])):
        table.append((label, scores[h]["rows"]))
        ok = c.learned if hasattr(c, "learned") else passes(c, chance.get(YANG19_TASK, {}))
        learned.setdefault(label, []).append(bool(ok))
        diags.setdefault(label, []).append(diagnostics.get(c.cell["cell_key"], "-"))
    notes = {"networks learned (criterion)": {k: f"{sum(v)}/{len(v)}" for k, v in learned.items()},
             "shift / fluctuation (ratio), multitask trials": {k: "; ".join(v)
                                                                for k, v in diags.items()}}
    return table, notes


def _yang19_source(path):
    """The results database of ``yang19_from`` (a file, or a folder holding
    ``results.sqlite``) and the curves of its Yang19Multitask-v0 networks; errors name
    ``yang19_from``."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        path = os.path.join(path, "results.sqlite")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"yang19_from: no results database at {path!r}")
    with ResultStore(path, readonly=True) as store:
        curves = [c for c in store.curves() if c.task == YANG19_TASK]
    if not curves:
        raise ValueError(f"yang19_from: {path!r} records no {YANG19_TASK} network")
    return path


def _label(c):
    network = ((c.cell or {}).get("config") or {}).get("network", {})
    steps = ((c.cell or {}).get("config") or {}).get("training", {}).get("steps")
    return (f"{'inside' if c.train_placement == 'pre' else 'outside'} f, σ_train "
            f"{c.sigma_train:g}, {trained_loss(c)}, {network.get('n_hidden')} units, "
            f"{steps} steps, dt {network.get('dt_ms'):g} ms")


#: noisy repeats of each test trial in the noise-dependence diagnostic (its cross-entropy
#: terms carry a bias of order fluctuation / repeats, about 6 %); with ``settings.n_trials``
#: trials (200) it costs about 2-4 CPU-seconds per 64-unit network (measured at nice 19)
DIAGNOSTIC_REPEATS = 16


def _diagnostic(task, spec_path, n_trials, seed, loss):
    """The noise-dependence diagnostic (a dict) of the network stored at ``spec_path`` on
    ``task`` at its own dt (a worker's job)."""
    from ... import tasks
    from ...analysis.loss_split import noise_dependence
    from ...core.spec import CTRNNSpec

    spec = CTRNNSpec.load(spec_path)
    return noise_dependence(spec, tasks.make(task, dt=float(spec.dt_seconds * 1000.0)),
                            n_trials=n_trials, n_repeats=DIAGNOSTIC_REPEATS, seed=seed,
                            loss=loss, steps="decision").to_dict()


def _diagnostics(store, selected, path, settings, write, workers=1):
    """Cell key -> "shift / fluctuation (ratio)" of its network at its training sigma
    (:func:`~brian_noisy_rnn.analysis.noise_dependence` on the trained loss over decision
    steps, the steps of the table's decision-step loss; regression: the response period),
    computed on ``workers`` local processes and cached in the JSON file ``path`` by the
    network's content hash and the diagnostic's settings."""
    from ...core.spec import CTRNNSpec

    specs = {}
    for c in selected:
        found = store.spec_for_train_key(c.cell["train_key"])
        try:
            spec = None if found is None else CTRNNSpec.load(found[0])
        except (OSError, ValueError):  # a missing or damaged file: no diagnostic for it
            spec = None
        if spec is not None and spec.noise.is_active:  # no noise (sigma_train 0): nothing to split
            specs[c.cell["cell_key"]] = (c, spec, found[0])

    setup = (f"decision steps, {settings.n_trials} trials x {DIAGNOSTIC_REPEATS} repeats, "
             f"seed {settings.eval_seed}")
    idents = {k: f"{spec.content_hash()}; {setup}" for k, (_, spec, _) in specs.items()}
    stored = _cached(path, idents, _diagnostic, write=write, workers=workers,
                     args=lambda k, _: (specs[k][0].task, specs[k][2], settings.n_trials,
                                        settings.eval_seed, trained_loss(specs[k][0])))
    return {k: f"{d['shift']:.3g} / {d['fluctuation']:.3g} ({d['ratio']:.2g})"
            for k, d in stored.items()}


@keeps_random_state
def run_benchmark(out_dir: str | os.PathLike, settings: BenchmarkSettings = FULL, *,
                  workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, log: Callable[[str], Any] = print,
                  figures: bool = True, run: bool = True,
                  yang19_from: str | os.PathLike | None = None,
                  figure: bool | None = None) -> BenchmarkResult:
    """Run the NeuroGym benchmark into ``out_dir`` (resumable) and write its report.

    Two training stages (see :class:`~.protocol.BenchmarkSettings`): every network for
    ``settings.steps``, then those that missed the learning criterion again from scratch for
    ``settings.cap_steps``. Each stage is a set of grids run by :func:`~.runner.run_grid`, so
    an interrupted run resumes where it stopped.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for ``results.sqlite`` (+ ``results_specs/``), ``benchmark.csv`` (one row per
        task, training sigma, loss and placement), ``curves.csv`` (one row per network and
        test sigma), ``table.md``, ``heatmap.png`` (decision-step loss),
        ``heatmap_score.png`` (performance, or accuracy where flagged), ``chance.json``,
        ``scorer.json`` (the scorer checks), ``yang19.json`` (per-sub-task scores) and
        ``diagnostics.json`` (each network's noise-dependence diagnostic), the last four
        reused by later reports, ``failed.json`` (why a cell's training failed, e.g. a
        diverged loss: such a network counts as not learned) and ``run_log.json`` (one
        entry per training invocation, interrupted ones included: the report's time and
        versions); rerunning into it resumes.
    settings : BenchmarkSettings
        The protocol (:data:`FULL` or :data:`QUICK`, or a variant).
    workers : int >= 1 or None
        Local worker processes (None: all CPUs; 1: this process).
    scheduler : str or None
        Address of a Dask scheduler (instead of local processes).
    progress : bool
        Show progress bars.
    log : callable(str)
        Receives the report's lines.
    figures : bool
        Write the heatmaps (as ``run_demo(figures=)``).
    run : bool
        False: write the report from what the store holds, without training.
    yang19_from : str or os.PathLike or None
        Another results database (a file, or a folder holding ``results.sqlite``, e.g. the
        reproduction's ``--out`` folder) whose ``Yang19Multitask-v0`` networks are also
        scored per sub-task in the Yang19 table (labelled with its folder's name), beside
        the benchmark's own (``--no-yang19`` trains none of those). Read only.
    figure : bool or None
        Deprecated spelling of ``figures`` (a DeprecationWarning).

    Returns
    -------
    BenchmarkResult
        Rows, table, headline, exclusions, files and run reports.

    Raises
    ------
    ValueError
        For a task in ``settings.tasks`` that the benchmark does not run (before any work).
    FileNotFoundError
        With ``run=False``, if ``out_dir`` holds no results database; if ``yang19_from``
        names none (before any work).
    RuntimeError
        If the store holds no finished cell of the benchmark.
    """
    if figure is not None:  # the deprecated spelling (figures= keeps its default then)
        figures = renamed_keyword("run_benchmark", "figure", "figures", figure, None)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    out_dir = os.path.abspath(os.fspath(out_dir))
    files = checked_output_files(out_dir, {
        "results": "results.sqlite", "csv": "benchmark.csv", "curves_csv": "curves.csv",
        "table": "table.md", "figure": "heatmap.png", "figure_score": "heatmap_score.png",
        "chance": "chance.json", "scorer": "scorer.json", "yang19": "yang19.json",
        "diagnostics": "diagnostics.json", "failed": "failed.json", "run_log": "run_log.json"})
    if not run and not os.path.isfile(files["results"]):
        raise FileNotFoundError(f"out_dir: no results database {files['results']!r} to report on")
    included, excluded = select_tasks(max_dt_ms=settings.max_dt_ms)
    included = _settings_for(settings, included)
    external = None if yang19_from is None else _yang19_source(yang19_from)
    os.makedirs(out_dir, exist_ok=True)
    write = run or os.access(out_dir, os.W_OK)
    yang19_dt = {YANG19_TASK: min(float(settings.max_dt_ms), 20.0)} if external else {}
    local = 1 if scheduler is not None else workers  # the report's measurements: local processes
    chance = _cached(files["chance"], {**yang19_dt, **included}, _chance, write=write,
                     workers=local)
    kinds = {t: "classification" if chance[t]["n_choices"] else "regression" for t in included}
    grids = benchmark_grids(settings, included, kinds)
    reports = []

    def stopped():
        return logged_if_stopped(files["run_log"], t0, cpu0, enabled=run, benchmark=settings.name)

    def run_stage(stage_grids):
        with stopped():
            for grid in stage_grids:
                reports.append(run_grid(grid, files["results"], workers=workers,
                                        scheduler=scheduler, progress=progress))
                _failures(files["failed"], reports[-1:], write)  # kept if a later one stops

    if run:
        run_stage(grids)
    keys = [c.key for g in grids for c in g.cells()]
    with ResultStore(files["results"], readonly=not run) as store:
        first = store.curves(keys)
        stage2 = []
        if settings.cap_steps > 0:
            stage2 = benchmark_grids(settings, included, kinds, stage=2,
                                     keep=missed_for_stage2(first, chance, settings))
    if run and stage2:
        log(f"stage 2: {sum(len(g.cells()) for g in stage2)} networks missed the criterion "
            f"after {settings.steps} steps; training them for {settings.cap_steps}")
        run_stage(stage2)
    keys += [c.key for g in stage2 for c in g.cells()]
    errors = _failures(files["failed"], [], write)
    with ResultStore(files["results"], readonly=not run) as store, stopped():
        curves = store.curves(keys)
        if not curves:
            raise RuntimeError(f"no cell of the benchmark is recorded in {files['results']}")
        if run:
            store.export_csv(files["curves_csv"], keys, name="out_dir")
        selected, missed = select_networks(curves, chance, settings)
        recorded = {c.cell["cell_key"] for c in curves}
        failed = failed_networks([c for g in grids + stage2 for c in g.cells()], selected,
                                 {k: v for k, v in errors.items() if k not in recorded}, kinds)
        scorers = _cached(files["scorer"], {t: included[t] for t in {c.task for c in selected}
                                            if t != YANG19_TASK}, _scorer, write=write,
                          workers=local)
        diagnostics = _diagnostics(store, selected, files["diagnostics"], settings, write, local)
        networks = _yang19_networks(store, selected)
    if external is not None:
        with ResultStore(external, readonly=True) as store, stopped():
            ext = [c for c in store.curves() if c.task == YANG19_TASK]
            diagnostics.update(_diagnostics(store, ext, files["diagnostics"], settings, write,
                                            local))
            networks.update(_yang19_networks(
                store, ext, f"{os.path.basename(os.path.dirname(external))}: "))
    with stopped():
        yang, yang_notes = _yang19_tables(networks, settings, files["yang19"], files["scorer"],
                                          write, diagnostics, chance, local)
    rows = benchmark_rows([c for c in selected if c.task != YANG19_TASK] or selected,
                          chance, scorers, diagnostics, failed)
    table = format_benchmark_table(rows)
    head = headline(rows)
    missed_text = format_missed(missed, chance, failed)
    yang_text = format_yang19_table(yang, yang_notes)
    with atomic_write(files["csv"], suffix=".csv", name="out_dir") as f:
        f.write(rows_to_csv(rows).encode())
    entry = log_entry(t0, cpu0, benchmark=settings.name)
    history = append_log(files["run_log"], entry) if run else read_log(files["run_log"])
    report = "\n\n".join([format_headline(head), table,
                           "### Loss comparison: cross-entropy and one-hot MSE on the same "
                           "protocol", format_loss_comparison(rows),
                           "### Networks that missed the criterion",
                           missed_text, "### Yang19: sub-tasks of one multitask network",
                           YANG19_CAPTION, yang_text, "### Run: time and versions",
                           format_run_log(history, package_versions())]) + "\n"
    with atomic_write(files["table"], suffix=".md", name="out_dir") as f:
        f.write(report.encode())
    if figures:
        from ...plotting import save_figure

        save_figure(plot_benchmark_heatmap(rows, "dloss"), files["figure"], close=True)
        save_figure(plot_benchmark_heatmap(rows, "score"), files["figure_score"], close=True)
    else:
        files.pop("figure")
        files.pop("figure_score")
    if not run:
        files.pop("curves_csv")
    log(report)
    failed = sum(len(r.failed) for r in reports)
    if failed:
        log(f"{failed} cells failed (see above); rerun to retry them")
    return BenchmarkResult(rows=rows, table=table, headline=head, excluded=excluded,
                           files=files, reports=reports, elapsed=time.perf_counter() - t0,
                           missed=missed_text, yang19=yang_text)
