"""The documented scale-out path: a real ``dask scheduler`` and ``dask worker`` processes.

The scheduler and two single-threaded worker processes are started by the test on
127.0.0.1 only. Each worker runs cells in a task thread, where a first ``import brian2``
(Brian2 installs a SIGINT handler) fails unless the client registered its worker plugin.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from test_experiments import tiny_grid_file

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("dask") is None, reason="no dask command")]


def _start(argv, log):
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and `dask worker --nworkers 2 --nthreads 1` on loopback; yields the address."""
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [_start(["dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(scheduler_file)], log)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert scheduler_file.exists(), (tmp_path / "dask.log").read_text()
        time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(_start(["dask", "worker", address, "--nthreads", "1", "--nworkers", "2",
                             "--host", "127.0.0.1", "--no-dashboard"], log))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)
        log.close()


def test_grid_on_a_real_scheduler_and_worker_processes(tmp_path, dask_cluster):
    from brian_noisy_rnn.experiments import ResultStore, run_grid

    grid = tiny_grid_file(tmp_path, backends=("torch", "brian2"))
    db = tmp_path / "r.sqlite"
    failures = []
    report = run_grid(grid, db, scheduler=dask_cluster, progress=False, log=failures.append)
    assert failures == [] and report.failed == {}
    assert len(report.recorded) == 4 and report.networks_trained == 2
    with ResultStore(db, readonly=True) as store:
        hosts = {c["versions"]["python"] for c in store.cells()}
        assert store.counts()[0] == 4 and hosts


def test_cli_experiment_with_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    import socket

    from brian_noisy_rnn.experiments import executors

    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match="scheduler: cannot connect"):
        executors.make_executor(1, scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2)
