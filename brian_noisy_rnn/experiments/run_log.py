"""A run's cost over its invocations: ``run_log.json`` beside a resumable run's results.

A resumable run (the reproduction, the NeuroGym benchmark) may take several invocations; each
appends one entry (date, wall and CPU seconds, command, code commit, load average), so its
report can state the total time of the run however often it was interrupted and resumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time

from ..core.atomic import atomic_write

__all__ = ["append_log", "cpu_seconds", "format_run_log", "log_entry", "logged_if_stopped",
           "read_log", "source_commit"]


def source_commit() -> str | None:
    """The git commit of the code that runs.

    Returns
    -------
    str or None
        ``git rev-parse HEAD`` of the package's checkout; None outside a git checkout.
    """
    import subprocess

    try:
        out = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse",
                              "HEAD"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished child processes, in s.

    Returns
    -------
    float
        Seconds (local worker processes count once they have ended; Dask workers never).
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def log_entry(t0: float, cpu0: float, command: str | None = None, interrupted: bool = False,
              **fields) -> dict:
    """One invocation's entry of the run log.

    Parameters
    ----------
    t0 : float
        ``time.perf_counter()`` at the invocation's start, in s.
    cpu0 : float
        :func:`cpu_seconds` at its start, in s.
    command : str or None
        The command (None: ``sys.argv`` joined).
    interrupted : bool
        Mark the entry as an invocation that an error or an interrupt stopped.
    **fields : JSON-compatible
        Further fields of the entry (e.g. ``quick``).

    Returns
    -------
    dict
        ``date`` (UTC text), ``wall`` and ``cpu`` (s), the ``fields``, ``command``,
        ``commit`` (:func:`source_commit`), ``load_average`` (1-minute) and, if
        ``interrupted``, ``interrupted: True``.
    """
    entry = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
             "wall": time.perf_counter() - t0, "cpu": cpu_seconds() - cpu0, **fields,
             "command": command or " ".join(sys.argv), "commit": source_commit(),
             "load_average": os.getloadavg()[0]}
    if interrupted:
        entry["interrupted"] = True
    return entry


def read_log(path: str | os.PathLike) -> list[dict]:
    """The entries of the run log at ``path`` (empty if it is missing or unreadable).

    Parameters
    ----------
    path : str or os.PathLike
        The ``run_log.json`` file.

    Returns
    -------
    list of dict
        Oldest first.
    """
    if os.path.isfile(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    return []


def append_log(path: str | os.PathLike, entry: dict, name: str = "out_dir") -> list[dict]:
    """Append ``entry`` to the run log at ``path`` (written atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The ``run_log.json`` file.
    entry : dict
        A :func:`log_entry`.
    name : str
        The argument named in errors about the file (e.g. ``"--out"``).

    Returns
    -------
    list of dict
        The log's entries after appending, oldest first.
    """
    history = read_log(path) + [entry]
    with atomic_write(path, suffix=".json", name=name) as f:
        f.write(json.dumps(history, indent=1).encode())
    return history


@contextlib.contextmanager
def logged_if_stopped(path: str | os.PathLike, t0: float, cpu0: float, enabled: bool = True,
                      name: str = "out_dir", command: str | None = None, **fields):
    """Append an ``interrupted`` :func:`log_entry` to the run log at ``path`` if the block
    raises (an error or Ctrl-C: the stopped invocation's cost still counts), then re-raise.

    Parameters
    ----------
    path : str or os.PathLike
        The ``run_log.json`` file.
    t0, cpu0 : float
        As for :func:`log_entry`, in s.
    enabled : bool
        False: log nothing (e.g. a report-only invocation).
    name : str
        As for :func:`append_log`.
    command : str or None
        As for :func:`log_entry`.
    **fields : JSON-compatible
        Further fields of the entry.
    """
    try:
        yield
    except BaseException:
        if enabled:
            append_log(path, log_entry(t0, cpu0, command, interrupted=True, **fields), name=name)
        raise


def format_run_log(history: list[dict], versions: dict[str, str | None]) -> str:
    """A run's time and versions as Markdown lines.

    Parameters
    ----------
    history : list of dict
        :func:`read_log` entries (possibly empty).
    versions : dict of str to str or None
        Package -> version (:func:`~brian_noisy_rnn.experiments.jobs.package_versions`).

    Returns
    -------
    str
        Lines: the dates of the first and last invocations, the total wall and CPU time over
        them (interrupted ones counted), load averages, commits and versions.
    """
    lines = []
    if history:
        wall = sum(h.get("wall", 0.0) for h in history)
        cpu = sum(h.get("cpu", 0.0) for h in history)
        stopped = sum(bool(h.get("interrupted")) for h in history)
        loads = [h["load_average"] for h in history if h.get("load_average") is not None]
        lines += [f"- run: {len(history)} invocation(s) ({stopped} interrupted), "
                  f"{history[0].get('date')} to {history[-1].get('date')}",
                  f"- time: {wall / 60:.1f} min wall, {cpu / 60:.1f} CPU-min (this process "
                  "and its local workers; Dask workers not counted)"
                  + (f"; load average at the ends of invocations {min(loads):.1f}-"
                     f"{max(loads):.1f}" if loads else "")]
        commits = [c for c in dict.fromkeys(h.get("commit") for h in history) if c]
        if commits:
            lines.append("- commits: " + ", ".join(commits))
    else:
        lines.append("- run: no training invocation is logged in run_log.json")
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    return "\n".join(lines)
