"""The results database: one SQLite file holding every finished cell of an experiment.

Tables
------
``cells``: one row per finished cell, keyed by ``cell_key`` (UNIQUE: the SHA-256 of the
cell's config, so a cell can be recorded once only). Columns: the grid axes (task, placement,
process, train_sigma, seed, backend), the headline numbers of its noise-preference curve
(metric, preferred_sigma, preferred_ratio, metric_at_zero / _train with standard errors, the
paired difference metric(0) - metric(train) and its standard error), the spec file (path
relative to the database's folder when inside it, and its ``content_hash``), timings, the full
config, curve and package versions as JSON, host and finish time.

``curve``: one row per (cell, test sigma): sigma, relative_sigma, mean, sem, n_trials,
is_preferred and the other metrics (JSON). Primary key (cell_key, sigma).

``claims``: one row per network (``train_key``) a running :func:`~.runner.run_grid` is
training and sweeping: the owner (host, pid and a random tag), and a heartbeat (Unix time)
the owner renews every :data:`CLAIM_HEARTBEAT_SECONDS`. A claim whose heartbeat is older than
:data:`CLAIM_STALE_SECONDS`, or whose owner is a dead process on this host, is stale and
taken over; so a second process on the same grid and database waits for (or takes over) the
networks another holds instead of training them twice.

Safety
------
A new database is built under a temporary name in the same folder (schema, WAL journal) and
then linked to its path, so other processes see either no file or a complete database; two
processes creating one database at once both open the same file. WAL journal and a busy
timeout: several processes can read while one writes, and writers wait for each other
instead of failing. An existing file is checked read-only (tables and columns of this schema)
before anything is written to it, its journal mode included. A cell and its curve rows are written in one
``BEGIN IMMEDIATE`` transaction, so a process killed at any moment leaves either the whole
cell or nothing; ``INSERT OR IGNORE`` on the unique key makes a second recording of the same
cell (e.g. by another process) a no-op.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import sqlite3
import time
import urllib.parse
import uuid
import warnings

from ..core.atomic import atomic_write, check_writable

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000
#: seconds between two renewals of a running grid's claims
CLAIM_HEARTBEAT_SECONDS = 10.0
#: a claim not renewed for this many seconds is stale (its owner is gone) and taken over
CLAIM_STALE_SECONDS = 120.0

__all__ = ["CLAIM_HEARTBEAT_SECONDS", "CLAIM_STALE_SECONDS", "CorruptRowWarning", "ResultStore",
           "SCHEMA_VERSION", "new_claim_owner"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    cell_key TEXT PRIMARY KEY,
    train_key TEXT NOT NULL,
    grid_name TEXT NOT NULL,
    task TEXT NOT NULL,
    placement TEXT NOT NULL,
    process TEXT NOT NULL,
    train_sigma REAL NOT NULL,
    seed INTEGER NOT NULL,
    backend TEXT NOT NULL,
    n_hidden INTEGER NOT NULL,
    activation TEXT NOT NULL,
    steps INTEGER NOT NULL,
    metric TEXT NOT NULL,
    higher_is_better INTEGER NOT NULL,
    preferred_sigma REAL,
    preferred_ratio REAL,
    metric_at_zero REAL,
    sem_at_zero REAL,
    metric_at_train REAL,
    sem_at_train REAL,
    zero_minus_train REAL,
    zero_minus_train_sem REAL,
    n_trials INTEGER NOT NULL,
    train_final_loss REAL,
    train_seconds REAL,
    eval_seconds REAL,
    trained_in_cell INTEGER NOT NULL,
    spec_path TEXT NOT NULL,
    spec_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    curve_json TEXT NOT NULL,
    versions_json TEXT NOT NULL,
    host TEXT,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_train_key ON cells (train_key);
CREATE TABLE IF NOT EXISTS curve (
    cell_key TEXT NOT NULL REFERENCES cells (cell_key),
    sigma REAL NOT NULL,
    relative_sigma REAL,
    metric TEXT NOT NULL,
    mean REAL,
    sem REAL,
    n_trials INTEGER NOT NULL,
    is_preferred INTEGER NOT NULL,
    other_json TEXT NOT NULL,
    PRIMARY KEY (cell_key, sigma)
);
"""

_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    train_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
"""

#: columns a database must have to be opened for writing (a look-alike is refused unchanged)
_REQUIRED_COLUMNS = {
    "meta": {"key", "value"},
    "cells": {"cell_key", "train_key", "grid_name", "task", "placement", "process", "train_sigma",
              "seed", "backend", "spec_path", "spec_hash", "config_json", "curve_json",
              "versions_json", "finished_at"},
    "curve": {"cell_key", "sigma", "relative_sigma", "metric", "mean", "sem", "n_trials",
              "is_preferred", "other_json"},
}

#: cell columns in the tidy CSV, in this order
CSV_CELL_COLUMNS = ("grid_name", "task", "placement", "process", "train_sigma", "seed", "backend",
                    "n_hidden", "activation", "steps", "metric", "higher_is_better",
                    "preferred_sigma", "metric_at_zero", "metric_at_train", "spec_path",
                    "spec_hash", "cell_key")
CSV_CURVE_COLUMNS = ("sigma", "relative_sigma", "mean", "sem", "n_trials", "is_preferred")


def _finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class CorruptRowWarning(UserWarning):
    """A row of a results database could not be read and was left out (or rebuilt)."""


def _writable_sqlite(path):
    """True if SQLite can write the database ``path`` (the file and, for its journal, the folder)."""
    try:
        check_writable(path, "results")
        check_writable(os.path.join(os.path.dirname(path), ".journal-probe"), "results")
    except (PermissionError, ValueError):
        return False
    return True


def new_claim_owner() -> str:
    """A name for a claim owner, unique across hosts and processes: ``host:pid:tag``.

    Returns
    -------
    str
        The owner name.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_is_dead(pid):
    """True if no process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def _create_database(path):
    """Create the results database ``path`` atomically: built under a temporary name in the
    same folder (schema, WAL journal), then hard-linked to ``path``; if another process created
    it first, that database is kept and the temporary one removed."""
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(_SCHEMA + _CLAIMS)
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        finally:
            con.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it: use theirs
        except OSError:
            pass  # no hard links on this file system: ResultStore creates it in place
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp + suffix)


def _connect_readonly(path):
    """A read-only connection; an immutable one where SQLite cannot create its WAL index
    (an archived database in a read-only folder)."""
    uri = "file:" + urllib.parse.quote(path)
    con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                          isolation_level=None)
    try:
        con.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        return con
    except sqlite3.OperationalError:
        con.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


class ResultStore:
    """An open results database (created if missing).

    Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file (its folder is created if needed).
    readonly : bool
        Open an existing database without creating or changing it.
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False) -> None:
        self.path = os.path.abspath(os.fspath(path))
        exists = os.path.exists(self.path)
        if exists and not os.path.isfile(self.path):
            raise ValueError(f"results: {self.path!r} is not a file")
        if readonly and not exists:
            raise FileNotFoundError(f"results: no database at {self.path!r}")
        if exists and os.path.getsize(self.path) > 0:
            # an existing file must already be one of ours: checked read-only, so a foreign
            # SQLite file (or any other file) is refused before anything is written to it
            self._check_existing()
        if not readonly:
            if exists and not _writable_sqlite(self.path):
                raise PermissionError(f"results: {self.path!r} is read-only (or its folder is); "
                                      "open it read-only (e.g. `brian-noisy-rnn results`) or "
                                      "copy it somewhere writable")
            check_writable(self.path, "results")
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            if readonly:
                self._con = _connect_readonly(self.path)
            else:
                if not exists:
                    _create_database(self.path)
                self._con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                            isolation_level=None)
                self._con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._prepare()
            self._con.row_factory = sqlite3.Row
        except sqlite3.DatabaseError as err:
            self.close()
            raise ValueError(f"results: cannot open {self.path!r} "
                             f"{'read-only ' if readonly else ''}({err})") from err

    def _prepare(self):
        """Bring a checked (or empty) database to the current layout: WAL journal, every
        table; writes only what is missing, waiting for other writers."""
        con = self._con
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            # switching needs the database to itself: wait for other connections as a write
            # would (the pragma does not always call the busy handler)
            deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
            while True:
                try:
                    con.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as err:
                    if "locked" not in str(err) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"meta", "cells", "curve", "claims"} <= tables:
            con.execute("BEGIN IMMEDIATE")
            try:
                for statement in (_SCHEMA + _CLAIMS).split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                            (str(SCHEMA_VERSION),))
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def _check_existing(self):
        """Refuse (ValueError) a file that is not a results database of this schema version."""
        try:
            con = _connect_readonly(self.path)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"results: cannot open {self.path!r} read-only ({err})") from err
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "cells", "curve"} <= tables:
                raise ValueError(f"results: {self.path!r} is not a brian-noisy-rnn results "
                                 f"database (tables {sorted(tables)}); refusing to change it")
            for table, required in _REQUIRED_COLUMNS.items():
                columns = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                if not required <= columns:
                    raise ValueError(f"results: {self.path!r} is not a brian-noisy-rnn results "
                                     f"database (table {table!r} lacks columns "
                                     f"{sorted(required - columns)}); refusing to change it")
            version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as err:
            raise ValueError(f"results: {self.path!r} is not a brian-noisy-rnn results "
                             f"database ({err})") from err
        finally:
            con.close()
        if version is None or str(version[0]) != str(SCHEMA_VERSION):
            raise ValueError(f"results: {self.path!r} has schema version "
                             f"{None if version is None else version[0]!r}; this brian-noisy-rnn "
                             f"reads version {SCHEMA_VERSION}")

    # --- lifecycle -----------------------------------------------------------------------
    def close(self):
        """Close the connection (idempotent)."""
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- reading -------------------------------------------------------------------------
    def finished_keys(self):
        """The cell keys already recorded.

        Returns
        -------
        set of str
            The cell keys.
        """
        return {r[0] for r in self._con.execute("SELECT cell_key FROM cells")}

    def has(self, cell_key):
        """True if the cell ``cell_key`` is recorded.

        Parameters
        ----------
        cell_key : str
            A cell key (``Cell.key``).

        Returns
        -------
        bool
            Whether the cell is recorded.
        """
        return self._con.execute("SELECT 1 FROM cells WHERE cell_key = ?", (cell_key,)).fetchone() is not None

    def spec_for_train_key(self, train_key):
        """``(absolute spec path, spec hash)`` of a recorded network with this train key, or None.

        Parameters
        ----------
        train_key : str
            A training key (``Cell.train_key``).

        Returns
        -------
        tuple of (str, str) or None
            The spec path and hash of the first cell recorded with this key.
        """
        row = self._con.execute("SELECT spec_path, spec_hash FROM cells WHERE train_key = ? "
                                "ORDER BY finished_at LIMIT 1", (train_key,)).fetchone()
        if row is None:
            return None
        return self.resolve_path(row["spec_path"]), row["spec_hash"]

    def resolve_path(self, stored):
        """An absolute path for a path stored in the database (relative to its folder).

        Parameters
        ----------
        stored : str
            A path as stored.

        Returns
        -------
        str
            The absolute path.
        """
        return stored if os.path.isabs(stored) else os.path.join(os.path.dirname(self.path), stored)

    def cells(self, keys=None):
        """Recorded cells as a list of dicts (one per row of ``cells``, JSON columns decoded).

        Parameters
        ----------
        keys : iterable of str, optional
            Cell keys to restrict to.

        Returns
        -------
        list of dict
            One per readable row, ordered by task, placement, train sigma, seed, backend
            (corrupt rows are left out with a :class:`CorruptRowWarning`).
        """
        rows = [dict(r) for r in self._con.execute("SELECT * FROM cells ORDER BY task, placement, "
                                                   "train_sigma, seed, backend")]
        if keys is not None:
            keys = set(keys)
            rows = [r for r in rows if r["cell_key"] in keys]
        out = []
        for r in rows:
            try:
                for col in ("config", "curve", "versions"):
                    value = json.loads(r.pop(f"{col}_json"))
                    if not isinstance(value, dict):
                        raise ValueError(f"column {col}_json holds {type(value).__name__}, not an object")
                    r[col] = value
            except (ValueError, TypeError) as err:
                self._skip(r, err)
                continue
            out.append(r)
        return out

    def _skip(self, row, err):
        """Warn that a corrupt row is left out (naming its cell)."""
        label = " ".join(str(row.get(k)) for k in ("task", "placement", "train_sigma", "seed",
                                                   "backend"))
        warnings.warn(f"results: {self.path!r}: cell {label} (key {str(row.get('cell_key'))[:12]}) "
                      f"is corrupt and left out: {err}", CorruptRowWarning, stacklevel=3)

    def curves(self, keys=None):
        """The recorded noise-preference curves.

        Parameters
        ----------
        keys : iterable of str, optional
            Cell keys to restrict to.

        Returns
        -------
        list of NoisePreferenceCurve
            :class:`~brian_noisy_rnn.NoisePreferenceCurve` objects, with ``.cell`` holding
            the cell row.
        """
        from ..evaluation.curves import NoisePreferenceCurve

        out = []
        for row in self.cells(keys):
            try:
                curve = NoisePreferenceCurve.from_dict(row["curve"])
            except (ValueError, TypeError) as err:
                self._skip(row, err)
                continue
            curve.cell = row
            out.append(curve)
        return out

    def tidy_rows(self, keys=None):
        """One dict per (cell, test sigma).

        Parameters
        ----------
        keys : iterable of str, optional
            Cell keys to restrict to.

        Returns
        -------
        list of dict
            :data:`CSV_CELL_COLUMNS`, :data:`CSV_CURVE_COLUMNS` and ``<metric>_mean`` /
            ``<metric>_sem`` of every other metric.
        """
        from ..evaluation.curves import NoisePreferenceCurve

        cells = {r["cell_key"]: r for r in self.cells(keys)}
        stored = {}
        for r in self._con.execute("SELECT * FROM curve ORDER BY cell_key, sigma"):
            if r["cell_key"] in cells:
                stored.setdefault(r["cell_key"], []).append(r)
        out = []
        for key, cell in list(cells.items()):
            try:
                curve_rows = NoisePreferenceCurve.from_dict(cell["curve"]).rows()
                rows = stored.get(key, [])
                if len(rows) != len(curve_rows):
                    # rows of the curve table are missing: rebuild them all from the cell's
                    # own copy of the curve, and say so
                    warnings.warn(f"results: {self.path!r}: cell {cell['task']} {cell['placement']} "
                                  f"sigma={cell['train_sigma']:g} seed={cell['seed']} "
                                  f"{cell['backend']} has {len(rows)} of {len(curve_rows)} curve "
                                  "rows; exporting the curve stored with the cell", CorruptRowWarning,
                                  stacklevel=2)
                    rows = [{**r, "other": {k: v for k, v in r.items() if k.endswith(("_mean", "_sem"))}}
                            for r in curve_rows]
                else:
                    rows = [{**{k: r[k] for k in CSV_CURVE_COLUMNS},
                             "other": json.loads(r["other_json"])} for r in rows]
            except (ValueError, TypeError) as err:
                self._skip(cell, err)
                del cells[key]
                continue
            for r in rows:
                row = {k: cell[k] for k in CSV_CELL_COLUMNS}
                row.update({k: r[k] for k in CSV_CURVE_COLUMNS})
                row.update(r["other"])
                out.append(row)
        order = {k: i for i, k in enumerate(cells)}
        out.sort(key=lambda row: (order[row["cell_key"]], row["sigma"]))
        return out

    def export_csv(self, path, keys=None, name="path"):
        """Write :meth:`tidy_rows` to a CSV file (atomically).

        Parameters
        ----------
        path : str or os.PathLike
            The CSV file.
        keys : iterable of str, optional
            Cell keys to restrict to.
        name : str
            The argument named in errors about the file (e.g. ``"--csv"``).

        Returns
        -------
        int
            The number of rows written.
        """
        rows = self.tidy_rows(keys)
        columns = list(CSV_CELL_COLUMNS) + list(CSV_CURVE_COLUMNS)
        for row in rows:
            columns += [k for k in row if k not in columns]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        with atomic_write(path, suffix=".csv", name=name) as f:
            f.write(text.getvalue().encode())
        return len(rows)

    # --- writing -------------------------------------------------------------------------
    def stored_spec_path(self, spec_path):
        """``spec_path`` as stored: relative to the database's folder if inside it.

        Parameters
        ----------
        spec_path : str or os.PathLike
            Path of a spec file.

        Returns
        -------
        str
            The relative path (inside the folder) or the absolute one.
        """
        spec_path = os.path.abspath(os.fspath(spec_path))
        folder = os.path.dirname(self.path)
        rel = os.path.relpath(spec_path, folder)
        return spec_path if rel.startswith(os.pardir) else rel

    def record(self, cell, result, spec_path, spec_hash):
        """Record a finished cell and its curve rows in one transaction.

        Parameters
        ----------
        cell : Cell
            The cell (:class:`~brian_noisy_rnn.experiments.config.Cell`).
        result : dict
            As returned by :func:`~brian_noisy_rnn.experiments.jobs.run_cell`.
        spec_path : str or os.PathLike
            Path of the saved spec file (must exist: write it before recording).
        spec_hash : str
            Its ``CTRNNSpec.content_hash()``.

        Returns
        -------
        bool
            True if the row was written, False if the cell was already recorded.
        """
        from ..evaluation.curves import NoisePreferenceCurve

        if not os.path.isfile(spec_path):
            raise FileNotFoundError(f"spec_path: no spec file at {spec_path!r}; save it first")
        curve = NoisePreferenceCurve.from_dict(result["curve"])
        summary = result["summary"]
        c = cell.config
        values = {
            "cell_key": cell.key, "train_key": cell.train_key, "grid_name": cell.grid_name,
            "task": c["task"], "placement": c["placement"], "process": c["network"]["process"],
            "train_sigma": c["train_sigma"], "seed": c["seed"], "backend": c["backend"],
            "n_hidden": c["network"]["n_hidden"], "activation": c["network"]["activation"],
            "steps": c["training"]["steps"], "metric": curve.metric,
            "higher_is_better": int(curve.higher_is_better),
            "preferred_sigma": _finite_or_none(curve.preferred_sigma),
            "preferred_ratio": _finite_or_none(curve.preferred_ratio),
            "metric_at_zero": _finite_or_none(curve.metric_at_zero),
            "sem_at_zero": _finite_or_none(curve.sem_at_zero),
            "metric_at_train": _finite_or_none(curve.metric_at_train),
            "sem_at_train": _finite_or_none(curve.sem_at_train),
            "zero_minus_train": _finite_or_none(summary.get("zero_minus_train")),
            "zero_minus_train_sem": _finite_or_none(summary.get("zero_minus_train_sem")),
            "n_trials": curve.n_trials,
            "train_final_loss": _finite_or_none(result.get("train_final_loss")),
            "train_seconds": _finite_or_none(result.get("train_seconds")),
            "eval_seconds": _finite_or_none(result.get("eval_seconds")),
            "trained_in_cell": int(bool(result.get("trained"))),
            "spec_path": self.stored_spec_path(spec_path), "spec_hash": spec_hash,
            "config_json": json.dumps(c, sort_keys=True),
            "curve_json": json.dumps(result["curve"], sort_keys=True),
            "versions_json": json.dumps(result.get("versions", {}), sort_keys=True),
            "host": result.get("host"),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            cur = con.execute(f"INSERT OR IGNORE INTO cells ({cols}) VALUES ({marks})",
                              tuple(values.values()))
            if cur.rowcount == 0:
                con.execute("ROLLBACK")
                return False
            for row in curve.rows():
                other = {k: v for k, v in row.items() if k.endswith(("_mean", "_sem"))}
                con.execute("INSERT INTO curve VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (cell.key, row["sigma"], row["relative_sigma"], row["metric"],
                             row["mean"], row["sem"], row["n_trials"], int(row["is_preferred"]),
                             json.dumps(other, sort_keys=True)))
            con.execute("COMMIT")
        except BaseException:
            # a Ctrl-C can land just after COMMIT returned: then nothing is left to roll back
            # (the cell is recorded) and the interrupt must go on, not a sqlite3 error
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return True

    def counts(self):
        """``(number of cells, number of curve rows)``.

        Returns
        -------
        tuple of (int, int)
            The two counts.
        """
        n_cells = self._con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        n_rows = self._con.execute("SELECT COUNT(*) FROM curve").fetchone()[0]
        return int(n_cells), int(n_rows)

    # --- claims: which running grid trains which network ----------------------------------
    def claim(self, train_keys, owner):
        """Claim the networks ``train_keys`` for ``owner``, atomically across processes.

        A network is claimed if nobody holds it, ``owner`` holds it already, or its claim is
        stale (not renewed for :data:`CLAIM_STALE_SECONDS`, or held by a dead process on
        this host).

        Parameters
        ----------
        train_keys : iterable of str
            Training keys (``Cell.train_key``).
        owner : str
            The claimant (:func:`new_claim_owner`).

        Returns
        -------
        claimed : set of str
            The keys now held by ``owner``.
        held : dict of str to str
            The other keys -> who holds them (``"pid P on host H"``).
        """
        host, pid = socket.gethostname(), os.getpid()
        claimed, held = set(), {}
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            for key in sorted(set(train_keys)):
                row = con.execute("SELECT owner, pid, host, heartbeat FROM claims "
                                  "WHERE train_key = ?", (key,)).fetchone()
                if row is not None and row[0] != owner and not (
                        now - row[3] > CLAIM_STALE_SECONDS
                        or (row[2] == host and _process_is_dead(row[1]))):
                    held[key] = f"pid {row[1]} on {row[2]}"
                    continue
                con.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                            (key, owner, pid, host, now))
                claimed.add(key)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return claimed, held

    def renew_claims(self, owner):
        """Renew the heartbeat of every claim of ``owner``.

        Parameters
        ----------
        owner : str
            The claimant.
        """
        self._con.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (time.time(), owner))

    def release_claims(self, owner, train_keys=None):
        """Give up claims of ``owner``.

        Parameters
        ----------
        owner : str
            The claimant.
        train_keys : iterable of str, optional
            The keys to release (default: all of ``owner``'s).
        """
        if train_keys is None:
            self._con.execute("DELETE FROM claims WHERE owner = ?", (owner,))
        else:
            self._con.executemany("DELETE FROM claims WHERE owner = ? AND train_key = ?",
                                  [(owner, k) for k in train_keys])
