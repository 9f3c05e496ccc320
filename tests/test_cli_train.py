"""Tests of the ``tasks``, ``train`` and ``evaluate`` subcommands (in-process, via cli.main)."""

import json
import re

import pytest

from brian_noisy_rnn import CTRNNSpec, Noise
from brian_noisy_rnn.bridges.checkpoint import load_checkpoint
from brian_noisy_rnn.cli import main

FA = "FunctionApproximation-v0"
SMALL = ["--n-hidden", "6", "--batch-size", "8", "--no-progress", "--n-eval-trials", "20",
         "--log-every", "5", "--checkpoint-every", "5"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_tasks_lists_ours_first_then_neurogym(capsys):
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[0] == FA
    assert out.index("SingleNeuronRegulator-v0") < out.index("PerceptualDecisionMaking-v0")
    code, out, _ = run(capsys, "tasks", "--ours", "--json")
    ids = json.loads(out)
    assert FA in ids and "PerceptualDecisionMaking-v0" not in ids


def test_train_writes_spec_and_checkpoint_then_evaluate(tmp_path, capsys):
    out_path = tmp_path / "net.npz"
    code, out, err = run(capsys, "train", "--task", FA, "--placement", "pre", "--sigma", "0.5",
                         "--steps", "10", "--seed", "2", "--out", out_path, "--json", *SMALL)
    assert code == 0, err
    report = json.loads(out)
    spec = CTRNNSpec.load(out_path)
    assert spec.noise == Noise("pre", 0.5) and spec.n_hidden == 6
    assert spec.metadata["training"]["task"] == FA
    assert report["steps"] == 10 and set(report["evaluation"]) == {"mse", "nmse"}
    assert load_checkpoint(tmp_path / "net.ckpt.pt")["step"] == 10

    code, out, err = run(capsys, "evaluate", out_path, "--sigma", "0", "--n-trials", "30",
                         "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["task"] == FA  # from the spec's metadata
    assert res["noise"]["placement"] == "pre" and res["noise"]["sigma"] == 0.0
    assert set(res["metrics"]) == {"mse", "nmse"} and res["sem"]["mse"] > 0

    code, out, _ = run(capsys, "evaluate", out_path, "--task", FA, "--backend", "numpy",
                       "--n-trials", "30")
    assert code == 0 and "nmse" in out and "Noise('pre', sigma=0.5)" in out


def test_train_resumes_from_its_checkpoint(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(capsys, "train", "--task", FA, "--steps", "10", "--out", a, *SMALL)[0] == 0
    assert run(capsys, "train", "--task", FA, "--steps", "20", "--out", a, *SMALL)[0] == 0
    assert run(capsys, "train", "--task", FA, "--steps", "20", "--out", b, *SMALL)[0] == 0
    assert load_checkpoint(tmp_path / "a.ckpt.pt")["step"] == 20
    sa, sb = CTRNNSpec.load(a), CTRNNSpec.load(b)
    assert (sa.w_rec == sb.w_rec).all() and (sa.w_out == sb.w_out).all()


@pytest.mark.parametrize("argv, match", [
    (["--task", "NoSuchTask-v0"], "unknown task"),
    (["--task", FA, "--n-hidden", "0"], "--n-hidden"),
    (["--task", FA, "--placement", "pre", "--sigma", "-0.5"], "sigma"),
    (["--task", FA, "--sigma", "0.5"], "--placement"),
    (["--task", FA, "--placement", "pre", "--sigma", "0.5", "--process", "ou"], "tau_noise"),
    (["--task", FA, "--steps", "0"], "--steps"),
])
def test_train_bad_input_is_a_clean_error(tmp_path, capsys, argv, match):
    code, out, err = run(capsys, "train", "--steps", "5", *SMALL, *argv, "--out", tmp_path / "net.npz")
    assert code == 2
    assert "error" in err and re.search(match, err)
    assert not (tmp_path / "net.npz").exists()


def test_train_refuses_a_checkpoint_of_other_settings(tmp_path, capsys):
    out_path = tmp_path / "net.npz"
    assert run(capsys, "train", "--task", FA, "--steps", "5", "--out", out_path, *SMALL)[0] == 0
    code, _, err = run(capsys, "train", "--task", FA, "--steps", "10", "--out", out_path,
                       "--placement", "post", "--sigma", "0.2", *SMALL)
    assert code == 2 and "checkpoint" in err and "noise" in err


def test_evaluate_bad_input(tmp_path, capsys):
    out_path = tmp_path / "net.npz"
    assert run(capsys, "train", "--task", FA, "--steps", "3", "--out", out_path, *SMALL)[0] == 0
    code, _, err = run(capsys, "evaluate", out_path, "--task", "MazeNavigation-v0")
    assert code == 2 and "spec has n_in=1" in err
    code, _, err = run(capsys, "evaluate", tmp_path / "missing.npz")
    assert code == 2 and "missing.npz" in err
    code, _, err = run(capsys, "evaluate", out_path, "--backend", "nope")
    assert code == 2 and "backend" in err
    code, _, err = run(capsys, "evaluate", out_path, "--sigma", "-1")
    assert code == 2 and "sigma" in err
