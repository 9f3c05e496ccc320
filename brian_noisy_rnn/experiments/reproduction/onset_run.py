"""Running the onset study (:mod:`.onset`): its grids in priority order, the capped retraining,
the time-step grids that depend on the onsets found, and each network's measurements.

Everything goes through :func:`~brian_noisy_rnn.experiments.run_grid` into the reproduction's
results database, and every per-network measurement is cached (:func:`.analyses.cached`), so
an interrupted run resumes where it stopped, also days later. With ``compute=False`` nothing
runs and the study's records are read from what is stored.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .analyses import CachedJob, cached, compute_cached
from .onset import (CAP_FACTOR, CRITERIA, OnsetSettings, decided_up_to, network_verdict, onset_level,
                    test_sigmas)
from .protocol import Protocol

__all__ = ["NetworkRecord", "OnsetData", "onsets_of", "run_onset_study"]

_MSE = "mse_onehot"


@dataclass
class NetworkRecord:
    """One network of the study, as the verdicts use it.

    Attributes
    ----------
    study : str
        "onset" (training sigma), "loss" (the one-hot squared-error training) or "dt".
    task : str
        The family's task id.
    loss : str
        "default" (the family's own loss) or "mse_onehot".
    dt_ms : float
        Time step (ms).
    placement : str
        Training placement.
    sigma : float
        Training sigma.
    seed : int
        Training seed.
    steps : int
        Adam steps it was trained for (the family's base or the cap).
    curve : NoisePreferenceCurve
        Its sweep over the study's test sigmas.
    spec_path : str
        Its saved network.
    verdict : dict
        :func:`.onset.network_verdict` on the curve's metric.
    decision : dict or None
        The same on decision steps (classification families trained with cross-entropy).
    diagnostic : dict or None
        :meth:`~brian_noisy_rnn.analysis.NoiseDependence.to_dict` of the network
        (``"decision"`` key: on decision steps), once measured.
    closed_loop : dict or None
        The closed-loop maze result (MazeNavigation networks of the onset study).
    capped : bool
        Whether the base budget missed the criterion (so this is the cap's network, or the
        base network still waiting for its cap).
    cap_pending : bool
        The base network missed the criterion and its cap has not run yet (a stopped run):
        its verdict is provisional.
    cap_diverged : str
        The cap's training diverged (its loss became NaN; the error message): the network
        missed the criterion after the cap, and later runs do not train it again.
    """

    study: str
    task: str
    loss: str
    dt_ms: float
    placement: str
    sigma: float
    seed: int
    steps: int
    curve: Any
    spec_path: str
    verdict: dict
    decision: dict | None = None
    diagnostic: dict | None = None
    closed_loop: dict | None = None
    capped: bool = False
    cap_pending: bool = False
    cap_diverged: str = ""

    @property
    def key(self):
        """(study, task, loss, dt_ms, placement, sigma, seed): one network of the design."""
        return (self.study, self.task, self.loss, self.dt_ms, self.placement, self.sigma,
                self.seed)


@dataclass
class OnsetData:
    """Everything the onset report needs.

    Attributes
    ----------
    records : list of NetworkRecord
        The network chosen for every design point (base if it learned, else the cap's).
    onsets : dict
        (task, loss, dt_ms) -> (onset level or None, detail line).
    decided : dict
        (task, loss, dt_ms) -> the largest level the onset rule could decide (enough learned
        networks), or None: a design without an onset reads "none up to" it, or "undecided".
    dt_levels : dict of str to tuple
        Family -> the training sigmas of its time-step grids.
    settings : OnsetSettings
        The study's settings.
    feedforward : list of dict
        Feedforward networks: ``layers``, ``placement``, ``sigma``, ``seed``, ``curve``
        (NoisePreferenceCurve), ``verdict``.
    failed : int
        Grids or measurements that failed in this run.
    """

    records: list = field(default_factory=list)
    onsets: dict = field(default_factory=dict)
    decided: dict = field(default_factory=dict)
    dt_levels: dict = field(default_factory=dict)
    settings: OnsetSettings | None = None
    feedforward: list = field(default_factory=list)
    failed: int = 0


def _short(task):
    return task.rsplit("-v", 1)[0]


class _Study:
    """The grids of one study run (a helper of :func:`run_onset_study`)."""

    def __init__(self, protocol, settings, results, workers, scheduler, progress, log, compute):
        self.p, self.s = protocol, settings
        self.results, self.workers, self.scheduler = results, workers, scheduler
        self.progress, self.log, self.compute = progress, log, compute
        self.grids = []  # (study, task, loss, dt_ms, grid)
        self.failed = 0
        self.cap_points = {}  # cell key of a cap -> its design point (NetworkRecord.key)
        # caps whose training diverged (NaN loss), kept beside the database so that a resumed
        # run neither trains them again nor waits for them: design point -> error message
        self.diverged_path = os.path.join(os.path.dirname(os.path.abspath(results)),
                                          "onset_diverged.json")
        self.diverged = _read_diverged(self.diverged_path)

    def metric(self, task, loss):
        return _MSE if loss == _MSE else self.p.families[task].metric

    def grid(self, study, task, loss, dt_ms, placements, levels, seeds, steps=None, tag="",
             run=True):
        s = self.p.families[task]
        suffix = ("-mse" if loss == _MSE else "") + (f"-dt{dt_ms:g}" if dt_ms != self.p.dt_ms else "")
        name = f"{study}-{_short(task)}{suffix}{tag}"
        grid = self.p._grid(name, task, placements, levels, seeds, ("torch",), None, s.n_trials,
                            metric=self.metric(task, loss), sigmas=test_sigmas(levels),
                            dt_ms=dt_ms, loss=None if loss == "default" else loss, steps=steps)
        self.grids.append((study, task, loss, dt_ms, grid))
        if run:
            self.run([grid])
        return grid

    def run(self, grids):
        """Run ``grids`` as one pool of cells (so that one-network grids share the workers)."""
        if not self.compute or not grids:
            return
        from ..runner import run_grid

        for grid in grids:
            self.log(f"reproduce: grid {grid.name} ({len(grid.cells())} cells)")
        rep = run_grid(grids, self.results, workers=self.workers, scheduler=self.scheduler,
                       progress=self.progress, log=self.log)
        self.failed += len(rep.failed)
        diverged = {self.cap_points[k]: msg for k, msg in rep.failed.items()
                    if k in self.cap_points and "FloatingPointError" in msg}
        if diverged:
            self.diverged.update(diverged)
            _write_diverged(self.diverged_path, self.diverged)

    def records(self, study, task, loss, dt_ms):
        """The chosen network per design point of one (study, task, loss, dt): the base
        network if it learned, else the cap's (or the base one, marked, until the cap ran)."""
        from ..store import ResultStore

        found = {}
        crit, base = CRITERIA[task], self.p.families[task].steps
        with ResultStore(self.results) as store:
            for st, t, lo, dt, grid in self.grids:
                if (t, lo, dt) != (task, loss, dt_ms) or st not in (study, f"cap-{study}"):
                    continue
                for curve in store.curves([c.key for c in grid.cells()]):
                    cell = curve.cell
                    rec = NetworkRecord(
                        study=study, task=task, loss=loss, dt_ms=dt_ms,
                        placement=curve.train_placement, sigma=float(curve.sigma_train),
                        seed=int(cell["seed"]), steps=int(cell["config"]["training"]["steps"]),
                        curve=curve, spec_path=store.resolve_path(cell["spec_path"]),
                        verdict=network_verdict(curve, crit))
                    decision = {"cross_entropy": "decision_cross_entropy",
                                _MSE: "decision_mse_onehot"}.get(curve.metric)
                    if decision is not None:
                        rec.decision = network_verdict(curve, crit, decision)
                    found.setdefault(rec.key, {})[rec.steps > base] = rec
        out = []
        for pair in found.values():
            first, cap = pair.get(False), pair.get(True)
            if first is not None and first.verdict["learned"]:
                out.append(first)
                continue
            chosen = cap if cap is not None else first
            chosen.capped = True
            chosen.cap_diverged = self.diverged.get(chosen.key, "") if cap is None else ""
            chosen.cap_pending = cap is None and not chosen.cap_diverged
            out.append(chosen)
        return out

    def with_caps(self, study, task, loss, dt_ms, placements, levels, tag="", n_seeds=None):
        """Run one design's grid (its first ``n_seeds`` seeds; None: all), then the cap for
        each network that missed the criterion."""
        base = self.p.families[task].steps
        self.grid(study, task, loss, dt_ms, placements, levels, self.p.seeds[:n_seeds], tag=tag)
        missed = {}  # (placement, sigma) -> seeds whose base network missed the criterion
        for rec in self.records(study, task, loss, dt_ms):
            if not rec.verdict["learned"] and rec.steps == base and rec.placement in placements:
                missed.setdefault((rec.placement, rec.sigma), []).append(rec.seed)
        # one pool for all caps of the design: one grid per (placement, sigma) keeps the
        # cells' names (and so their records) as before; caps that diverged are not retried
        caps = []
        for (placement, sigma), seeds in sorted(missed.items()):
            todo = tuple(sorted(s for s in seeds if (study, task, loss, dt_ms, placement, sigma, s)
                                not in self.diverged))
            if not todo:
                continue
            grid = self.grid(f"cap-{study}", task, loss, dt_ms, (placement,), (sigma,), todo,
                             steps=CAP_FACTOR * base, run=False,
                             tag=f"-{placement}-{sigma:g}-s{'.'.join(map(str, sorted(seeds)))}")
            for cell in grid.cells():
                self.cap_points[cell.key] = (study, task, loss, dt_ms, placement, sigma,
                                             int(cell.config["seed"]))
            caps.append(grid)
        self.run(caps)
        return self.records(study, task, loss, dt_ms)


def _read_diverged(path):
    """The diverged caps recorded at ``path``: design point (tuple) -> error message."""
    import json

    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return {tuple(row["point"]): row["error"] for row in json.load(f)}


def _write_diverged(path, diverged):
    import json

    from ...core.atomic import atomic_write

    rows = [{"point": list(point), "error": error} for point, error in sorted(diverged.items())]
    with atomic_write(path, suffix=".json", name="results") as f:
        f.write(json.dumps(rows, indent=1).encode())


def onsets_of(records, n_seeds: int) -> tuple[dict, dict]:
    """The onset of every (task, loss, dt_ms) among ``records``, and how far it was decided.

    Parameters
    ----------
    records : iterable of NetworkRecord
        Networks of any designs; only the noise-inside ones (placement "pre") count.
    n_seeds : int
        Seeds per level in the protocol (a level needs ``min(2, n_seeds)`` learned networks).

    Returns
    -------
    onsets : dict
        (task, loss, dt_ms) -> (onset level or None, detail line): :func:`onset_level`.
    decided : dict
        (task, loss, dt_ms) -> the largest level the rule could decide, or None
        ("undecided"): :func:`decided_up_to`.
    """
    records = list(records)
    onsets, decided = {}, {}
    for key in {(r.task, r.loss, r.dt_ms) for r in records}:
        by_level = {}
        for r in records:
            if (r.task, r.loss, r.dt_ms) == key and r.placement == "pre":
                by_level.setdefault(r.sigma, []).append(r.verdict)
        onsets[key] = onset_level(by_level, min_learned=min(2, n_seeds))
        decided[key] = decided_up_to(by_level, min_learned=min(2, n_seeds))
    return onsets, decided


def _diagnostic_job(spec_path, task, dt_ms, n_trials, n_repeats, seed, loss, classification):
    """The noise-dependence split of one network (every scored step; decision steps too for
    a classification family): a worker's job of :func:`_measurement_jobs`."""
    from ... import tasks
    from ...analysis.loss_split import noise_dependence
    from ...core.spec import CTRNNSpec

    spec, env = CTRNNSpec.load(spec_path), tasks.make(task, dt=dt_ms)
    kw = dict(n_trials=n_trials, n_repeats=n_repeats, seed=seed, loss=loss)
    out = noise_dependence(spec, env, **kw).to_dict()
    if classification:
        out["decision"] = noise_dependence(spec, env, steps="decision", **kw).to_dict()
    return out


def _closed_loop_job(spec_path, protocol, seed, relative_sigmas):
    """The closed-loop maze curve of one network: a worker's job of :func:`_measurement_jobs`."""
    from ...core.spec import CTRNNSpec
    from .feedforward import closed_loop_result

    return closed_loop_result(CTRNNSpec.load(spec_path), protocol, seed,
                              relative_sigmas=relative_sigmas)


def _measurement_jobs(rec, protocol, settings):
    """The measurements of one learned network, ``{NetworkRecord field: CachedJob}``: its
    noise-dependence split, and for the maze (onset study, its own loss) the closed loop."""
    from ...core.spec import CTRNNSpec

    spec_hash = CTRNNSpec.load(rec.spec_path).content_hash()
    name = f"{_short(rec.task)}_{rec.loss}_dt{rec.dt_ms:g}_{rec.placement}_{rec.sigma:g}_s{rec.seed}"
    # decision steps too for a classification family, but not in the time-step study (its
    # table does not use them, and at dt 2.5 ms a maze split costs minutes)
    classification = protocol.families[rec.task].metric == "cross_entropy"
    nd = {"kind": "noise_dependence", "spec": spec_hash, "trials": settings.diag_trials,
          "repeats": settings.diag_repeats, "seed": protocol.eval_seed, "loss": rec.loss}
    if classification and rec.study == "dt":
        classification, nd["decision"] = False, False
    jobs = {"diagnostic": CachedJob(f"nd_{name}", nd, _diagnostic_job, (
        rec.spec_path, rec.task, rec.dt_ms, settings.diag_trials, settings.diag_repeats,
        protocol.eval_seed, _MSE if rec.loss == _MSE else None, classification))}
    if rec.study == "onset" and rec.task == "MazeNavigation-v0" and rec.loss == "default":
        cl = {"kind": "closed_loop_onset", "spec": spec_hash,
              "relative": list(settings.closed_loop_relative),
              "trials": protocol.closed_loop_trials, "seed": protocol.eval_seed}
        jobs["closed_loop"] = CachedJob(f"cl_{name}", cl, _closed_loop_job, (
            rec.spec_path, protocol, rec.seed, settings.closed_loop_relative))
    return jobs


def run_onset_study(protocol: Protocol, settings: OnsetSettings, results: str,
                    analysis_dir: str, *, workers: int | None = None,
                    scheduler: str | None = None, progress: bool = True,
                    log: Callable[[str], Any] = print, compute: bool = True,
                    skip_last: bool = False) -> OnsetData:
    """Run (or resume, or only read) the onset study into the reproduction's database.

    Parameters
    ----------
    protocol : Protocol
        The reproduction's protocol (families, seeds, budgets, evaluation seed).
    settings : OnsetSettings
        The study's levels, losses, time steps and measurement sizes.
    results : str
        Path of the results database.
    analysis_dir : str
        The per-network measurement cache.
    workers, scheduler, progress, log : as for :func:`~brian_noisy_rnn.experiments.run_grid`
        (``log`` also receives one line per measurement).
    compute : bool
        Run what is missing (False: read what is stored; missing parts are left out).
    skip_last : bool
        Leave out the last and costliest design (Yang19's one-hot loss), so that a caller can
        run something else first and call again for it (everything before is then read from
        the store and the caches).

    Returns
    -------
    OnsetData
        The chosen networks with their verdicts and measurements, the onsets, the time-step
        levels, the feedforward networks and the number of failures.
    """
    study = _Study(protocol, settings, results, workers, scheduler, progress, log, compute)
    chosen = {}

    def design(study_name, task, loss, dt, placements, levels, tag="", n_seeds=None):
        """One design's grids and caps, then the measurements of its learned networks on the
        workers (each cached as it finishes, so a run stopped later keeps them)."""
        jobs = {}
        for rec in study.with_caps(study_name, task, loss, dt, placements, levels, tag=tag,
                                   n_seeds=n_seeds):
            chosen[rec.key] = rec
            if not rec.verdict["learned"]:
                continue
            try:
                jobs[rec.key] = _measurement_jobs(rec, protocol, settings)
            except Exception as err:  # noqa: BLE001 - one unreadable network must not stop the run
                study.failed += 1
                log(f"reproduce: measurements of {rec.key} failed: {type(err).__name__}: {err}")
        if compute:
            study.failed += compute_cached(analysis_dir, [j for js in jobs.values()
                                                          for j in js.values()], workers, log)
        for key, js in jobs.items():
            for field_name, job in js.items():
                setattr(chosen[key], field_name, cached(analysis_dir, job.name, job.settings, None))

    # cheap and decisive first: the dt 20 ms levels of the four small families and the
    # maze's one-hot loss; then Yang19 (every family before any time step); then the time
    # steps (they need the dt 20 ms onsets) and the feedforward levels; Yang19's one-hot
    # loss, the costliest design, last
    small = [f for f in settings.levels if f != "Yang19Multitask-v0"]
    for task in small:
        design("onset", task, "default", protocol.dt_ms, ("pre", "post"), settings.levels[task])
    for task in settings.loss_families:
        if task in small:
            design("loss", task, _MSE, protocol.dt_ms,
                   settings.loss_placements.get(task, ("pre", "post")), settings.loss_levels[task])
    for task in settings.levels:
        if task not in small:
            design("onset", task, "default", protocol.dt_ms, ("pre", "post"), settings.levels[task])
    onsets, _ = onsets_of(chosen.values(), len(protocol.seeds))
    dt_levels = {}
    for task in settings.dt_families:
        onset = onsets.get((task, "default", protocol.dt_ms), (None, ""))[0]
        top = onset if onset is not None else max(settings.levels[task])
        dt_levels[task] = tuple(sorted({1.0, float(top)}))
        for dt in settings.dt_values:
            if dt == protocol.dt_ms:
                continue
            design("dt", task, "default", dt, ("pre",), dt_levels[task], tag="-pre")
            design("dt", task, "default", dt, ("post",), (1.0,), tag="-post",
                   n_seeds=settings.dt_control_seeds.get(task))
    from .feedforward import feedforward_level_rows

    ff = feedforward_level_rows(protocol, settings.ff_levels, analysis_dir, log, compute=compute,
                                workers=workers)
    for task in (() if skip_last else settings.loss_families):
        if task not in small:
            design("loss", task, _MSE, protocol.dt_ms,
                   settings.loss_placements.get(task, ("pre", "post")), settings.loss_levels[task])
    records = sorted(chosen.values(), key=lambda r: (r.study, r.task, r.loss, r.dt_ms,
                                                     r.placement, r.sigma, r.seed))
    onsets, decided = onsets_of(records, len(protocol.seeds))
    return OnsetData(records=records, onsets=onsets, decided=decided, dt_levels=dt_levels,
                     settings=settings, feedforward=ff, failed=study.failed)
