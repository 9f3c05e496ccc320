"""Hostile inputs, files and faults (issue 11): one test per class, parametrised over its cases.

Every test asserts the error (or warning) type and that the message names the argument,
flag, file or cell at fault.
"""

import json
import os
import sqlite3
import stat
import warnings

import numpy as np
import pytest
import torch
from brian2 import Hz, ms

from brian_noisy_rnn import CTRNNSpec, Noise, tasks
from brian_noisy_rnn.backends.simulation import NonFiniteResultWarning, simulate
from brian_noisy_rnn.bridges.checkpoint import load_checkpoint, save_checkpoint
from brian_noisy_rnn.cli import main
from brian_noisy_rnn.core.atomic import atomic_write
from brian_noisy_rnn.experiments import GridError, ResultStore, grid_from_dict, load_grid, run_grid
from brian_noisy_rnn.experiments.store import CorruptRowWarning

from test_experiments import tiny_grid_dict, tiny_grid_file

FA = "FunctionApproximation-v0"
PDM = "PerceptualDecisionMaking-v0"
SMALL = ["--n-hidden", "4", "--batch-size", "8", "--no-progress", "--n-eval-trials", "10",
         "--log-every", "5", "--checkpoint-every", "5"]


def small_spec(n=4, n_in=1, n_out=1, gain=0.1, noise=None):
    rng = np.random.default_rng(0)
    return CTRNNSpec(rng.normal(size=(n, n_in)), gain * rng.normal(size=(n, n)), np.zeros(n),
                     rng.normal(size=(n_out, n)), np.zeros(n_out), tau=100 * ms, dt=20 * ms,
                     activation="relu", noise=noise)


def diverging_spec(noise=None, n=4):
    """Weights of 1e300: the activity overflows to inf and NaN within a few steps."""
    return CTRNNSpec(np.ones((n, 1)), 1e300 * np.eye(n), np.ones(n), np.ones((1, n)), np.zeros(1),
                     tau=100 * ms, dt=20 * ms, activation="relu", noise=noise)


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- files: non-regular targets, symlinks, read-only files, modes --------------------------------
def _writers():
    spec = small_spec()
    return {
        "spec.save": lambda p: spec.save(p),
        "save_checkpoint": lambda p: save_checkpoint(p, {"step": 0}),
        "atomic_write": lambda p: atomic_write(p).__enter__(),
    }


@pytest.mark.parametrize("writer", ["spec.save", "save_checkpoint", "atomic_write"])
@pytest.mark.parametrize("case, error, words", [
    ("directory", ValueError, "directory"),
    ("device", ValueError, "not a regular file"),
    ("read-only", PermissionError, "read-only"),
    ("parent is a file", ValueError, "not a directory"),
])
def test_saving_refuses_what_it_must_not_replace(tmp_path, writer, case, error, words):
    if case == "directory":
        path = tmp_path / "out.npz"
        path.mkdir()
    elif case == "device":
        path = "/dev/null"
    elif case == "read-only":
        path = tmp_path / "out.npz"
        path.write_bytes(b"keep me")
        path.chmod(0o444)
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "out.npz"
    with pytest.raises(error, match=words) as info:
        _writers()[writer](path)
    assert str(path) in str(info.value) or os.path.realpath(path) in str(info.value)
    if case == "read-only":
        assert path.read_bytes() == b"keep me"
    assert not [p for p in tmp_path.rglob(".tmp-*")]


@pytest.mark.parametrize("umask, existing_mode, expected", [
    (0o022, None, 0o644), (0o077, None, 0o600), (0o002, None, 0o664), (0o022, 0o640, 0o640),
])
def test_written_files_get_the_umask_or_the_existing_mode(tmp_path, umask, existing_mode, expected):
    spec = small_spec()
    paths = {"spec": tmp_path / "net.npz", "ckpt": tmp_path / "c.pt", "csv": tmp_path / "t.bin"}
    if existing_mode is not None:
        for p in paths.values():
            p.write_bytes(b"old")
            p.chmod(existing_mode)
    old = os.umask(umask)
    try:
        spec.save(paths["spec"])
        save_checkpoint(paths["ckpt"], {"step": 0})
        with atomic_write(paths["csv"]) as f:
            f.write(b"x")
    finally:
        os.umask(old)
    for name, p in paths.items():
        assert stat.S_IMODE(p.stat().st_mode) == expected, name


def test_a_symlink_is_written_through(tmp_path):
    target = tmp_path / "data" / "net.npz"
    target.parent.mkdir()
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    small_spec().save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert CTRNNSpec.load(target) == small_spec()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# --- work lost: outputs checked before long work, never two outputs to one path ------------------
@pytest.mark.parametrize("extra, flag", [
    (["--checkpoint", "{out}"], "--checkpoint"),
    (["--checkpoint", "{tmp}/link.pt"], "--checkpoint"),
    ([], "--out"),  # --out inside a "folder" that is a file
    (["--checkpoint", "{tmp}/ro/c.pt"], "--checkpoint"),
])
def test_train_checks_its_outputs_before_training(tmp_path, capsys, monkeypatch, extra, flag):
    import brian_noisy_rnn.bridges.training as training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("training started"))
    out = tmp_path / "net.npz"
    (tmp_path / "link.pt").symlink_to(out)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    if not extra:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "net.npz"
    argv = [a.format(out=out, tmp=tmp_path) for a in extra]
    code, _, err = cli(capsys, "train", "--task", FA, "--out", out, *SMALL, *argv)
    assert code == 2 and flag in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["spec_dir is a file", "spec_dir read-only"])
def test_experiment_checks_the_spec_folder_before_training(tmp_path, case):
    spec_dir = tmp_path / "specs"
    if case == "spec_dir is a file":
        spec_dir.write_text("x")
    else:
        spec_dir.mkdir()
        spec_dir.chmod(0o555)
    with pytest.raises((ValueError, PermissionError), match="spec_dir"):
        run_grid(tiny_grid_file(tmp_path), tmp_path / "r.sqlite", workers=1, spec_dir=spec_dir,
                 progress=False)
    assert not (tmp_path / "r.sqlite").exists()


def test_a_trained_network_is_kept_when_its_sweep_fails(tmp_path, monkeypatch):
    import brian_noisy_rnn.evaluation.curves as curves

    real = curves.noise_preference

    def broken(*args, **kwargs):
        raise RuntimeError("sweep crashed")

    grid = grid_from_dict(tiny_grid_dict(grid={"tasks": [FA], "placements": ["pre"],
                                               "train_sigmas": [0.5], "seeds": [0],
                                               "backends": ["torch"]}))
    monkeypatch.setattr(curves, "noise_preference", broken)
    lines = []
    report = run_grid(grid, tmp_path / "r.sqlite", workers=1, progress=False, log=lines.append)
    assert report.networks_trained == 1 and len(report.failed) == 1
    assert "sweep crashed" in lines[0] and "pre sigma=0.5 seed=0 torch" in lines[0]
    assert "kept" in lines[0]
    monkeypatch.setattr(curves, "noise_preference", real)
    again = run_grid(grid, tmp_path / "r.sqlite", workers=1, progress=False)
    assert again.networks_trained == 0 and len(again.recorded) == 1


# --- grids: every option checked before the first cell trains ----------------------------------
@pytest.mark.parametrize("changes, key", [
    ({"backend_options": {"brian2": {"method": "no-such-method"}}}, "method"),
    ({"backend_options": {"brian2": {"frobnicate": 1}}}, "backend_options.brian2.frobnicate"),
    ({"backend_options": {"brian2": {"recurrence": "sparse"}}}, "recurrence"),
    ({"task_kwargs": {PDM: {"timing": {"stimulus": float("nan")}}}}, f"task_kwargs.{PDM}"),
    ({"task_kwargs": {PDM: {"timing": {"stimulous": 500}}}}, "stimulous"),
    ({"task_kwargs": {FA: {"timing": {"settle": -20}}}}, f"task_kwargs.{FA}"),
])
def test_grid_options_fail_at_load(changes, key):
    grid = tiny_grid_dict(grid={"tasks": [FA, PDM], "placements": ["pre"], "train_sigmas": [0.5],
                                "seeds": [0], "backends": ["torch", "brian2"]})
    grid.update(changes)
    with pytest.raises(GridError, match=key.replace(".", r"\.")):
        grid_from_dict(grid, source="g.toml")


def test_grids_differing_only_in_name_record_their_own_cells(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    a = grid_from_dict(tiny_grid_dict(name="first"))
    b = grid_from_dict(tiny_grid_dict(name="second"))
    run_grid(a, db, workers=1, progress=False)
    report = run_grid(b, db, workers=1, progress=False)
    assert report.skipped == 0 and len(report.recorded) == 2 and report.networks_trained == 0
    code, out, _ = cli(capsys, "results", db, "--grid-name", "second")
    assert code == 0 and "no finished cells" not in out


# --- silent NaN and overflow -------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_diverging_network_warns_naming_the_run(backend):
    spec = diverging_spec()
    with pytest.warns(NonFiniteResultWarning, match=f"simulate\\('{backend}'\\).*w_rec"):
        with np.errstate(all="ignore"):
            simulate(spec, np.ones((30, 2, 1)), backend=backend, seed=0)


@pytest.mark.parametrize("means, preferred", [
    ([np.nan, np.nan, np.nan], None), ([np.nan, 0.5, 0.2], 2), ([np.inf, 0.1, np.nan], 1),
])
def test_a_curve_of_nan_has_no_preferred_sigma(means, preferred):
    from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve

    curve = NoisePreferenceCurve(
        sigmas=np.array([0.0, 0.5, 1.0]), metric="mse", higher_is_better=False,
        mean=np.array(means), sem=np.zeros(3), n_trials=4, placement="pre", process="white",
        sigma_train=0.5, train_placement="pre", backend="numpy", seed=0)
    assert curve.preferred_index == preferred
    if preferred is None:
        assert np.isnan(curve.preferred_sigma) and curve.summary()["preferred_sigma"] is None
        assert not any(r["is_preferred"] for r in curve.rows())


def test_noise_preference_of_a_diverging_network_warns():
    from brian_noisy_rnn.evaluation.curves import noise_preference

    spec = diverging_spec(noise=Noise("pre", 0.5))
    env = tasks.make(FA, dt=20)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        curve = noise_preference(spec, env, [0.0, 0.5], backend="numpy", n_trials=4, seed=0)
    messages = [str(w.message) for w in caught if issubclass(w.category, NonFiniteResultWarning)]
    assert any(FA in m and "no preferred sigma" in m for m in messages)
    assert np.isnan(curve.preferred_sigma)


@pytest.mark.parametrize("n_trials", [1, 2])
def test_nmse_of_constant_targets_is_nan(n_trials):
    from brian_noisy_rnn.tasks.metrics import task_metrics

    batch = tasks.batch(tasks.make(FA, dt=20), n_trials, seed=0)
    m = task_metrics(np.zeros_like(batch.targets), batch)
    assert np.isnan(m["nmse"]) if n_trials == 1 else np.isfinite(m["nmse"]) and m["nmse"] < 100


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_json_output_is_valid_json_with_nan(tmp_path, capsys, command, monkeypatch):
    spec = diverging_spec()
    spec = spec.replace(metadata={"training": {"task": FA}})
    path = tmp_path / "net.npz"
    spec.save(path)
    if command == "evaluate":
        argv = ["evaluate", path, "--backend", "numpy", "--n-trials", "4", "--json"]
    else:
        import brian_noisy_rnn.bridges.training as training
        import brian_noisy_rnn.evaluation.scoring as scoring

        monkeypatch.setattr(scoring, "evaluate", lambda *a, **k: {"mse": float("nan")})
        argv = ["train", "--task", FA, "--steps", "2", "--out", tmp_path / "t.npz", *SMALL,
                "--json"]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, _ = cli(capsys, *argv)
    assert code == 0

    def refuse(constant):
        raise AssertionError(f"invalid JSON constant {constant}")

    data = json.loads(out, parse_constant=refuse)
    values = data["metrics"] if command == "evaluate" else data["evaluation"]
    assert values["mse"] is None


# --- arguments that do nothing are refused ----------------------------------------------------
@pytest.mark.parametrize("make, name", [
    (lambda: small_spec(n_in=0), "w_in"),
    (lambda: small_spec(n_out=0), "w_out"),
    (lambda: Noise("none", 5), "sigma"),
    (lambda: Noise("none", [0.0, 1.0]), "sigma"),
    (lambda: tasks.make(PDM, timing={"bogus": 100}), "timing"),
])
def test_degenerate_or_ineffective_api_arguments(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("argv, flag", [
    (["train", "--task", FA, "--placement", "none", "--sigma", "3"], "--sigma"),
    (["train", "--task", FA, "--placement", "pre", "--sigma", "1", "--tau-noise-ms", "5"],
     "--tau-noise-ms"),
    (["train", "--task", FA, "--process", "ou"], "--process"),
    (["train", "--task", FA, "--grad-clip", "-1"], "--grad-clip"),
    (["train", "--task", FA, "--lr", "1e300"], "--lr"),
    (["train", "--task", FA, "--bias-init", "1e300"], "--bias-init"),
    (["train", "--task", FA, "--seed", "-1"], "--seed"),
    (["train", "--task", FA, "--checkpoint", "x.pt", "--no-checkpoint"], "--checkpoint"),
    (["simulate", "--backends", "numpy", "--target", "cython"], "--target"),
    (["simulate", "--backends", ","], "--backends"),
    (["simulate", "--backends", "numpy,,torch"], "--backends"),
    (["simulate", "--backends", "numpy", "--placement", "none", "--sigma", "3"], "--sigma"),
    (["simulate", "--seed", "-1"], "--seed"),
    (["evaluate", "{spec}", "--seed", "-1"], "--seed"),
    (["evaluate", "{spec}", "--task", FA, "--sigma", "0.5"], "--sigma"),
])
def test_cli_user_errors_are_one_line_naming_the_flag(tmp_path, capsys, monkeypatch, argv, flag):
    monkeypatch.chdir(tmp_path)
    small_spec().save(tmp_path / "net.npz")
    argv = [a.format(spec=tmp_path / "net.npz") for a in argv]
    if argv[0] == "train":
        argv += ["--out", tmp_path / "out.npz", *SMALL, "--steps", "2"]
    code, _, err = cli(capsys, *argv)
    last = err.strip().splitlines()[-1]
    assert code == 2 and flag in last and "Traceback" not in err
    assert not (tmp_path / "out.npz").exists()


# --- raw errors from deep inside numpy / torch / Brian2 ----------------------------------------
def _npy(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    return tmp_path / "a.npy"


def _bad_meta(tmp_path, field, value):
    spec = small_spec()
    spec.save(tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as d:
        contents = {k: d[k] for k in d.files}
    meta = json.loads(str(contents["meta"]))
    meta[field] = value
    contents["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **contents)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("case, error, words", [
    ("npy file", ValueError, "not a readable CTRNNSpec file"),
    ("tau_s is a string", ValueError, "'tau_s' must be a number"),
    ("noise is a list", ValueError, "'noise' must be a dict"),
    ("activation is a number", ValueError, "'activation' must be a str"),
    ("metadata is a list", ValueError, "'metadata' must be a dict"),
    ("unknown activation", ValueError, "invalid network"),
])
def test_spec_load_names_the_file(tmp_path, case, error, words):
    path = {"npy file": lambda: _npy(tmp_path),
            "tau_s is a string": lambda: _bad_meta(tmp_path, "tau_s", "0.1"),
            "noise is a list": lambda: _bad_meta(tmp_path, "noise", [1]),
            "activation is a number": lambda: _bad_meta(tmp_path, "activation", 3),
            "metadata is a list": lambda: _bad_meta(tmp_path, "metadata", []),
            "unknown activation": lambda: _bad_meta(tmp_path, "activation", "nope")}[case]()
    with pytest.raises(error, match=words) as info:
        CTRNNSpec.load(path)
    assert str(path) in str(info.value)


def _checkpoint(tmp_path, **changes):
    """Train 5 steps with a checkpoint, then rewrite entries of the checkpoint."""
    from brian_noisy_rnn.bridges.training import train

    path = tmp_path / "c.pt"
    env = tasks.make(FA, dt=20)
    train(env, n_hidden=4, noise=Noise("none"), steps=5, batch_size=4, seed=0,
          checkpoint=path, progress=False, checkpoint_every=5)
    state = torch.load(path, weights_only=True)
    for k, v in changes.items():
        if k.startswith("model."):
            state["model"][k[6:]] = v(state["model"][k[6:]])
        else:
            state[k] = v
    torch.save(state, path)
    return path, env


@pytest.mark.parametrize("changes, words", [
    ({"step": -3}, "'step' must be an int >= 0"),
    ({"step": "5"}, "'step' must be an int >= 0"),
    ({"history": []}, "'history' must be a dict"),
    ({"extra": {"elapsed": "x", "run_loss": 0.0, "run_count": 0}}, "extra.elapsed"),
    ({"model.w_rec": lambda t: t * float("nan")}, "model.w_rec"),
    ({"model.w_rec": lambda t: t.to(torch.int64)}, "model.w_rec"),
])
def test_crafted_checkpoints_are_refused_naming_the_entry(tmp_path, changes, words):
    path, _ = _checkpoint(tmp_path, **changes)
    with pytest.raises(ValueError, match=words) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_checkpoint_of_other_shapes_is_a_clean_error(tmp_path):
    from brian_noisy_rnn.bridges.training import train

    path, env = _checkpoint(tmp_path, **{"model.w_rec": lambda t: torch.zeros(5, 5)})
    with pytest.raises(ValueError, match="checkpoint .*c.pt.* do not fit"):
        train(env, n_hidden=4, noise=Noise("none"), steps=10, batch_size=4, seed=0,
              checkpoint=path, progress=False)


@pytest.mark.parametrize("call, error, name", [
    (lambda: __import__("brian_noisy_rnn").analysis.compensate(
        small_spec(noise=Noise("pre", 0.5)), "abc"), TypeError, "sigma"),
    (lambda: tasks.make(FA, dt=1e-12), ValueError, "dt"),
    (lambda: tasks.make(FA, timing={"settle": float("nan")}), ValueError, "timing"),
    (lambda: tasks.make(PDM, timing={"stimulus": float("nan")}), ValueError, "timing"),
    (lambda: tasks.make(PDM, timing={"stimulus": ("uniform", [100, float("inf")])}),
     ValueError, "timing"),
    (lambda: simulate(small_spec(noise=Noise("pre", 1.0)),
                      np.broadcast_to(np.zeros((1, 1, 1)), (10, 10 ** 9, 1)), backend="numpy",
                      seed=0), ValueError, "inputs"),
])
def test_api_errors_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_training_api_checks(tmp_path):
    """The checks kept in bridges/training.py (see the training-config hand-over list)."""
    from brian_noisy_rnn.bridges.training import train

    env = tasks.make(FA, dt=20)
    common = dict(n_hidden=4, noise=Noise("none"), steps=2, batch_size=4, seed=0, progress=False)
    for kwargs, error, name in [({"lr": 1e300}, ValueError, "lr"),
                                ({"bias_init": 1e300}, ValueError, "bias_init"),
                                ({"dtype": torch.int32}, TypeError, "dtype"),
                                ({"dtype": "float64"}, TypeError, "dtype"),
                                ({"init_spec": small_spec(), "tau": 50 * ms}, ValueError, "init_spec")]:
        with pytest.raises(error, match=name):
            train(env, **{**common, **kwargs})


# --- CLI: tracebacks only for bugs -------------------------------------------------------------
def test_non_utf8_grid_names_the_file(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(GridError, match="UTF-8") as info:
        load_grid(path)
    assert str(path) in str(info.value)
    code, _, err = cli(capsys, "experiment", path, "--results", tmp_path / "r.sqlite")
    assert code == 2 and "grid.toml" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def finished_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("db")
    run_grid(tiny_grid_file(tmp), tmp / "r.sqlite", workers=1, progress=False)
    return tmp / "r.sqlite"


def _copy_db(finished_db, tmp_path):
    import shutil

    folder = tmp_path / "archive"
    folder.mkdir()
    with sqlite3.connect(finished_db) as con:  # a checkpointed copy (no -wal file needed)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(finished_db, folder / "r.sqlite")
    shutil.copytree(str(finished_db)[:-7] + "_specs", folder / "r_specs")
    return folder / "r.sqlite"


def test_a_read_only_database(tmp_path, capsys, finished_db):
    db = _copy_db(finished_db, tmp_path)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        code, out, err = cli(capsys, "results", db)  # archived: readable
        assert code == 0 and "pre" in out and err == ""
        code, _, err = cli(capsys, "experiment", tiny_grid_file(tmp_path), "--results", db)
        assert code == 2 and "read-only" in err and "not a results database" not in err
        assert str(db) in err
    finally:
        db.parent.chmod(0o755)


@pytest.mark.parametrize("column", ["curve_json", "config_json", "versions_json"])
def test_a_corrupt_row_is_reported_by_its_cell(tmp_path, capsys, finished_db, column):
    db = _copy_db(finished_db, tmp_path)
    with sqlite3.connect(db) as con:
        con.execute(f"UPDATE cells SET {column} = '{{broken' WHERE placement = 'pre'")
    with pytest.warns(CorruptRowWarning, match="cell FunctionApproximation-v0 pre 0.5 0 torch"):
        with ResultStore(db, readonly=True) as store:
            rows = store.cells()
    assert [r["placement"] for r in rows] == ["post"]
    with pytest.warns(CorruptRowWarning, match="cell FunctionApproximation-v0 pre .*corrupt"):
        code, out, _ = cli(capsys, "results", db, "--csv", tmp_path / "t.csv")
    assert code == 0 and "post" in out
    assert (tmp_path / "t.csv").read_text().count("\n") == 1 + 3


def test_csv_with_missing_curve_rows_is_complete_and_says_so(tmp_path, capsys, finished_db):
    db = _copy_db(finished_db, tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM curve WHERE sigma > 0 AND cell_key IN "
                    "(SELECT cell_key FROM cells WHERE placement = 'post')")
    with pytest.warns(CorruptRowWarning, match="cell FunctionApproximation-v0 post .*1 of 3 curve rows"):
        code, _, _ = cli(capsys, "results", db, "--csv", tmp_path / "t.csv")
    assert code == 0
    assert (tmp_path / "t.csv").read_text().count("\n") == 1 + 6


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_foreign_sqlite_file_is_refused_before_writing(tmp_path, capsys, dry_run):
    db = tmp_path / "theirs.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE people (name TEXT)")
    before = db.read_bytes()
    code, _, err = cli(capsys, "experiment", tiny_grid_file(tmp_path), "--results", db,
                       *(["--dry-run"] if dry_run else []), "--workers", "1", "--no-progress")
    assert code == 2 and "not a brian-noisy-rnn results database" in err and str(db) in err
    assert db.read_bytes() == before
    assert not (tmp_path / "theirs.sqlite-wal").exists()


def test_results_outputs_checked_and_distinct(tmp_path, capsys, finished_db):
    db = _copy_db(finished_db, tmp_path)
    code, _, err = cli(capsys, "results", db, "--csv", tmp_path / "x", "--figure", tmp_path / "x")
    assert code == 2 and "--csv and --figure" in err
    code, _, err = cli(capsys, "results", db, "--csv", tmp_path)
    assert code == 2 and "--csv" in err and "directory" in err


def test_analyze_without_a_fixed_point_says_so(tmp_path, capsys):
    """A network without fixed points (here an unstable one) is analysed on the mean-field
    trajectory; the fixed-point predictions are NaN and stderr says why, without a traceback."""
    n = 4
    spec = CTRNNSpec(np.ones((n, 1)), 2 * np.eye(n), np.ones(n), np.ones((1, n)), np.zeros(1),
                     tau=100 * ms, dt=20 * ms, activation="relu", noise=Noise("pre", 0.5))
    spec.save(tmp_path / "nofp.npz")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = cli(capsys, "analyze", tmp_path / "nofp.npz", "--task", FA,
                             "--n-trials", "4", "--n-repeats", "4", "--n-eval", "4",
                             "--no-compensate")
    assert code == 0 and "nofp.npz" in err and "fixed point" in err and "NaN" in err
    assert "Traceback" not in err and "brian-team" not in err
    assert "loss change predicted        +nan (fixed points)" in out
    assert "mean-field trajectory" in out and "none found" in out


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    import brian_noisy_rnn.cli.simulate as sim

    monkeypatch.setattr(sim, "run", lambda args: 1 / 0)
    monkeypatch.setattr(sim, "add_parser", lambda sub: sub.add_parser("simulate").set_defaults(func=sim.run))
    with pytest.raises(ZeroDivisionError):
        main(["simulate"])


# --- crafted spec files (issue 20): refused before anything is read, naming file and member -----
def _npy_bytes(arr):
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _spec_members(meta_changes=None):
    """The members of a valid spec file as ``{name: npy bytes}``, the header as JSON text."""
    path_arrays = {k: getattr(small_spec(), k) for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0")}
    path_arrays["sigma"] = small_spec().noise.sigma_array
    meta = small_spec()._meta()
    meta.update(meta_changes or {})
    return json.dumps(meta), {f"{k}.npy": _npy_bytes(v) for k, v in path_arrays.items()}


def _write_zip(path, header, members, extra=(), method=None):
    import zipfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name
        with zipfile.ZipFile(path, "w", compression=method or zipfile.ZIP_STORED) as zf:
            zf.writestr("meta.npy", _npy_bytes(np.array(header)))
            for name, data in [*members.items(), *extra]:
                zf.writestr(name, data)
    return path


def _patch_directory(path, offset_local, offset_central, value, size=2):
    """Overwrite a field of every local and central zip header (little-endian)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        start = data.find(signature)
        while start >= 0:
            data[start + offset:start + offset + size] = value.to_bytes(size, "little")
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case, words", [
    ("duplicate JSON key", "'version' appears twice"),
    ("version true", "version True"),
    ("version 1.0", "version 1.0"),
    ("duplicate member", "'w_rec.npy' appears twice"),
    ("unknown member", "extra.npy"),
    ("method 99", "method 99"),
    ("encrypted", "encrypted"),
    ("recursion bomb", "nests"),
    ("declared 1 GiB in a small file", "w_rec.npy"),
    ("zip bomb", "MAX_SPEC_BYTES"),
    ("array larger than its member", "w_rec.npy"),
])
def test_crafted_spec_files_are_refused_naming_the_member(tmp_path, monkeypatch, case, words):
    import zipfile

    from brian_noisy_rnn.core import spec_file

    path = tmp_path / "net.npz"
    header, members = _spec_members()
    if case == "duplicate JSON key":
        _write_zip(path, header[:-1] + ', "version": 1}', members)
    elif case.startswith("version"):
        _write_zip(path, _spec_members({"version": True if "true" in case else 1.0})[0], members)
    elif case == "duplicate member":
        _write_zip(path, header, members, extra=[("w_rec.npy", members["w_rec.npy"])])
    elif case == "unknown member":
        _write_zip(path, header, members, extra=[("extra.npy", _npy_bytes(np.zeros(3)))])
    elif case == "method 99":
        _patch_directory(_write_zip(path, header, members), 8, 10, 99)
    elif case == "encrypted":
        _patch_directory(_write_zip(path, header, members), 6, 8, 1)
    elif case == "recursion bomb":
        _write_zip(path, header[:-1] + ', "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
                   members)
    elif case == "declared 1 GiB in a small file":
        members["w_rec.npy"] = _npy_bytes(np.zeros((4, 4)))
        _write_zip(path, header, members)
        data = bytearray(path.read_bytes())
        name_at = data.find(b"w_rec.npy", data.find(b"PK\x01\x02"))
        central = data.rfind(b"PK\x01\x02", 0, name_at)
        data[central + 24:central + 28] = (2**30).to_bytes(4, "little")  # uncompressed size
        path.write_bytes(bytes(data))
    elif case == "zip bomb":
        # a real bomb, scaled down: 8 MiB of zeros deflate to a few kB; the limit is lowered
        # to 1 MiB so that the test stays fast (the check is the same for 1 GiB)
        monkeypatch.setattr(spec_file, "MAX_SPEC_BYTES", 2**20)
        members["w_rec.npy"] = _npy_bytes(np.zeros(2**20))
        _write_zip(path, header, members, method=zipfile.ZIP_DEFLATED)
        assert path.stat().st_size < 2**16
        monkeypatch.setattr(spec_file, "_read_member", lambda *a: pytest.fail("member read"))
    else:
        # the .npy header of w_rec declares 9999 x 9 values in a 200-byte member
        npy = _npy_bytes(np.zeros((4, 4)))
        members["w_rec.npy"] = npy.replace(b"(4, 4), }   ", b"(9999, 9), }")
        assert members["w_rec.npy"] != npy
        _write_zip(path, header, members)
    with pytest.raises(ValueError, match=words) as info:
        CTRNNSpec.load(path)
    assert str(path) in str(info.value)


def test_a_spec_file_written_by_save_still_loads(tmp_path):
    """The checks above let every file ``save`` writes through (CTRNNSpec and feedforward),
    also Fortran-ordered arrays written by numpy."""
    from brian_noisy_rnn.core.feedforward import FeedforwardSpec

    spec = small_spec(n=5, n_in=2, n_out=3)
    assert CTRNNSpec.load(spec.save(tmp_path / "a.npz")) == spec
    header, members = _spec_members()
    members["w_rec.npy"] = _npy_bytes(np.asfortranarray(small_spec().w_rec))
    assert CTRNNSpec.load(_write_zip(tmp_path / "f.npz", header, members)) == small_spec()
    ff = FeedforwardSpec([np.ones((3, 2)), np.ones((1, 3))], [np.zeros(3), np.zeros(1)],
                         activation="tanh")
    assert FeedforwardSpec.load(ff.save(tmp_path / "ff.npz")) == ff


# --- issue 20: the new features' bad errors and silent cases ---------------------------------------
@pytest.mark.parametrize("call, error, words", [
    (lambda: Noise("pre", []), ValueError, "sigma must be a scalar or shape"),
    (lambda: small_spec().replace(metadata=[1, 2]), TypeError, "metadata must be a dict"),
    (lambda: small_spec().replace(metadata={1: "a"}), TypeError, "metadata keys must be str"),
    (lambda: CTRNNSpec.load(None), TypeError, "path must be a str or os.PathLike"),
])
def test_new_api_errors_name_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_train_ensemble_names_the_member_of_the_wrong_type():
    from brian_noisy_rnn.bridges.training import train_ensemble

    with pytest.raises(TypeError, match=r"configs\[1\] must be a TrainConfig or None, got dict"):
        train_ensemble(FA, [None, {"n_hidden": 4}], progress=False)
    with pytest.raises(TypeError, match=r"members\[0\] must be a dict"):
        train_ensemble(FA, members=[1, 2], progress=False)


def test_an_overflowing_sigma_is_blamed_on_the_sigma_not_on_lr():
    from brian_noisy_rnn.bridges.training import train

    with pytest.raises(FloatingPointError, match=r"sigma=1e\+300") as info:
        train(FA, n_hidden=4, noise=Noise("pre", 1e300), steps=2, batch_size=4, seed=0,
              progress=False)
    assert "lr" not in str(info.value)


def test_bfloat16_inputs_are_simulated_as_their_float_values():
    """bfloat16 -> float64 is exact, so the result equals that of the float32 copy."""
    from brian_noisy_rnn.backends.simulation import simulate

    u = torch.linspace(-1, 1, 10, dtype=torch.bfloat16).reshape(5, 2, 1)
    for backend in ("numpy", "torch"):
        got = simulate(small_spec(), u, backend=backend)
        want = simulate(small_spec(), u.float(), backend=backend)
        np.testing.assert_array_equal(got.outputs, want.outputs)


@pytest.mark.parametrize("name", ["bad name!", "1abc", "a-b", "a*b"])
def test_an_invalid_brian2_name_is_refused_naming_name(name):
    from brian_noisy_rnn.backends.brian2 import RateCTRNN

    with pytest.raises(ValueError, match="name must be a Brian2 name"):
        RateCTRNN(small_spec(), name=name)


def test_external_driver_links_are_checked_when_made():
    """A subexpression is refused at the link (not wrapped by Brian2 at run time); a 1-neuron
    driver without an index warns that it drives every trial and input; NaN from a driver
    warns after the run naming the driver."""
    import brian2 as b2

    from brian_noisy_rnn.backends.brian2 import RateCTRNN

    spec = small_spec(n_in=2)

    def rnn():
        return RateCTRNN(spec, 3, input_source="external", name="ext*")

    with pytest.raises(ValueError, match="inputs.u cannot be linked to the subexpression"):
        rnn().inputs.u = b2.linked_var(b2.NeuronGroup(6, "r = 2*i : 1", name="sub_drv"), "r")
    one = b2.NeuronGroup(1, "r : 1", name="one_drv")
    with pytest.warns(UserWarning, match="one_drv.r of a 1-neuron group without an index"):
        rnn().inputs.u = b2.linked_var(one, "r")
    with warnings.catch_warnings(record=True) as caught:  # an explicit index says it is meant
        warnings.simplefilter("always")
        rnn().inputs.u = b2.linked_var(one, "r", index=np.zeros(6, dtype=int))
    assert not [w for w in caught if "without an index" in str(w.message)]
    rnn = rnn()
    nan_drv = b2.NeuronGroup(6, "r : 1", name="nan_drv")
    nan_drv.r = np.nan
    rnn.inputs.u = b2.linked_var(nan_drv, "r", index=np.arange(6))
    with pytest.warns(NonFiniteResultWarning, match="nan_drv.r"):
        b2.Network(rnn, nan_drv).run(3 * spec.dt)


def _toml(tables, prefix=""):
    """A TOML text of nested dicts of numbers, strings and lists (enough for grids)."""
    def value(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v) if not isinstance(v, float) else repr(v)

    lines = []
    for name, table in tables.items():
        lines.append(f"[{json.dumps(name)}]")
        lines += [f"{json.dumps(k)} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("changes, key", [
    ({"network": {"n_hidden": 10**8}}, "network.n_hidden"),
    ({"sweep": {"relative_sigmas": [0.0, 1.0], "n_trials": 10**12, "seed": 7}}, "sweep.n_trials"),
    ({"training": {"steps": 3, "batch_size": 10**9}}, "training.batch_size"),
    ({"sweep": {"relative_sigmas": [0.0, 1e300], "n_trials": 20, "seed": 7}},
     r"sweep.relative_sigmas\[1\]"),
    ({"sweep": {"sigmas": [0.0, 1e7], "n_trials": 20, "seed": 7}}, r"sweep.sigmas\[1\]"),
    ({"grid": {"tasks": [FA], "placements": ["pre"], "train_sigmas": [1e300], "seeds": [0]}},
     r"grid.train_sigmas\[0\]"),
    ({"task_kwargs": {FA: {"timing": {"settle": 1e12}}}}, r"task_kwargs.*timing\['settle'\]"),
])
def test_a_grid_that_cannot_run_fails_at_load_and_in_the_dry_run(tmp_path, capsys, changes, key):
    """Sizes are checked against the memory available now (the probe's values are far
    beyond any machine), sigmas against MAX_GRID_SIGMA, trial periods against
    MAX_PERIOD_STEPS; `experiment --dry-run` reports it in one line naming the key."""
    with pytest.raises(GridError, match=key):
        grid_from_dict(tiny_grid_dict(**changes))
    path = tmp_path / "g.toml"
    path.write_text(_toml(tiny_grid_dict(**changes)))
    code, _, err = cli(capsys, "experiment", path, "--results", tmp_path / "r.sqlite", "--dry-run")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r.sqlite").exists()


def test_a_trial_longer_than_the_limit_is_refused_naming_timing():
    with pytest.raises(ValueError, match=r"timing\['settle'\].*MAX_PERIOD_STEPS"):
        tasks.make(FA, timing={"settle": 1e12})


@pytest.mark.parametrize("kwargs, words", [
    ({"neurons_per_unit": 10**12}, "neurons_per_unit"),
    ({"rate_max": 1e300 * Hz}, "rate_max"),
    ({"substeps": 10**9}, "substeps"),
])
def test_huge_spiking_populations_and_rates_are_refused_before_building(kwargs, words):
    from brian_noisy_rnn.backends.spiking import SpikingRealization

    with pytest.raises(ValueError, match=words):
        SpikingRealization(small_spec(), n_trials=2, **{"neurons_per_unit": 10, **kwargs})


def test_an_absurd_averaging_sigma_is_refused_with_its_bound():
    from brian_noisy_rnn.core.noise_averages import ensure_activation

    with pytest.raises(ValueError, match="MAX_AVERAGING_SIGMA"):
        ensure_activation("relu~1e200")
    assert ensure_activation("relu~1000000.0").name == "relu~1000000.0"


def test_simulate_checks_target_and_sizes_before_any_backend_runs(capsys, monkeypatch):
    import brian_noisy_rnn.backends.simulation as simulation

    monkeypatch.setattr(simulation, "simulate", lambda *a, **k: pytest.fail("a backend ran"))
    code, _, err = cli(capsys, "simulate", "--backends", "numpy,torch,brian2", "--target", "gpu")
    assert code == 2 and "--target" in err and "gpu" in err
    code, _, err = cli(capsys, "simulate", "--backends", "numpy", "--n-steps", 10**12)
    assert code == 2 and "--n-steps" in err


def test_noise_preference_outputs_are_checked_before_the_sweep(tmp_path, capsys, monkeypatch):
    """--curve and --figure on one file, and a file in --out that is a symlink to a file
    outside it: refused before the network is even loaded."""
    from brian_noisy_rnn.core.spec import CTRNNSpec as Spec

    monkeypatch.setattr(Spec, "load", classmethod(lambda *a: pytest.fail("work started")))
    net = tmp_path / "net.npz"
    code, _, err = cli(capsys, "noise-preference", net, "--curve", tmp_path / "x.json",
                       "--figure", tmp_path / "x.json")
    assert code == 2 and "--curve and --figure" in err
    outside = tmp_path / "elsewhere.json"
    outside.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "noise_preference.json").symlink_to(outside)
    code, _, err = cli(capsys, "noise-preference", net, "--out", out)
    assert code == 2 and "--out" in err and "symlink" in err
    assert outside.read_text() == "keep me"
