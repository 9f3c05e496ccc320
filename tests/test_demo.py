"""``brian-noisy-rnn demo`` end to end with tiny settings (the full-size headline is the slow test
in test_noise_preference.py)."""

import csv

import pytest

from brian_noisy_rnn.cli import main
from brian_noisy_rnn.experiments import ResultStore
from brian_noisy_rnn.experiments.demo import backend_agreement, demo_grid

TINY = ["--steps", "20", "--n-seeds", "1", "--n-trials", "40", "--n-hidden", "6", "--n-sigmas", "3",
        "--workers", "1", "--no-progress"]


def test_demo_writes_table_figures_and_csv_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    # the table: one row per (placement, backend), torch and brian2
    rows = [line for line in text.splitlines() if line.startswith("| FunctionApproximation-v0")]
    assert len(rows) == 4
    assert {tuple(r.split("|")[2:5]) for r in rows} == {
        (" pre ", " 1 ", " torch "), (" pre ", " 1 ", " brian2 "),
        (" post ", " 1 ", " torch "), (" post ", " 1 ", " brian2 ")}
    assert "brian2 vs torch: 2 networks" in text and "within 2 SE at 6/6" in text
    for name in ("noise_preference.png", "trial_traces.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 * 3  # 4 cells x 3 test sigmas
    assert (out / "summary.md").read_text().startswith("| task")
    with ResultStore(out / "results.sqlite") as store:
        first = {r["cell_key"]: r["finished_at"] for r in store.cells()}

    # rerun: every cell is found in the database, nothing is recomputed
    assert main(["demo", "--out", str(out), *TINY, "--no-figures"]) == 0
    with ResultStore(out / "results.sqlite") as store:
        assert {r["cell_key"]: r["finished_at"] for r in store.cells()} == first


def test_demo_rejects_bad_settings_before_training(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "x"), "--task", "NoSuchTask-v0"]) == 2
    assert "NoSuchTask-v0" in capsys.readouterr().err
    assert not (tmp_path / "x" / "results.sqlite").exists()
    assert main(["demo", "--out", str(tmp_path / "x"), "--backends", "torch,jax"]) == 2
    assert "jax" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n_sigmas"):
        demo_grid(n_sigmas=1)


def test_demo_grid_defaults_follow_the_design():
    grid = demo_grid()
    assert grid.placements == ("pre", "post") and grid.backends == ("torch", "brian2")
    assert grid.seeds == (0, 1, 2) and grid.train_sigmas == (1.0,)
    assert grid.training["steps"] == 600 and grid.network["n_hidden"] == 32
    assert grid.cells()[0].config["test_sigmas"][-1] == pytest.approx(2.0)
    assert len(grid.cells()) == 2 * 3 * 2


def test_backend_agreement_compares_matching_curves():
    import numpy as np

    from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve

    def curve(backend, shift):
        c = NoisePreferenceCurve(
            sigmas=np.array([0.0, 1.0]), metric="mse", higher_is_better=False,
            mean=np.array([0.2, 0.1]) + shift, sem=np.array([0.01, 0.01]), n_trials=10,
            placement="pre", process="white", sigma_train=1.0, train_placement="pre",
            backend=backend, seed=0, task="T")
        c.cell = {"seed": 0}
        return c

    (a,) = backend_agreement([curve("torch", 0.0), curve("brian2", 0.02)])
    assert a["pairs"] == 1 and a["points"] == 2 and a["within_error"] == 2
    (b,) = backend_agreement([curve("torch", 0.0), curve("brian2", 0.05)])
    assert b["within_error"] == 0 and b["max_abs_diff"] == pytest.approx(0.05)
