"""Experiment grids: TOML validation, the SQLite store, resumable runs, kills, Dask.

Grids here are tiny (4-unit networks, a few training steps, tens of test trials): the tests
check bookkeeping, not science.
"""

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from brian_noisy_rnn.cli import main
from brian_noisy_rnn.experiments import (Cell, GridError, ResultStore, grid_from_dict, load_grid,
                                         run_grid)
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve, noise_preference

TINY_TOML = """
name = "tiny"
[grid]
tasks = ["FunctionApproximation-v0"]
placements = ["pre", "post"]
train_sigmas = [0.5]
seeds = {seeds}
backends = {backends}
[sweep]
relative_sigmas = [0.0, 1.0, 2.0]
n_trials = 20
seed = 7
[network]
n_hidden = 4
[training]
steps = {steps}
batch_size = 8
"""


def tiny_grid_file(tmp_path, seeds=(0,), backends=("torch",), steps=3, name="grid.toml"):
    path = tmp_path / name
    path.write_text(TINY_TOML.format(seeds=list(seeds), backends=str(list(backends)).replace("'", '"'),
                                     steps=steps))
    return path


def tiny_grid_dict(**changes):
    d = {"grid": {"tasks": ["FunctionApproximation-v0"], "placements": ["pre", "post"],
                  "train_sigmas": [0.5], "seeds": [0], "backends": ["torch"]},
         "sweep": {"relative_sigmas": [0.0, 1.0, 2.0], "n_trials": 20, "seed": 7},
         "network": {"n_hidden": 4}, "training": {"steps": 3, "batch_size": 8}}
    for k, v in changes.items():
        d[k] = v
    return d


# --- grid files --------------------------------------------------------------------------------
def test_grid_file_gives_the_product_of_its_axes(tmp_path):
    grid = load_grid(tiny_grid_file(tmp_path, seeds=(0, 1, 2), backends=("torch", "numpy")))
    cells = grid.cells()
    assert len(cells) == 2 * 3 * 2
    assert len({c.key for c in cells}) == len(cells)
    # backends of one (placement, seed) share the trained network
    assert len({c.train_key for c in cells}) == 2 * 3
    assert grid.name == "tiny" and grid.training["lr"] == 0.01  # default filled in
    assert cells[0].config["test_sigmas"] == [0.0, 0.5, 1.0]  # relative to sigma_train = 0.5
    again = grid_from_dict(grid.to_dict())
    assert [c.key for c in again.cells()] == [c.key for c in cells]


def test_cell_key_changes_with_any_setting():
    base = grid_from_dict(tiny_grid_dict()).cells()[0]
    more_trials = grid_from_dict(tiny_grid_dict(sweep={"relative_sigmas": [0.0, 1.0, 2.0],
                                                       "n_trials": 21, "seed": 7})).cells()[0]
    assert more_trials.key != base.key and more_trials.train_key == base.train_key
    lr = grid_from_dict(tiny_grid_dict(training={"steps": 3, "batch_size": 8, "lr": 0.02})).cells()[0]
    assert lr.key != base.key and lr.train_key != base.train_key
    assert Cell.from_config(base.config, base.grid_name).key == base.key
    # the grid's name is part of a cell's identity, not of its trained network's
    renamed = grid_from_dict(tiny_grid_dict(name="other")).cells()[0]
    assert renamed.key != base.key and renamed.train_key == base.train_key


@pytest.mark.parametrize("text, key", [
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\n[training]\nstepz = 10\n', "training.stepz"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = "0"\n', "grid.seeds"),
    ('[grid]\ntasks = ["FunctionAproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\n', "grid.tasks[0]"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["inside"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\n', "grid.placements[0]"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\n[network]\nn_hidden = 3.5\n', "network.n_hidden"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [0.0]\n'
     'seeds = [0]\n', "sweep.relative_sigmas"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\nbackends = ["torch"]\n[backend_options.brian2]\ntarget = "numpy"\n',
     "backend_options.brian2"),
    ('colour = "red"\n[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\n'
     'train_sigmas = [1.0]\nseeds = [0]\n', "colour"),
    ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\ntrain_sigmas = [1.0]\n'
     'seeds = [0]\n[task_kwargs.FunctionApproximation-v0]\nx_range = [1.0, -1.0]\n',
     "task_kwargs.FunctionApproximation-v0"),
])
def test_bad_grid_errors_name_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(GridError) as info:
        load_grid(path)
    assert key in str(info.value) and str(path) in str(info.value)


_SPIKING = ('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre", "post"]\n'
            'train_sigmas = [1.0]\nseeds = [0]\nbackends = ["brian2-spiking"]\n')


@pytest.mark.parametrize("text, key", [
    (_SPIKING + '[sweep]\nplacement = "inside"\n', "sweep.placement"),
    (_SPIKING + '[sweep]\nplacement = 1\n', "sweep.placement"),
    (_SPIKING + '[backend_options.brian2-spiking]\nnoise_as = "inside"\nneurons_per_unit = 5\n',
     "backend_options.brian2-spiking.noise_as"),
    (_SPIKING + '[backend_options.brian2-spiking]\nnoise_as = "membrane"\n',
     "backend_options.brian2-spiking.neurons_per_unit"),
    (_SPIKING + '[sweep]\nplacement = "post"\n[backend_options.brian2-spiking]\n'
                'noise_as = "membrane"\nneurons_per_unit = 5\n', "sweep.placement"),
])
def test_bad_test_noise_settings_name_the_key(tmp_path, text, key):
    test_bad_grid_errors_name_the_key(tmp_path, text, key)


def test_grid_sweeps_membrane_noise_and_a_chosen_test_placement(tmp_path):
    """``noise_as = "membrane"`` sweeps every network's membrane noise (inside f, also for a
    network trained with noise outside f); ``sweep.placement`` sets the test placement of
    every network on every backend; grids without it keep their cell keys."""
    from brian_noisy_rnn import CTRNNSpec

    plain = grid_from_dict(tiny_grid_dict())
    assert "test_placement" not in plain.cells()[0].config
    example = load_grid(Path(__file__).resolve().parents[1] / "examples" / "membrane_noise_grid.toml")
    assert {c.config["backend_options"].get("noise_as") for c in example.cells()} == {None, "membrane"}
    d = tiny_grid_dict(sweep={"sigmas": [0.0, 1.0], "n_trials": 3, "seed": 7, "placement": "pre"},
                       backend_options={"brian2-spiking": {
                           "noise_as": "membrane", "neurons_per_unit": 2, "rate_max_hz": 25.0,
                           "target": "numpy"}})
    d["grid"] = dict(d["grid"], backends=["torch", "brian2-spiking"])
    grid = grid_from_dict(d)
    assert grid_from_dict(grid.to_dict()).test_placement == "pre"
    report = run_grid(grid, tmp_path / "r.sqlite", workers=1, progress=False)
    assert report.complete and len(report.recorded) == 4
    with ResultStore(tmp_path / "r.sqlite") as store:
        rows = {(r["placement"], r["backend"]): r for r in store.cells()}
        for (train_placement, backend), r in rows.items():
            curve = r["curve"]
            assert curve["placement"] == "pre" and curve["train_placement"] == train_placement
            assert len(set(curve["mean"])) == len(curve["mean"])  # the swept noise acts
        post = CTRNNSpec.load(store.resolve_path(rows["post", "torch"]["spec_path"]))
    expected = noise_preference(post, "FunctionApproximation-v0", [0.0, 1.0], placement="pre",
                                backend="torch", n_trials=3, seed=7)
    np.testing.assert_allclose(rows["post", "torch"]["curve"]["mean"], expected.mean, rtol=1e-12)


def test_invalid_toml_and_missing_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[grid\ntasks = 1")
    with pytest.raises(GridError, match="not valid TOML"):
        load_grid(path)
    with pytest.raises(FileNotFoundError, match="grid"):
        load_grid(tmp_path / "missing.toml")


def test_cli_rejects_a_bad_grid_before_training(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[grid]\ntasks = ["NoSuchTask-v0"]\nplacements = ["pre"]\n'
                    'train_sigmas = [1.0]\nseeds = [0]\n')
    db = tmp_path / "r.sqlite"
    assert main(["experiment", str(path), "--results", str(db)]) == 2
    err = capsys.readouterr().err
    assert "grid.tasks[0]" in err and "NoSuchTask-v0" in err
    assert not db.exists()  # nothing was started


# --- the store ---------------------------------------------------------------------------------
def _fake_result(seed=0):
    rng = np.random.default_rng(seed)
    curve = NoisePreferenceCurve(
        sigmas=np.array([0.0, 0.5, 1.0]), metric="mse", higher_is_better=False,
        mean=rng.uniform(0.1, 1, 3), sem=np.full(3, 0.01), n_trials=20, placement="pre",
        process="white", sigma_train=0.5, train_placement="pre", backend="torch", seed=7,
        task="FunctionApproximation-v0", other_metrics={"nmse": (np.ones(3), np.zeros(3))})
    return {"curve": curve.to_dict(), "summary": curve.summary(), "trained": True,
            "train_seconds": 1.0, "eval_seconds": 0.5, "versions": {"numpy": np.__version__}}


def _record_many(db, spec_path, first, count):
    grid = grid_from_dict(tiny_grid_dict(grid={
        "tasks": ["FunctionApproximation-v0"], "placements": ["pre"], "train_sigmas": [0.5],
        "seeds": list(range(first, first + count)), "backends": ["torch"]}))
    with ResultStore(db) as store:
        for c in grid.cells():
            store.record(c, _fake_result(c.config["seed"]), spec_path, "hash")


def test_a_cell_is_recorded_once_with_its_curve_rows(tmp_path):
    spec_path = tmp_path / "spec.npz"
    spec_path.write_bytes(b"x")
    cell = grid_from_dict(tiny_grid_dict()).cells()[0]
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.record(cell, _fake_result(), spec_path, "abc")
        assert not store.record(cell, _fake_result(1), spec_path, "abc")  # duplicate: ignored
        assert store.counts() == (1, 3)
        row = store.cells()[0]
        assert row["spec_path"] == "spec.npz" and row["spec_hash"] == "abc"  # relative to the db
        assert row["config"] == cell.config
        assert store.spec_for_train_key(cell.train_key) == (str(spec_path), "abc")
        with pytest.raises(FileNotFoundError, match="spec_path"):
            store.record(grid_from_dict(tiny_grid_dict()).cells()[1], _fake_result(),
                         tmp_path / "nope.npz", "x")
        assert store.counts() == (1, 3)


def test_two_processes_writing_one_database(tmp_path):
    """WAL + busy timeout: concurrent writers lose nothing and corrupt nothing."""
    db = tmp_path / "shared.sqlite"
    spec_path = tmp_path / "spec.npz"
    spec_path.write_bytes(b"x")
    ResultStore(db).close()
    ctx = multiprocessing.get_context("spawn")  # fork in a threaded process is deprecated
    procs = [ctx.Process(target=_record_many, args=(str(db), str(spec_path), first, 15))
             for first in (0, 100)]
    for p in procs:
        p.start()
    _record_many(str(db), str(spec_path), 50, 15)  # and this process too
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with ResultStore(db) as store:
        assert store.counts() == (45, 135)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


# --- running grids -----------------------------------------------------------------------------
def test_run_records_every_cell_and_a_rerun_skips_them(tmp_path):
    grid = load_grid(tiny_grid_file(tmp_path, backends=("torch", "numpy")))
    db = tmp_path / "r.sqlite"
    report = run_grid(grid, db, workers=1, progress=False)
    assert report.complete and len(report.recorded) == 4 and report.networks_trained == 2
    again = run_grid(grid, db, workers=1, progress=False)
    assert again.skipped == 4 and not again.recorded and again.networks_trained == 0
    with ResultStore(db) as store:
        rows = store.cells()
        assert store.counts() == (4, 12)
        from brian_noisy_rnn import CTRNNSpec

        for r in rows:
            spec = CTRNNSpec.load(store.resolve_path(r["spec_path"]))
            assert spec.content_hash() == r["spec_hash"]
            assert spec.noise.placement == r["placement"]
        # numpy and torch sweeps of the same network agree exactly (same noise stream)
        by = {(r["placement"], r["backend"]): r for r in rows}
        for p in ("pre", "post"):
            assert by[(p, "torch")]["spec_hash"] == by[(p, "numpy")]["spec_hash"]
            np.testing.assert_allclose(by[(p, "torch")]["curve"]["mean"],
                                       by[(p, "numpy")]["curve"]["mean"], rtol=1e-10)
        n = store.export_csv(tmp_path / "out.csv")
    assert n == 12
    assert main(["results", str(db), "--csv", str(tmp_path / "cli.csv")]) == 0
    header = (tmp_path / "cli.csv").read_text().splitlines()[0].split(",")
    assert {"task", "placement", "seed", "backend", "sigma", "mean", "sem", "nmse_mean"} <= set(header)


def test_a_new_backend_reuses_the_recorded_network(tmp_path):
    db = tmp_path / "r.sqlite"
    run_grid(load_grid(tiny_grid_file(tmp_path)), db, workers=1, progress=False)
    report = run_grid(load_grid(tiny_grid_file(tmp_path, backends=("torch", "numpy"), name="g2.toml")),
                      db, workers=1, progress=False)
    assert report.skipped == 2 and len(report.recorded) == 2 and report.networks_trained == 0


def _wait_for_cells(db, n, proc, timeout=240):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            return
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=5)
                got = con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
                con.close()
                if got >= n:
                    return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for cells")


def _table(db):
    with ResultStore(db) as store:
        return sorted((r["cell_key"], r["spec_hash"], tuple(r["curve"]["mean"])) for r in store.cells())


def _cli(*args):
    return [sys.executable, "-m", "brian_noisy_rnn", *args]


def test_killed_and_interrupted_runs_resume_to_the_same_table(tmp_path):
    """SIGKILL after the first cell lands, a resumed run with worker processes interrupted by
    Ctrl-C (SIGINT), then a rerun: the final table equals an uninterrupted run's, with no
    duplicate or partial rows."""
    path = tiny_grid_file(tmp_path, seeds=(0, 1), steps=40)  # each cell takes >= 0.1 s
    db = tmp_path / "r.sqlite"
    args = _cli("experiment", str(path), "--results", str(db), "--workers", "1", "--no-progress")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_cells(db, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    with ResultStore(db) as store:
        n_cells, n_rows = store.counts()
    assert 1 <= n_cells < 4 and n_rows == 3 * n_cells  # whole cells only

    # resume with 2 local worker processes, and press Ctrl-C (SIGINT to the client only)
    proc = subprocess.Popen(args[:-2] + ["2", "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _wait_for_cells(db, n_cells + 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == -signal.SIGINT:
        # the signal reached the process during interpreter shutdown, after its last cell:
        # Python then dies of the signal (its handler is gone), with every cell recorded
        with ResultStore(db) as store:
            assert store.counts() == (4, 12), err.decode()
    elif proc.returncode != 0:  # it may also have finished before the signal arrived
        assert proc.returncode == 130, err.decode()
        assert "interrupted" in err.decode()

    assert main(["experiment", str(path), "--results", str(db), "--workers", "1",
                 "--no-progress"]) == 0
    with ResultStore(db) as store:
        assert store.counts() == (4, 12)
    reference = tmp_path / "reference.sqlite"
    run_grid(load_grid(path), reference, workers=1, progress=False)
    assert _table(db) == _table(reference)


def test_dask_local_cluster_runs_a_grid(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = load_grid(tiny_grid_file(tmp_path))
    db = tmp_path / "dask.sqlite"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        report = run_grid(grid, db, client=client, progress=False)
    assert report.complete and len(report.recorded) == 2
    with ResultStore(db) as store:
        assert store.counts() == (2, 6)
        assert {r["placement"] for r in store.cells()} == {"pre", "post"}


def test_without_dask_the_error_names_the_extra(tmp_path, monkeypatch, capsys):
    """Dask is the optional extra [dask]: without it, a Dask run fails before any work with
    the install command; local runs do not need it."""
    import tomllib

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    path = tiny_grid_file(tmp_path)
    db = tmp_path / "r.sqlite"
    with pytest.raises(ImportError, match=r"pip install 'brian-noisy-rnn\[dask\]'"):
        run_grid(load_grid(path), db, scheduler="tcp://127.0.0.1:1", progress=False)
    assert not db.exists()
    assert main(["experiment", str(path), "--results", str(db), "--scheduler",
                 "tcp://127.0.0.1:1", "--no-progress"]) == 2
    assert "brian-noisy-rnn[dask]" in capsys.readouterr().err
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert not any(d.startswith("dask") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("dask[distributed]") for d in extras["dask"])
    assert set(extras["dask"]) <= set(extras["test"])  # CI (setup.sh installs .[test]) tests Dask


# --- the headline table ------------------------------------------------------------------------
def _curve_with_trials(placement, at_zero, at_train, best, n=200, seed=0):
    """A curve over sigmas (0, 0.5, 1) whose per-trial values have the given means."""
    rng = np.random.default_rng(seed)
    means = {0.0: at_zero, 0.5: best, 1.0: at_train}
    base = rng.normal(0, 0.01, n)  # shared trial effect: common random numbers
    trials = np.stack([m + base + rng.normal(0, 0.001, n) for m in means.values()])
    return NoisePreferenceCurve(
        sigmas=np.array(list(means)), metric="mse", higher_is_better=False,
        mean=trials.mean(axis=1), sem=trials.std(axis=1, ddof=1) / np.sqrt(n), n_trials=n,
        placement=placement, process="white", sigma_train=1.0, train_placement=placement,
        backend="torch", seed=0, task="T", trial_values=trials)


def test_summary_verdicts():
    from brian_noisy_rnn.experiments import format_table, summarize

    clear = _curve_with_trials("pre", 0.2, 0.05, 0.04)       # best at 0.5, much worse at 0
    unclear = _curve_with_trials("pre", 0.0500, 0.0501, 0.04, seed=1)  # best at 0.5, 0 ~ train
    (row,) = summarize([clear, clear])
    assert row["effect"].startswith("shown") and row["preferred"] == [0.5, 0.5]
    (row,) = summarize([clear, unclear])
    assert row["effect"].startswith("partly shown") and row["worse_at_zero"] == 1
    post = _curve_with_trials("post", 0.01, 0.05, 0.03, seed=2)   # best at 0
    (row,) = summarize([post])
    assert row["effect"].startswith("as expected") and row["near_zero"] == 1
    table = format_table(summarize([clear, post]))
    assert table.count("\n") == 3 and "| T | pre |" in table and "| T | post |" in table


# -- ensembles ---------------------------------------------------------------------------------
def _rows(db):
    with ResultStore(db) as store:
        return {r["cell_key"]: (r["spec_hash"], tuple(r["curve"]["mean"]), r["train_final_loss"],
                                r["trained_in_cell"]) for r in store.cells()}


def test_ensemble_groups_by_shape_memory_and_workers():
    from brian_noisy_rnn.experiments.runner import ensemble_groups

    d = tiny_grid_dict()
    d["grid"].update(seeds=[0, 1, 2], train_sigmas=[0.5, 1.0])
    cells = [c for c in grid_from_dict(d).cells()]  # 2 placements x 2 sigmas x 3 seeds
    assert [len(g) for g in ensemble_groups(cells)] == [12]
    assert sorted(len(g) for g in ensemble_groups(cells, workers=2)) == [6, 6]
    assert sorted(len(g) for g in ensemble_groups(cells, max_members=5)) == [4, 4, 4]
    assert all(len(g) == 1 for g in ensemble_groups(cells, max_members=1))
    one = cells[0].config
    per_member = 10 * 4 * 40 * one["training"]["batch_size"] * one["network"]["n_hidden"]
    assert sorted(len(g) for g in ensemble_groups(cells, memory=5 * per_member)) == [4, 4, 4]
    other = grid_from_dict({**d, "network": {"n_hidden": 5}}).cells()  # another shape
    groups = ensemble_groups(cells + other)
    assert sorted(len(g) for g in groups) == [12, 12]
    assert all(len({c.config["network"]["n_hidden"] for c in g}) == 1 for g in groups)


def test_grid_trained_as_ensembles_records_what_one_by_one_records(tmp_path):
    """Networks trained in ensembles are bit for bit those trained alone (float32: see
    test_ensemble.py), so the recorded cells are identical, whatever the grouping."""
    path = tiny_grid_file(tmp_path, seeds=(0, 1, 2), backends=("torch", "numpy"), steps=12)
    alone, together = tmp_path / "alone.sqlite", tmp_path / "together.sqlite"
    r1 = run_grid(load_grid(path), alone, workers=1, progress=False, max_ensemble=1)
    r2 = run_grid(load_grid(path), together, workers=1, progress=False)
    assert r1.complete and r2.complete and r1.networks_trained == r2.networks_trained == 6
    a, b = _rows(alone), _rows(together)
    assert a == b and len(a) == 12
    assert sum(v[3] for v in b.values()) == 6  # training recorded once per network
    assert not (tmp_path / "together_specs" / "checkpoints").exists() or \
        not any((tmp_path / "together_specs" / "checkpoints").iterdir())


def test_a_list_of_grids_runs_as_one_pool_under_their_own_names(tmp_path):
    """Two one-seed grids run together record what each records alone, each cell under its
    own grid's name; a grid given twice runs once."""
    a, b = tiny_grid_dict(name="a"), tiny_grid_dict(name="b")
    b["grid"]["seeds"] = [1]
    ga, gb = grid_from_dict(a), grid_from_dict(b)
    pooled, apart = tmp_path / "pooled.sqlite", tmp_path / "apart.sqlite"
    rep = run_grid([ga, gb, ga], pooled, workers=1, progress=False)
    assert rep.complete and len(rep.cells) == 4 and rep.networks_trained == 4
    for g in (ga, gb):
        assert run_grid(g, apart, workers=1, progress=False).complete
    assert _rows(pooled) == _rows(apart)
    with ResultStore(pooled) as store:
        assert sorted(r["grid_name"] for r in store.cells()) == ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="grid: expected"):
        run_grid([], pooled, progress=False)


def test_interrupted_ensemble_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    import brian_noisy_rnn.bridges.training as training
    from brian_noisy_rnn.bridges.checkpoint import load_checkpoint

    path = tiny_grid_file(tmp_path, seeds=(0, 1), steps=30)
    db = tmp_path / "r.sqlite"
    real = training.train_ensemble
    calls = []

    def interrupted(*args, **kw):
        def stop(step, losses):
            if step == 10:
                raise KeyboardInterrupt
        calls.append(kw.get("checkpoint"))
        return real(*args, callback=stop, **kw)

    monkeypatch.setattr(training, "train_ensemble", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(load_grid(path), db, workers=1, progress=False)
    (checkpoint,) = calls
    assert load_checkpoint(checkpoint)["step"] == 10
    with ResultStore(db) as store:
        assert store.counts() == (0, 0)

    monkeypatch.setattr(training, "train_ensemble", real)
    report = run_grid(load_grid(path), db, workers=1, progress=False)
    assert report.complete and report.networks_trained == 4
    import os

    assert not os.path.exists(checkpoint)  # removed once the networks are saved
    reference = tmp_path / "reference.sqlite"
    run_grid(load_grid(path), reference, workers=1, progress=False, max_ensemble=1)
    assert _rows(db) == _rows(reference)


def test_stale_ensemble_checkpoints_are_removed_and_others_kept(tmp_path, monkeypatch):
    """An interrupted ensemble's checkpoint is kept while its networks are untrained and
    removed by a rerun that groups the networks differently, once they are trained; files
    the runner did not make, and checkpoints of networks still untrained, stay."""
    import json

    import brian_noisy_rnn.bridges.training as training

    path = tiny_grid_file(tmp_path, seeds=(0, 1), steps=30)
    db = tmp_path / "r.sqlite"
    folder = tmp_path / "r_specs" / "checkpoints"
    real = training.train_ensemble

    def interrupted(*args, **kw):
        def stop(step, losses):
            if step == 10:
                raise KeyboardInterrupt
        return real(*args, callback=stop, **kw)

    monkeypatch.setattr(training, "train_ensemble", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_grid(load_grid(path), db, workers=1, progress=False)  # one ensemble of 4
    (old,) = folder.glob("ensemble_*.pt")
    manifest = json.loads(old.with_suffix(".json").read_text())
    assert len(manifest["train_keys"]) == 4 and manifest["checkpoint"] == old.name
    # another grid's interrupted ensemble (networks never trained) and a foreign file
    other = folder / "ensemble_0123456789abcdef.pt"
    other.write_bytes(b"x")
    other.with_suffix(".json").write_text(json.dumps(
        {"checkpoint": other.name, "train_keys": ["not-trained-anywhere"]}))
    foreign = folder / "notes.txt"
    foreign.write_text("mine")
    monkeypatch.setattr(training, "train_ensemble", real)
    report = run_grid(load_grid(path), db, workers=1, progress=False, max_ensemble=2)
    assert report.complete and report.networks_trained == 4
    assert not old.exists() and not old.with_suffix(".json").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [other.name, other.with_suffix(".json").name, foreign.name])
    # nothing is left behind by a run that completes (the folder goes once it is empty)
    for p in (other, other.with_suffix(".json"), foreign):
        p.unlink()
    db2 = tmp_path / "s.sqlite"
    assert run_grid(load_grid(path), db2, workers=1, progress=False).complete
    assert not (tmp_path / "s_specs" / "checkpoints").exists()


@pytest.mark.parametrize("flag, grouped", [([], True), (["--max-ensemble", "1"], False)])
def test_cli_max_ensemble_reaches_the_runner(tmp_path, capsys, flag, grouped):
    """``experiment --max-ensemble 1`` trains one network at a time (the specs say whether an
    ensemble trained them); 0 is refused naming the flag."""
    from brian_noisy_rnn.core.spec import CTRNNSpec

    path = tiny_grid_file(tmp_path)
    db = tmp_path / "r.sqlite"
    assert main(["experiment", str(path), "--results", str(db), "--workers", "1",
                 "--no-progress", *flag]) == 0
    specs = [CTRNNSpec.load(p) for p in sorted((tmp_path / "r_specs").glob("*.npz"))]
    assert len(specs) == 2
    assert all(("ensemble" in s.metadata["training"]) == grouped for s in specs)
    assert main(["experiment", str(path), "--results", str(db), "--max-ensemble", "0"]) == 2
    assert "--max-ensemble" in capsys.readouterr().err


def test_a_failed_ensemble_is_retried_network_by_network(tmp_path, monkeypatch):
    import brian_noisy_rnn.bridges.training as training

    def broken(*args, **kw):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training, "train_ensemble", broken)
    path = tiny_grid_file(tmp_path, seeds=(0, 1), backends=("torch", "numpy"))
    lines = []
    report = run_grid(load_grid(path), tmp_path / "r.sqlite", workers=1, progress=False,
                      log=lines.append)
    assert report.complete and report.networks_trained == 4 and len(report.recorded) == 8
    assert len(lines) == 1 and "one by one" in lines[0] and "out of memory" in lines[0]
    reference = tmp_path / "reference.sqlite"
    run_grid(load_grid(path), reference, workers=1, progress=False, max_ensemble=1)
    assert _rows(tmp_path / "r.sqlite") == _rows(reference)


def test_a_failed_ensemble_leaves_no_checkpoint_when_one_of_its_networks_fails_alone(
        tmp_path, monkeypatch):
    """An ensemble that failed is retried network by network; when one network fails alone
    too (a divergence), it never counts as trained, and the ensemble's checkpoint used to
    stay in the spec folder for good. A finished run removes it; the failure is reported."""
    import brian_noisy_rnn.bridges.training as training
    import brian_noisy_rnn.experiments.jobs as jobs

    def broken(*args, **kw):
        raise RuntimeError("training loss became nan")

    alone = jobs.train_cell_network

    def diverges_for_seed_1(config, train_key=""):
        if config["seed"] == 1:
            raise FloatingPointError("training loss became nan at step 2")
        return alone(config, train_key)

    monkeypatch.setattr(training, "train_ensemble", broken)
    monkeypatch.setattr(jobs, "train_cell_network", diverges_for_seed_1)
    report = run_grid(load_grid(tiny_grid_file(tmp_path, seeds=(0, 1))), tmp_path / "r.sqlite",
                      workers=1, progress=False, log=lambda line: None)
    assert report.networks_trained == 2 and len(report.recorded) == 2
    assert len(report.failed) == 2 and all("nan" in m for m in report.failed.values())
    assert not (tmp_path / "r_specs" / "checkpoints").exists()


# --- several processes on one database (issue 20) ------------------------------------------------
def _create_many(folder, n, barrier, errors):
    """Open (creating) databases folder/db<i>.sqlite for i < n, in step with the other process."""
    from brian_noisy_rnn.experiments import ResultStore as Store

    for i in range(n):
        barrier.wait(30)
        try:
            Store(os.path.join(folder, f"db{i}.sqlite")).close()
        except Exception as err:  # noqa: BLE001 - counted and reported by the test
            errors.put(f"{i}: {type(err).__name__}: {err}")


@pytest.mark.parametrize("n", [20, pytest.param(100, marks=pytest.mark.slow)])
def test_two_processes_creating_one_database_never_fail(tmp_path, n):
    """2 processes x n creations of a new database at the same moment (a barrier before
    each): every one opens the same complete database; none fails with 'database is locked'
    or 'not a results database' (a file seen half-created). Before the fix 1-6 of 100 failed."""
    ctx = multiprocessing.get_context("spawn")  # fork in a threaded process is deprecated
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_create_many, args=(str(tmp_path), n, barrier, errors))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures, failures[:5]
    for i in range(n):
        con = sqlite3.connect(tmp_path / f"db{i}.sqlite")
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "cells", "curve", "claims"} <= tables
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_look_alike_database_is_refused_unchanged(tmp_path):
    """Tables named meta, cells and curve of schema version 1 but other columns: refused
    before anything is written (journal mode and bytes unchanged)."""
    db = tmp_path / "look_alike.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                      "INSERT INTO meta VALUES ('schema_version', '1');"
                      "CREATE TABLE cells (x); CREATE TABLE curve (y);")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(ValueError, match="lacks columns"):
        ResultStore(db)
    assert db.read_bytes() == before
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_claims_are_exclusive_until_stale(tmp_path, monkeypatch):
    """A network claimed by a live run is held for others; the claim of a dead process on
    this host, or one not renewed for CLAIM_STALE_SECONDS, is taken over."""
    import brian_noisy_rnn.experiments.store as store_module

    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.claim(["a", "b"], "first") == ({"a", "b"}, {})
        claimed, held = store.claim(["b", "c"], "second")
        assert claimed == {"c"} and held == {"b": f"pid {os.getpid()} on {os.uname().nodename}"}
        # a dead owner: a finished child's pid (a subprocess: fork in a threaded process is
        # deprecated)
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        child.wait()
        store._con.execute("UPDATE claims SET pid = ? WHERE owner = 'first'", (child.pid,))
        assert store.claim(["a"], "second") == ({"a"}, {})
        # a claim not renewed in time (the owner is alive but hangs, or runs on another host)
        assert store.claim(["d"], "third")[0] == {"d"}
        store.renew_claims("third")
        assert store.claim(["d"], "second")[0] == set()
        monkeypatch.setattr(store_module, "CLAIM_STALE_SECONDS", -1.0)
        assert store.claim(["d"], "second")[0] == {"d"}
        store.release_claims("second")
        assert store._con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 1  # b


@pytest.mark.slow
def test_two_experiment_processes_on_one_grid_train_each_network_once(tmp_path):
    """Two `experiment` processes started together on one grid and database: every network
    is trained once in all (the second waits for the networks the first holds), both exit 0,
    and their reports add up (no '0 cells recorded' with nothing said about the others)."""
    import re

    path = tiny_grid_file(tmp_path, seeds=(0, 1), backends=("torch", "numpy"), steps=40)
    db = tmp_path / "r.sqlite"
    args = _cli("experiment", str(path), "--results", str(db), "--workers", "1", "--no-progress")
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-2000:] for o in outs]
    counts = []
    for out, _ in outs:
        line = out.decode().splitlines()[0]
        m = re.match(r"(\d+) cells recorded, (\d+) already finished(?:, (\d+) recorded by "
                     r"another run meanwhile)?, 0 failed, (\d+) networks trained", line)
        assert m, line
        counts.append([int(g or 0) for g in m.groups()])
    assert sum(c[3] for c in counts) == 4  # 4 networks (2 placements x 2 seeds), once each
    assert sum(c[0] for c in counts) == 8  # 8 cells, each recorded by one process
    for recorded, skipped, elsewhere, _ in counts:
        assert recorded + skipped + elsewhere == 8
    with ResultStore(db) as store:
        assert store.counts() == (8, 24)
        assert store._con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


@pytest.mark.parametrize("directory", ["../victim", "/tmp/victim", "builds/../../victim", "~/x",
                                       "", "..\\\\victim"])
def test_a_grids_build_directory_stays_inside_the_results_folder(tmp_path, directory):
    """Issue 20: ``directory = "../victim"`` built (and replaced main.cpp) outside the
    results folder; a grid accepts only a relative folder without '..' or '~'."""
    path = tmp_path / "grid.toml"
    path.write_text('[grid]\ntasks = ["FunctionApproximation-v0"]\nplacements = ["pre"]\n'
                    'train_sigmas = [1.0]\nseeds = [0]\nbackends = ["brian2"]\n'
                    '[backend_options.brian2]\ntarget = "cpp_standalone"\n'
                    f'directory = "{directory}"\n')
    with pytest.raises(GridError, match="backend_options.brian2.directory"):
        load_grid(path)
    path.write_text(path.read_text().replace(f'directory = "{directory}"', 'directory = "b/sa"'))
    grid = load_grid(path)
    assert grid.cells()[0].config["backend_options"]["directory"] == "b/sa"


def test_a_stopped_invocation_is_logged_with_its_cost(tmp_path):
    """run_log.logged_if_stopped (used by `reproduce` and `benchmark neurogym`): an interrupt
    appends one 'interrupted' entry with the caller's fields and is re-raised; with
    enabled=False (report-only) nothing is written."""
    from brian_noisy_rnn.experiments.run_log import cpu_seconds, logged_if_stopped, read_log

    path = tmp_path / "run_log.json"
    with pytest.raises(KeyboardInterrupt):
        with logged_if_stopped(path, time.perf_counter(), cpu_seconds(), command="x", quick=True):
            raise KeyboardInterrupt
    (entry,) = read_log(path)
    assert entry["interrupted"] and entry["quick"] and entry["command"] == "x"
    with pytest.raises(ValueError):
        with logged_if_stopped(path, time.perf_counter(), cpu_seconds(), enabled=False):
            raise ValueError
    with logged_if_stopped(path, time.perf_counter(), cpu_seconds()):
        pass
    assert len(read_log(path)) == 1


def test_run_each_hands_over_each_result_and_routes_failures():
    """run_each gives every finished result to on_result by its index, a failing job to
    on_error without stopping the others; without on_error the failure is raised and the
    results handed over before it stay with the caller."""
    from brian_noisy_rnn.experiments.executors import run_each

    calls = [(int, ("3",)), (int, ("x",)), (int, ("5",))]
    results, errors = {}, {}
    run_each(calls, 1, results.__setitem__, errors.__setitem__)
    assert results == {0: 3, 2: 5}
    assert list(errors) == [1] and isinstance(errors[1], ValueError)

    results.clear()
    with pytest.raises(ValueError, match="invalid literal"):
        run_each(calls, 1, results.__setitem__)
    assert results == {0: 3}
    run_each([], 1, results.__setitem__)  # nothing to run: no executor, no call
    assert results == {0: 3}
