"""``run_reproduction``: every grid of the protocol, the analyses, and the report, resumably.

The grids run with :func:`~brian_noisy_rnn.experiments.run_grid` into one results database
(``<out>/results.sqlite``); the analyses are cached per network in ``<out>/analysis/``; the
report, its figures and CSVs are rebuilt from the stored data at the end of every run, so a
rerun into the same folder skips everything finished and only rewrites the report.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...backends.random_state import keeps_random_state
from ...core.atomic import atomic_write, checked_output_files
from ..run_log import append_log, cpu_seconds, log_entry, logged_if_stopped, read_log
from ..runner import package_versions, run_grid
from ..store import ResultStore
from . import report as R
from .analyses import cached, compensation_analysis, process_analysis, shift_analysis, spec_settings
from .feedforward import closed_loop_result, feedforward_rows
from .onset import OnsetSettings
from .onset_report import onset_csv_rows, onset_figures, render_onset
from .onset_run import run_onset_study
from .protocol import FAMILIES, Protocol

__all__ = ["ReproductionResult", "run_reproduction"]


@dataclass
class ReproductionResult:
    """What :func:`run_reproduction` produced.

    Attributes
    ----------
    verdicts : dict
        ``(claim, column) -> Verdict`` (:func:`~.report.compute_verdicts`).
    files : dict of str to str
        Name -> path of the files written (report, summary_csv, verdicts_csv, results,
        results_csv and one per figure).
    failed : int
        Cells or analyses that failed in this run (rerun to retry them).
    wall : float
        Wall time of this run (s).
    cpu : float
        CPU time (user + sys) of this process and its finished child processes (s).
    """

    verdicts: dict
    files: dict = field(default_factory=dict)
    failed: int = 0
    wall: float = 0.0
    cpu: float = 0.0


def _write_csv(path, rows, columns):
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(path, suffix=".csv", name="--out") as f:
        f.write(text.getvalue().encode())


def _grids(protocol):
    """(claim, grid) pairs of the protocol."""
    out = [("C1", protocol.c1_grid(f)) for f in FAMILIES]
    out += [("C2", protocol.c2_grid(f)) for f in protocol.c2_families]
    out += [("brian2", protocol.brian2_grid(f)) for f in FAMILIES]
    return out


def _closed_loop_agreement(rows, brian2_results, task):
    """Brian2 against torch closed-loop curves (same trials and draws) at their common sigmas."""
    import math

    from ...evaluation.curves import NoisePreferenceCurve

    out = {"task": task, "backend": "brian2", "pairs": 0, "points": 0, "within_error": 0,
           "max_abs_diff": 0.0}
    for res in brian2_results:
        b = NoisePreferenceCurve.from_dict(res["curve"])
        ref = [r["curve"] for r in rows if r["claim"] == "C1" and r["task"] == task
               and r["seed"] == res["seed"] and r["placement"] == res["placement"]]
        if not ref:
            continue
        out["pairs"] += 1
        for i, sigma in enumerate(b.sigmas):
            j = ref[0].index_of(sigma)
            diff = abs(b.mean[i] - ref[0].mean[j])
            out["max_abs_diff"] = max(out["max_abs_diff"], float(diff))
            out["points"] += 1
            out["within_error"] += int(diff <= 2 * math.hypot(b.sem[i], ref[0].sem[j]) + 1e-12)
    return [out] if out["pairs"] else []


@keeps_random_state
def run_reproduction(out_dir: str | os.PathLike, *, quick: bool = False,
                     workers: int | None = None, scheduler: str | None = None,
                     progress: bool = True, log: Callable[[str], Any] = print,
                     command: str | None = None, figure_prefix: str = "",
                     compute: bool = True) -> ReproductionResult:
    """Run (or resume) the reproduction into ``out_dir`` and write its report.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Folder for ``report.md``, its PNG figures, ``summary.csv`` (the rows the verdicts
        come from), ``verdicts.csv``, ``results.csv`` (every recorded curve point),
        ``results.sqlite`` (+ ``results_specs/``) and ``analysis/`` (cached measurements);
        created if missing. Rerunning into it resumes.
    quick : bool
        The reduced protocol (:meth:`Protocol.quick_protocol`): one seed, fewer steps.
    workers : int >= 1 or None
        Local worker processes of the grids (None: all CPUs; 1: this process).
    scheduler : str or None
        A Dask scheduler address for the grids (the analyses run in this process).
    progress : bool
        Progress bars over the cells of each grid.
    log : callable(str)
        Receives progress lines.
    command : str or None
        The command line to print in the report's header (default: ``sys.argv``).
    figure_prefix : str
        Prefix of the figure file names.
    compute : bool
        Run the grids and analyses (False: only rebuild the report from what is stored;
        whatever is missing shows as "not run").

    Returns
    -------
    ReproductionResult
        Verdicts, files written, failures and times.

    Raises
    ------
    ValueError
        For invalid ``workers`` or both ``scheduler`` and local workers misuse, before any
        work; PermissionError if ``out_dir`` cannot be written.
    """
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be an int >= 1 or None, got {workers!r}")
    protocol = Protocol.quick_protocol() if quick else Protocol.full()
    out_dir = os.path.abspath(os.fspath(out_dir))
    files = _output_files(out_dir, compute)
    analysis_dir = os.path.join(out_dir, "analysis")
    grids = _grids(protocol)
    log_path = os.path.join(out_dir, "run_log.json")
    onset_settings = OnsetSettings.quick() if quick else OnsetSettings.full()
    study = dict(workers=workers, scheduler=scheduler, progress=progress, log=log,
                 compute=compute)
    with logged_if_stopped(log_path, t0, cpu0, enabled=compute, name="--out", command=command,
                           quick=quick):
        # the onset study first: it is the question the report answers at its top; but its
        # costliest design (Yang19's one-hot loss) after the paper's claims, so that a run
        # stopped in it has them
        onset = run_onset_study(protocol, onset_settings, files["results"], analysis_dir,
                                skip_last=compute, **study)
        failed = onset.failed + _run_grids(grids if compute else [], files["results"], workers,
                                           scheduler, progress, log)
        rows, specs = _stored_rows(files, grids, protocol)
        analyses, closed_loop_rows, analyses_failed = _network_analyses(
            specs, protocol, analysis_dir, log, compute)
        failed += analyses_failed
        rows += closed_loop_rows
        rows += feedforward_rows(protocol, analysis_dir, log, compute=compute)
        if compute:
            onset = run_onset_study(protocol, onset_settings, files["results"], analysis_dir,
                                    **study)
            failed += onset.failed

    analyses["brian2"] = _brian2_agreement(rows, analyses, protocol)

    verdicts = R.compute_verdicts(rows, analyses, sigma_train=protocol.sigma_train,
                                  c2_families=protocol.c2_families,
                                  closed_loop_task=protocol.closed_loop_task)
    figures = R.make_figures(rows, analyses, verdicts, out_dir, prefix=figure_prefix)
    files.update({f"figure_{k}": os.path.join(out_dir, v) for k, v in figures.items()})

    entry = log_entry(t0, cpu0, command, quick=quick)
    history = append_log(log_path, entry, name="--out") if compute else read_log(log_path)
    header = _report_header(history, entry, protocol, quick, failed)
    report_metrics = {t: s.report_metrics for t, s in protocol.families.items()}
    report_metrics[protocol.closed_loop_task] = ("periods_at_goal",)
    onset_figs = onset_figures(onset, out_dir, prefix=figure_prefix)
    files.update({f"figure_{k}": os.path.join(out_dir, v) for k, v in onset_figs.items()})
    text = R.render_report(header, rows, analyses, verdicts, figures, protocol.describe(),
                           report_metrics, lead=render_onset(onset, onset_figs))
    _write_outputs(files, text, rows, onset_csv_rows(onset), verdicts)
    return ReproductionResult(verdicts=verdicts, files=files, failed=failed, wall=entry["wall"],
                              cpu=entry["cpu"])


def _output_files(out_dir, compute):
    """The run's output files in ``out_dir`` (checked writable; the folder is created)."""
    files = checked_output_files(out_dir, {"report": "report.md", "summary_csv": "summary.csv",
                                           "verdicts_csv": "verdicts.csv",
                                           "results_csv": "results.csv",
                                           "onset_csv": "onset.csv",
                                           "results": "results.sqlite"}, "--out")
    os.makedirs(out_dir, exist_ok=True)
    if not compute and not os.path.isfile(files["results"]):
        raise FileNotFoundError(f"--out: no results database at {files['results']!r} to report on")
    return files


def _run_grids(grids, results, workers, scheduler, progress, log):
    """Run the protocol's grids into the database ``results``; the number of failed cells."""
    failed = 0
    for claim, grid in grids:
        log(f"reproduce: grid {grid.name} ({len(grid.cells())} cells)")
        # the Brian2 grids re-sweep trained networks: no pool of workers to start for them
        rep = run_grid(grid, results, workers=1 if claim == "brian2" else workers,
                       scheduler=scheduler, progress=progress, log=log)
        failed += len(rep.failed)
    return failed


def _stored_rows(files, grids, protocol):
    """The grids' recorded curves as report rows (results.csv written on the way), and the
    paths of C1's torch networks, ``(task, placement, seed) -> spec path``."""
    rows, keys = [], []
    with ResultStore(files["results"]) as store:
        for claim, grid in grids:
            gkeys = [c.key for c in grid.cells()]
            keys += gkeys
            task = grid.tasks[0]
            family = task if task in protocol.families else "MazeNavigation-v0"
            extra = protocol.families[family].report_metrics
            rows += [R.curve_row(c, claim, extra) for c in store.curves(gkeys)]
        store.export_csv(files["results_csv"], keys, name="--out")
        specs = {}
        for c in store.cells(keys):
            if c["grid_name"].startswith("c1-") and c["backend"] == "torch" and c["task"] in FAMILIES:
                specs[c["task"], c["placement"], c["seed"]] = store.resolve_path(c["spec_path"])
    return rows, specs


def _analysis_jobs(spec, task, placement, seed, protocol):
    """``(kind, job)`` of the analyses of one C1 network (each job computes one result)."""
    jobs = []
    if task in protocol.c2_families:
        jobs.append(("c4", lambda s=spec, t=task, sd=seed: shift_analysis(s, t, protocol, sd)))
        if placement == "pre":
            jobs.append(("c5", lambda s=spec, t=task: process_analysis(s, t, protocol)))
    if placement == "pre":
        jobs.append(("compensation", lambda s=spec, t=task: compensation_analysis(s, t, protocol)))
    if task == "MazeNavigation-v0":
        jobs.append(("closed_loop", lambda s=spec, sd=seed: closed_loop_result(s, protocol, sd)))
        if seed == protocol.seeds[0]:
            jobs.append(("closed_loop_brian2", lambda s=spec, sd=seed: closed_loop_result(
                s, protocol, sd, backend="brian2", relative_sigmas=protocol.brian2_sigmas)))
    return jobs


def _network_analyses(specs, protocol, analysis_dir, log, compute):
    """The analyses of C1's networks (cached in ``analysis_dir``; with ``compute`` False only
    read from there): ``(analyses, closed-loop maze rows, number failed)``."""
    from ...core.spec import CTRNNSpec
    from ...evaluation.curves import NoisePreferenceCurve

    analyses, rows, failed = {"c4": [], "c5": [], "compensation": []}, [], 0
    for (task, placement, seed), path in sorted(specs.items()):
        spec = CTRNNSpec.load(path)
        for kind, job in _analysis_jobs(spec, task, placement, seed, protocol):
            try:
                result = cached(analysis_dir, f"{kind}_{task.rsplit('-v', 1)[0]}_{placement}_s{seed}",
                                spec_settings(spec, protocol, kind), job if compute else None)
            except Exception as err:  # noqa: BLE001 - one failed analysis must not stop the run
                failed += 1
                log(f"reproduce: {kind} of {task} {placement} seed {seed} failed: "
                    f"{type(err).__name__}: {err}")
                continue
            if result is None:
                continue
            if kind == "closed_loop":
                curve = NoisePreferenceCurve.from_dict(result["curve"])
                curve.cell = {"seed": seed}  # for the figures' colour per seed
                rows.append(R.curve_row(curve, "C1", ("periods_at_goal",), seed=seed, diff=result["diff"],
                                        diff_sem=result["diff_sem"], grid="c1-MazeClosedLoop",
                                        steps=protocol.families[task].steps))
                log(f"reproduce: closed-loop maze of {placement} seed {seed} done")
                continue
            row = {"task": task, "placement": placement, "seed": seed,
                   "sigma_train": spec.noise.scalar_sigma()}
            row.update({"processes": result} if kind == "c5" else result)
            analyses.setdefault(kind, []).append(row)
            if compute:
                log(f"reproduce: {kind} of {task} {placement} seed {seed} done")
    return analyses, rows, failed


def _brian2_agreement(rows, analyses, protocol):
    """Brian2 against torch: the open-loop families' curves and the closed-loop maze."""
    from ..demo import backend_agreement

    b2 = []
    for task in FAMILIES:
        curves = [r["curve"] for r in rows if r["claim"] == "brian2" and r["task"] == task]
        for a in backend_agreement(curves):
            b2.append({"task": task, **a})
    return b2 + _closed_loop_agreement(rows, analyses.get("closed_loop_brian2") or [],
                                       protocol.closed_loop_task)


def _report_header(history, entry, protocol, quick, failed):
    """The report's header: commands, commits, date and cost over every invocation."""
    total_wall = sum(h["wall"] for h in history)
    total_cpu = sum(h["cpu"] for h in history)
    return {
        "command": " ; ".join(dict.fromkeys(h["command"] for h in history)) or entry["command"],
        "commits": [c for c in dict.fromkeys(h.get("commit") for h in history) if c],
        "date": history[-1]["date"] if history else entry["date"],
        "protocol": "quick (smoke test: one seed, short training)" if quick else "full",
        "seeds": protocol.seeds,
        "wall": f"{total_wall / 60:.1f} min over {len(history)} invocation(s)",
        "cpu": f"{total_cpu / 60:.1f} min (this process and its local workers; Dask workers "
               "not counted)",
        "versions": package_versions(),
        "notes": ([f"{failed} cells or analyses failed in this run; rerun to retry them"]
                  if failed else []),
        "appendix": ["## Data", "",
                     "- [onset.csv](onset.csv): one row per network of the onset study (design "
                     "point, steps, learned, preferred set, paired difference with SE and z, "
                     "verdict, noise-dependence split)",
                     "- [summary.csv](summary.csv): one row per network of the claims (the rows "
                     "the verdicts come from)",
                     "- [verdicts.csv](verdicts.csv): every verdict with its counts",
                     "- [results.csv](results.csv): every recorded curve point of the claims' grids",
                     "- `results.sqlite` and `results_specs/` in the run's folder (the committed "
                     "run's: `campaigns/reproduction/`): every cell of every grid and its trained "
                     "network", ""],
    }


def _write_outputs(files, text, rows, onset_rows, verdicts):
    """Write report.md, summary.csv, onset.csv and verdicts.csv (each atomically)."""
    with atomic_write(files["report"], suffix=".md", name="--out") as f:
        f.write(text.encode())
    _write_csv(files["summary_csv"], rows, R.columns_of(rows))
    _write_csv(files["onset_csv"], onset_rows, R.columns_of(onset_rows))
    _write_csv(files["verdicts_csv"], R.verdict_rows(verdicts),
               ["claim", "column", "verdict", "passed", "total", "detail"])
