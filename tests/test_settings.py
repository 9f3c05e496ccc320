"""Settings declared once (core.settings): declarations, renamed keywords, and the keys of
results stores, which must not move when settings are re-declared."""

import warnings

import pytest

from brian_noisy_rnn.core.settings import renamed_keyword, setting_info, settings_of
from brian_noisy_rnn.experiments.config import grid_from_dict
from brian_noisy_rnn.experiments.demo import demo_grid


def test_cell_keys_of_a_fixed_grid_are_unchanged():
    """The cell and training keys of a fixed grid, as computed before the settings were
    declared once: a campaign's results store (campaigns/reproduction) is keyed by them, so
    a change here orphans every stored result."""
    d = {"grid": {"tasks": ["FunctionApproximation-v0"], "placements": ["pre", "post"],
                  "train_sigmas": [0.5], "seeds": [0], "backends": ["torch"]},
         "sweep": {"relative_sigmas": [0.0, 1.0, 2.0], "n_trials": 20, "seed": 7},
         "network": {"n_hidden": 4}, "training": {"steps": 3, "batch_size": 8}}
    cells = grid_from_dict(d).cells()
    assert [(c.key, c.train_key) for c in cells] == [
        ("d5ad4587e06f7977a7857f5f0e818c6a891a13d833d35ca869f6051554e41df5",
         "7f04d1412a95aa054ef864447da2d4c8aa123bf491a11b7330957e2832cf6677"),
        ("6824f3bcb44347f0e7e1bfd584691aabc0c0238409ddcda6a519ff8cc7b2fc78",
         "3eaf17d368dcbb3819031c458b450860c9f54a7df02bd0c326f57f82e6aaa0e0")]


def test_demo_grid_keys_are_unchanged():
    """demo_grid's cell keys (with renamed keywords) as computed before the renaming."""
    grid = demo_grid(seeds=1, steps=5, n_trials=10, brian2_n_trials=4, max_relative_sigma=1.5,
                     n_sigmas=3)
    assert [c.key for c in grid.cells()] == [
        "4e8d9e52388964b2652a5401d847a65e2e78607dcae3566b6625eaaa2bb7fd76",
        "2e9d13df0af2cd4acafb0663b40c9d188adedaf60255648e19d1d50ae308f32b",
        "1440bde071cbd93336b435f880239b5188f7962866f779c1b1d81f944cf4bb7b",
        "2ce8563cceb777c81c60d4aa6f65981cd23ef7ed8ca5ccb50013b458f10fe346"]


def test_train_config_declares_its_settings():
    from brian_noisy_rnn.bridges import TrainConfig

    declared = settings_of(TrainConfig)
    assert declared["steps"].default == TrainConfig(n_hidden=1, seed=0).steps
    assert declared["tau"].flag == "--tau-ms" and declared["tau"].unit == "ms"
    assert declared["batch_size"].flag == "--batch-size"
    with pytest.raises(KeyError, match="noise"):
        setting_info(TrainConfig, "noise")  # not a command-line setting


def test_renamed_keyword():
    assert renamed_keyword("f", "old", "new", None, 3) == 3
    with pytest.warns(DeprecationWarning, match=r"f\(old=...\) is deprecated.*use new="):
        assert renamed_keyword("f", "old", "new", 2, None) == 2
    with pytest.raises(TypeError, match="give new= only"):
        renamed_keyword("f", "old", "new", 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renamed_keyword("f", "old", "new", None, None)


def test_training_functions_share_their_run_options():
    """``train``, ``train_ensemble`` and ``train_feedforward`` spell their run options alike
    (``device=`` was missing from ``train_feedforward``)."""
    import inspect

    from brian_noisy_rnn.bridges import train, train_ensemble, train_feedforward

    for function in (train, train_ensemble, train_feedforward):
        params = inspect.signature(function).parameters
        assert {"config" if function is not train_ensemble else "configs", "progress",
                "num_threads", "device"} <= set(params), function.__name__


def test_grid_keys_are_the_settings_names():
    """A grid's [training] keys are TrainConfig fields and its [sweep] n_trials / seed are
    EvalConfig's: one spelling per setting in Python, grid files and (with dashes) flags."""
    import dataclasses

    from brian_noisy_rnn.bridges import TrainConfig
    from brian_noisy_rnn.evaluation.settings import EvalConfig
    from brian_noisy_rnn.experiments import config

    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(config._TRAINING_KINDS) <= train_fields  # the keys a grid's [training] accepts
    assert set(config._TRAINING_DEFAULTS) <= train_fields
    assert set(config._SWEEP_DEFAULTS) <= {f.name for f in dataclasses.fields(EvalConfig)}
    network = {"n_hidden", "activation"} | {settings_of(TrainConfig)["tau"].flag[2:].replace("-", "_")}
    assert network <= set(config._NETWORK_DEFAULTS)
