"""Sharing a results database between runs: claim the networks to train, wait for the rest.

A run claims the networks (``train_key``) of its pending cells in the database
(:meth:`~.store.ResultStore.claim`), renews its claims from a thread while it runs
(:class:`ClaimHeartbeat`) and waits for the cells whose networks another run holds
(:func:`run_claimed`), taking them over when that run's claims go stale.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import store as store_module
from .store import ResultStore

if TYPE_CHECKING:
    from .config import Cell

__all__ = ["CLAIM_POLL_SECONDS", "ClaimHeartbeat", "run_claimed"]

#: seconds between two looks at the database while another run holds networks this one needs
CLAIM_POLL_SECONDS = 2.0


def run_claimed(store: ResultStore, owner: str, cells: Sequence[Cell], report: Any,
                run_round: Callable[[list[Cell]], Any], log: Callable[[str], Any]) -> None:
    """Run the unrecorded cells whose networks this run can claim; wait for (or take over)
    those another process holds, until each cell is recorded, failed here, or recorded by
    the other process.

    Parameters
    ----------
    store : ResultStore
        The results database.
    owner : str
        This run's claim owner (:func:`~.store.new_claim_owner`).
    cells : list of Cell
        Every cell of the grid.
    report : RunReport
        Its ``skipped`` and ``recorded_elsewhere`` are set here; ``recorded`` is read.
    run_round : callable(list of Cell)
        Runs the cells whose networks this run holds (claims are released after it).
    log : callable(str)
        Receives one line when the run starts to wait for another run's networks.
    """
    attempted, waited = set(), False
    before = store.finished_keys()
    report.skipped = sum(c.key in before for c in cells)
    while True:
        finished = store.finished_keys()
        pending = [c for c in cells if c.key not in finished and c.key not in attempted]
        if not pending:
            break
        claimed, held = store.claim({c.train_key for c in pending}, owner)
        mine = [c for c in pending if c.train_key in claimed]
        if mine:
            attempted.update(c.key for c in mine)
            try:
                run_round(mine)
            finally:
                store.release_claims(owner, claimed)
            continue
        if not waited:
            holders = sorted(set(held.values()))
            log(f"{len(pending)} cells wait for networks that another run holds "
                f"({', '.join(holders)}); waiting for them to be recorded")
            waited = True
        time.sleep(CLAIM_POLL_SECONDS)
    finished, recorded_here = store.finished_keys(), set(report.recorded)
    report.recorded_elsewhere = sum(c.key in finished and c.key not in before
                                    and c.key not in recorded_here for c in cells)


class ClaimHeartbeat:
    """Renews ``owner``'s claims in the database ``path`` from a thread (its own connection)
    every :data:`~.store.CLAIM_HEARTBEAT_SECONDS` while the ``with`` block runs.

    Parameters
    ----------
    path : str
        Path of the results database.
    owner : str
        The claim owner whose claims are renewed.
    """

    def __init__(self, path: str, owner: str) -> None:
        self.path, self.owner = path, owner
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)

    def _beat(self):
        with ResultStore(self.path) as store:
            while not self.stop.wait(store_module.CLAIM_HEARTBEAT_SECONDS):
                with contextlib.suppress(sqlite3.Error):
                    store.renew_claims(self.owner)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
