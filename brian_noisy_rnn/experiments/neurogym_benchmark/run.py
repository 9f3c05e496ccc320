"""``run_benchmark``: select the tasks, measure chance, run the grids, write the report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...backends.random_state import keeps_random_state
from ...core.atomic import atomic_write, checked_output_files
from ..runner import run_grid
from ..store import ResultStore
from .chance import chance_level
from .protocol import FULL, BenchmarkSettings, benchmark_grids, select_tasks
from .report import (benchmark_rows, format_benchmark_table, format_headline, headline,
                     plot_benchmark_heatmap, rows_to_csv)


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` produced.

    Attributes
    ----------
    rows : list of dict
        :func:`benchmark_rows`.
    table : str
        :func:`format_benchmark_table`.
    headline : dict
        :func:`headline`.
    excluded : dict of str to str
        Task id -> why it was left out.
    files : dict of str to str
        Name -> path of the files written (results, csv, curves_csv, table, figure).
    reports : list of RunReport
        What :func:`~.runner.run_grid` did, one per grid.
    elapsed : float
        Wall time in seconds.
    """

    rows: list
    table: str
    headline: dict
    excluded: dict
    files: dict = field(default_factory=dict)
    reports: list = field(default_factory=list)
    elapsed: float = 0.0


def _settings_for(settings, included):
    if settings.tasks is None:
        return settings, included
    unknown = [t for t in settings.tasks if t not in included]
    if unknown:
        raise ValueError(f"tasks: {unknown} are not among the benchmark's tasks "
                         f"(included: {sorted(included)})")
    return settings, {t: included[t] for t in settings.tasks}


def _chance_levels(path, tasks, write=True):
    """Chance levels of ``tasks`` (id -> dt in ms): those stored in ``path`` (JSON, for the
    same dt) and :func:`chance_level` for the others, stored back (atomically) if ``write``."""
    import json

    stored = {}
    if os.path.isfile(path):
        with open(path) as f:
            stored = json.load(f)
    out, changed = {}, False
    for task, dt in sorted(tasks.items()):
        entry = stored.get(task)
        if not (isinstance(entry, dict) and entry.get("dt_ms") == dt and "chance" in entry):
            entry = {**chance_level(task, dt), "dt_ms": dt}
            stored[task] = entry
            changed = True
        out[task] = entry
    if changed and write:
        with atomic_write(path, suffix=".json", name="out_dir") as f:
            f.write(json.dumps(stored, indent=1, sort_keys=True).encode())
    return out


@keeps_random_state
def run_benchmark(out_dir: str | os.PathLike, settings: BenchmarkSettings = FULL, *,
                  workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True, log: Callable[[str], Any] = print,
                  figure: bool = True, run: bool = True) -> BenchmarkResult:
    """Run the NeuroGym benchmark into ``out_dir`` (resumable) and write its report.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for ``results.sqlite`` (+ ``results_specs/``), ``benchmark.csv`` (one row per
        task and placement), ``curves.csv`` (one row per network and test sigma),
        ``table.md``, ``heatmap.png`` and ``chance.json`` (the chance levels used, reused by
        later reports); rerunning into it resumes.
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
    figure : bool
        Write the heatmap.
    run : bool
        False: write the report from what the store holds, without running anything.

    Returns
    -------
    BenchmarkResult
        Rows, table, headline, exclusions, files and run reports.

    Raises
    ------
    ValueError
        For a task in ``settings.tasks`` that the benchmark does not run (before any work).
    FileNotFoundError
        With ``run=False``, if ``out_dir`` holds no results database.
    RuntimeError
        If the store holds no finished cell of the benchmark.
    """
    t0 = time.perf_counter()
    out_dir = os.path.abspath(os.fspath(out_dir))
    files = checked_output_files(out_dir, {"results": "results.sqlite", "csv": "benchmark.csv",
                                           "curves_csv": "curves.csv", "table": "table.md",
                                           "figure": "heatmap.png", "chance": "chance.json"})
    if not run and not os.path.isfile(files["results"]):
        raise FileNotFoundError(f"out_dir: no results database {files['results']!r} to report on")
    included, excluded = select_tasks(max_dt_ms=settings.max_dt_ms)
    settings, included = _settings_for(settings, included)
    grids = benchmark_grids(settings, included)
    os.makedirs(out_dir, exist_ok=True)
    reports = []
    if run:
        for grid in grids:
            reports.append(run_grid(grid, files["results"], workers=workers,
                                    scheduler=scheduler, progress=progress))
    keys = [c.key for g in grids for c in g.cells()]
    with ResultStore(files["results"], readonly=not run) as store:
        curves = store.curves(keys)
        if not curves:
            raise RuntimeError(f"no cell of the benchmark is recorded in {files['results']}")
        if run:
            store.export_csv(files["curves_csv"], keys, name="out_dir")
    chance = _chance_levels(files["chance"], {t: included[t] for t in {c.task for c in curves}},
                            write=run or os.access(out_dir, os.W_OK))
    rows = benchmark_rows(curves, chance)
    table = format_benchmark_table(rows)
    head = headline(rows)
    with atomic_write(files["csv"], suffix=".csv", name="out_dir") as f:
        f.write(rows_to_csv(rows).encode())
    with atomic_write(files["table"], suffix=".md", name="out_dir") as f:
        f.write((table + "\n\n" + format_headline(head) + "\n").encode())
    if figure:
        from ...plotting import save_figure

        save_figure(plot_benchmark_heatmap(rows), files["figure"], close=True)
    else:
        files.pop("figure")
    if not run:
        files.pop("curves_csv")
    for line in (table, "", format_headline(head)):
        log(line)
    failed = sum(len(r.failed) for r in reports)
    if failed:
        log(f"{failed} cells failed (see above); rerun to retry them")
    return BenchmarkResult(rows=rows, table=table, headline=head, excluded=excluded,
                           files=files, reports=reports, elapsed=time.perf_counter() - t0)
