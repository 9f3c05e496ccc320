"""One consistent command line: flag names, noise flags that cannot silently do nothing, and
the ``noise-preference`` subcommand (in-process, via cli.main)."""

import csv
import json

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise
from brian_noisy_rnn.cli import build_parser, main
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve, noise_preference

FA = "FunctionApproximation-v0"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def net(make_spec, tmp_path):
    """A small FunctionApproximation network 'trained' with pre noise at sigma 0.8."""
    spec = make_spec(5, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", sigma=0.8), seed=2)
    return spec, spec.save(tmp_path / "net.npz")


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


# --- flag names ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, dest, value", [
    (["demo", "--dt", "10"], "dt_ms", 10.0),
    (["demo", "--trials", "7"], "n_trials", 7),
    (["demo", "--brian2-trials", "7"], "brian2_n_trials", 7),
    (["demo", "--seeds", "2"], "n_seeds", 2),
    (["simulate", "--steps", "9"], "n_steps", 9),
    (["simulate", "--trials", "3"], "n_trials", 3),
])
def test_old_spellings_are_hidden_deprecated_aliases(capsys, argv, dest, value):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    err = capsys.readouterr().err
    assert f"{argv[1]} is deprecated" in err and "--" + dest.replace("_", "-") in err
    helptext = _subparsers()[argv[0]].format_help()
    assert argv[1] + " " not in helptext and "--" + dest.replace("_", "-") in helptext


def test_one_spelling_per_concept_in_every_subcommand():
    """No subcommand shows an old spelling; concepts shared by subcommands use one name."""
    old = {"--dt", "--trials", "--seeds", "--brian2-trials"}
    seen = {}
    for name, sub in _subparsers().items():
        flags = {o for a in sub._actions if a.help != "==SUPPRESS==" for o in a.option_strings}
        assert not flags & old, (name, flags & old)
        for flag in flags:
            seen.setdefault(flag, []).append(name)
    for flag in ("--n-trials", "--seed", "--backend", "--placement", "--sigma", "--target",
                 "--out", "--json", "--task"):
        assert len(seen[flag]) >= 2, flag  # the same name wherever the concept appears
    assert "--dt-ms" in seen and set(seen["--dt-ms"]) >= {"demo", "train"}


# --- noise flags ----------------------------------------------------------------------------

def test_train_placement_without_sigma_is_an_error(tmp_path, capsys):
    out = tmp_path / "net.npz"
    code, _, err = run(capsys, "train", "--task", FA, "--placement", "pre", "--steps", "2",
                       "--out", out, "--no-progress")
    assert code == 2 and "--sigma" in err and "--placement pre" in err
    assert not out.exists()  # refused before training


def test_evaluate_and_simulate_another_placement_without_sigma_is_an_error(net, capsys):
    _, path = net
    code, _, err = run(capsys, "evaluate", path, "--task", FA, "--placement", "post",
                       "--n-trials", "5")
    assert code == 2 and "--sigma" in err and "'pre'" in err
    code, _, err = run(capsys, "simulate", path, "--placement", "post", "--backends", "numpy")
    assert code == 2 and "--sigma" in err
    # the network's own placement falls back to its own sigma
    code, out, err = run(capsys, "simulate", path, "--placement", "pre", "--backends", "numpy",
                         "--n-steps", "5", "--n-trials", "2")
    assert code == 0, err
    assert "Noise('pre', sigma=0.8" in out


# --- noise-preference -----------------------------------------------------------------------

def test_noise_preference_writes_curve_csv_and_figure(net, tmp_path, capsys):
    spec, path = net
    out = tmp_path / "sweep"
    code, stdout, err = run(capsys, "noise-preference", "--spec", path, "--task", FA,
                            "--sigmas", "0,0.4,1.6", "--backend", "numpy", "--n-trials", "20",
                            "--seed", "3", "--out", out, "--no-progress")
    assert code == 0, err
    expected = noise_preference(spec, FA, [0, 0.4, 1.6], backend="numpy", n_trials=20, seed=3)
    curve = NoisePreferenceCurve.from_dict(json.loads((out / "noise_preference.json").read_text()))
    np.testing.assert_allclose(curve.sigmas, [0, 0.4, 0.8, 1.6])
    np.testing.assert_allclose(curve.mean, expected.mean, rtol=1e-12)
    assert curve.placement == "pre" and curve.backend == "numpy" and curve.task == FA
    rows = list(csv.DictReader(open(out / "noise_preference.csv")))
    assert [float(r["sigma"]) for r in rows] == [0, 0.4, 0.8, 1.6]
    assert float(rows[2]["mean"]) == pytest.approx(expected.mean[2], rel=1e-9)
    assert (out / "noise_preference.png").read_bytes()[:4] == b"\x89PNG"
    assert f"preferred test sigma: {expected.preferred_sigma:g}" in stdout
    assert "paired difference" in stdout


def test_noise_preference_positional_spec_json_and_explicit_files(net, tmp_path, capsys):
    _, path = net
    code, stdout, err = run(capsys, "noise-preference", path, "--task", FA, "--sigmas", "1",
                            "--placement", "post", "--backend", "numpy", "--n-trials", "8",
                            "--curve", tmp_path / "c.csv", "--figure", tmp_path / "c.svg",
                            "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["summary"]["placement"] == "post" and report["curve"]["n_trials"] == 8
    assert set(report["files"]) == {"csv", "figure"}
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("extra, message", [
    (["--sigmas", "0,x"], "--sigmas"),
    (["--sigmas", "1", "--backend", "jax"], "backend"),
    (["--sigmas", "1", "--n-trials", "0"], "--n-trials"),
    (["--sigmas", "1", "--curve", "c.txt"], "--curve"),
    (["--sigmas", "1", "--target", "cython"], "--target"),
    (["--sigmas", "-1"], "sigmas"),
])
def test_noise_preference_bad_arguments(net, capsys, extra, message):
    _, path = net
    code, _, err = run(capsys, "noise-preference", path, "--task", FA, "--backend", "numpy",
                       *extra)
    assert code == 2 and message in err


def test_noise_preference_sweeps_membrane_noise(make_spec, tmp_path, capsys):
    """``--noise-as membrane --neurons-per-unit M`` on brian2-spiking: the curve of
    ``noise_preference(..., noise_as="membrane")``, inside f also for a network trained with
    noise outside f."""
    spec = make_spec(3, n_in=1, n_out=1, dt=20 * ms, noise=Noise("post", sigma=2.0), seed=4)
    path = spec.save(tmp_path / "post.npz")
    code, stdout, err = run(capsys, "noise-preference", path, "--task", FA, "--sigmas", "0",
                            "--backend", "brian2-spiking", "--noise-as", "membrane",
                            "--neurons-per-unit", "2", "--rate-max-hz", "25",
                            "--target", "numpy", "--n-trials", "2", "--json")
    assert code == 0, err
    curve = json.loads(stdout)["curve"]
    expected = noise_preference(spec, FA, [0], backend="brian2-spiking", n_trials=2, seed=0,
                                noise_as="membrane", neurons_per_unit=2, rate_max_hz=25.0,
                                target="numpy")
    assert curve["placement"] == "pre" and curve["train_placement"] == "post"
    assert curve["sigmas"] == [0.0, 2.0]
    np.testing.assert_allclose(curve["mean"], expected.mean, rtol=1e-12)
    assert curve["mean"][0] != curve["mean"][1]


@pytest.mark.parametrize("extra, message", [
    (["--backend", "brian2-spiking", "--noise-as", "membrane"],
     "--noise-as membrane needs --neurons-per-unit"),
    (["--backend", "numpy", "--neurons-per-unit", "5"],
     "--neurons-per-unit is only used with --backend brian2-spiking"),
    (["--backend", "torch", "--noise-as", "count"], "--noise-as is only used with"),
    (["--backend", "brian2-spiking", "--noise-as", "membrane", "--neurons-per-unit", "5",
      "--placement", "post"], "--placement must be pre"),
    (["--backend", "brian2-spiking", "--rate-max-hz", "0"], "argument --rate-max-hz"),
    (["--backend", "brian2-spiking", "--neurons-per-unit", "10"],
     "--neurons-per-unit in a sweep needs --noise-as membrane"),
    (["--backend", "brian2-spiking", "--noise-as", "count", "--neurons-per-unit", "10"],
     "--neurons-per-unit in a sweep needs --noise-as membrane"),
])
def test_noise_preference_bad_spiking_flags(net, capsys, extra, message):
    _, path = net
    code, _, err = run(capsys, "noise-preference", path, "--task", FA, "--sigmas", "1", *extra)
    assert code == 2 and message in err, err


def test_noise_preference_needs_placement_for_a_noise_free_network(make_spec, tmp_path, capsys):
    path = make_spec(4, n_in=1, n_out=1, dt=20 * ms).save(tmp_path / "quiet.npz")
    code, _, err = run(capsys, "noise-preference", path, "--task", FA, "--sigmas", "1")
    assert code == 2 and "--placement is required" in err
    code, _, err = run(capsys, "noise-preference", "--task", FA)
    assert code == 2 and "spec file is required" in err


# --- one spelling per concept, derived from the settings' declarations -------------------------

#: spellings retired in favour of one name per concept: old dest -> the concept's one flag
RETIRED = {"eval_trials": "--n-eval-trials", "n_eval": "--n-eval-trials", "trials": "--n-trials",
           "threads": "--num-threads", "no_figure": "--no-figures",
           "max_sigma": "--max-relative-sigma", "seeds": "--n-seeds", "dt": "--dt-ms",
           "brian2_trials": "--brian2-n-trials"}


def _all_subparsers():
    """(name, parser) of every subcommand, nested ones (``benchmark neurogym``) included."""
    import argparse

    todo = list(_subparsers().items())
    while todo:
        name, sub = todo.pop(0)
        yield name, sub
        for a in sub._actions:
            if isinstance(a, argparse._SubParsersAction):
                todo.extend((f"{name} {n}", s) for n, s in a.choices.items())


def _visible(sub):
    return [a for a in sub._actions if a.option_strings and a.help != "==SUPPRESS=="]


def test_each_shared_concept_has_one_flag_everywhere():
    """No subcommand shows a retired spelling (as flag or as dest), and a flag that sets a
    setting of TrainConfig or EvalConfig is that setting's declared flag (the field name with
    dashes), except where one command holds two trial counts (``--n-eval-trials``)."""
    from brian_noisy_rnn.bridges import TrainConfig
    from brian_noisy_rnn.core.settings import settings_of
    from brian_noisy_rnn.evaluation.settings import EvalConfig

    declared = {**settings_of(EvalConfig), **settings_of(TrainConfig)}
    flag_dests = {info.flag.lstrip("-").replace("-", "_"): info.flag for info in declared.values()}
    seen = {}
    for name, sub in _all_subparsers():
        for a in _visible(sub):
            flag = a.option_strings[-1]
            assert a.dest not in RETIRED, (name, flag, "use " + RETIRED[a.dest])
            if a.dest in declared or a.dest in flag_dests:
                expected = flag_dests.get(a.dest) or declared[a.dest].flag
                assert flag == expected, (name, flag, expected)
            seen.setdefault(flag, set()).add(name)
    assert {"train", "analyze"} <= seen["--n-eval-trials"]
    assert {"demo", "benchmark neurogym"} <= seen["--no-figures"]
    assert {"train", "demo", "benchmark neurogym"} <= seen["--steps"]
    assert "--steps" not in {o for _, s in _all_subparsers() if _ == "simulate"
                             for a in _visible(s) for o in a.option_strings}


@pytest.mark.parametrize("command, module, function", [
    ("train", "brian_noisy_rnn.bridges.training", "train"),
    ("evaluate", "brian_noisy_rnn.evaluation.scoring", "evaluate"),
    ("noise-preference", "brian_noisy_rnn.evaluation.curves", "noise_preference"),
    ("demo", "brian_noisy_rnn.experiments.demo", "demo_grid"),
])
def test_flag_names_are_the_keywords_they_set(command, module, function):
    """A flag of a shared concept is spelled as the Python keyword it sets (``--num-threads``
    -> ``num_threads=``, ``--max-relative-sigma`` -> ``max_relative_sigma=``)."""
    import importlib
    import inspect

    from brian_noisy_rnn.bridges import TrainConfig

    params = set(inspect.signature(getattr(importlib.import_module(module), function)).parameters)
    if command == "train":
        params |= {f.name for f in __import__("dataclasses").fields(TrainConfig)}
    shared = {"n_trials", "seed", "backend", "num_threads", "max_relative_sigma", "n_sigmas",
              "brian2_n_trials", "steps", "n_hidden", "batch_size", "lr", "n_seeds"}
    for a in _visible(_subparsers()[command]):
        if a.dest in shared and not (command == "demo" and a.dest == "n_seeds"):
            assert a.dest in params, (command, a.option_strings[-1], function)


@pytest.mark.parametrize("command", ["train", "evaluate", "noise-preference"])
def test_flags_of_settings_take_name_default_and_help_from_the_declaration(command):
    from brian_noisy_rnn.bridges import TrainConfig
    from brian_noisy_rnn.core.settings import settings_of
    from brian_noisy_rnn.evaluation.settings import EvalConfig

    config = TrainConfig if command == "train" else EvalConfig
    declared = {info.flag: info for info in settings_of(config).values()}
    derived = [a for a in _visible(_subparsers()[command]) if a.option_strings[-1] in declared]
    assert len(derived) >= 4
    for a in derived:
        info = declared[a.option_strings[-1]]
        if a.dest != "grad_clip":  # the command line's 0 means None
            assert a.help.startswith(info.help), (command, a.option_strings)
        if info.default is not __import__("dataclasses").MISSING and info.default is not None:
            assert a.default == info.default, (command, a.option_strings)


@pytest.mark.parametrize("argv, dest, value", [
    (["train", "--task", FA, "--out", "x.npz", "--threads", "2"], "num_threads", 2),
    (["train", "--task", FA, "--out", "x.npz", "--eval-trials", "0"], "n_eval_trials", 0),
    (["analyze", "x.npz", "--task", FA, "--n-eval", "7"], "n_eval_trials", 7),
    (["demo", "--max-sigma", "1.5"], "max_relative_sigma", 1.5),
    (["benchmark", "neurogym", "--no-figure"], "no_figures", True),
])
def test_retired_spellings_still_work_with_a_warning(capsys, argv, dest, value):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    old = next(a for a in argv if a.startswith("--") and a.lstrip("-").replace("-", "_") in RETIRED)
    assert f"{old} is deprecated" in capsys.readouterr().err


def test_demo_grid_old_keyword_warns_and_gives_the_same_grid():
    from brian_noisy_rnn.experiments.demo import demo_grid

    new = demo_grid(seeds=1, steps=5, n_trials=10, brian2_n_trials=4)
    with pytest.warns(DeprecationWarning, match="brian2_n_trials"):
        old = demo_grid(seeds=1, steps=5, n_trials=10, brian2_trials=4)
    assert [c.key for c in old.cells()] == [c.key for c in new.cells()]
    with pytest.raises(TypeError, match="brian2_n_trials"):
        demo_grid(brian2_trials=4, brian2_n_trials=4)
