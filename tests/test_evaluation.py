"""Tests of ``evaluate`` / ``evaluate_per_trial``: metrics from ``simulate`` on each backend."""


import numpy as np
import pytest

from brian_noisy_rnn import Noise, evaluate, tasks
from brian_noisy_rnn.tasks import metrics
from brian_noisy_rnn.bridges import train
from brian_noisy_rnn.evaluation.scoring import EvaluationResult, evaluate_per_trial, noise_seed
from brian_noisy_rnn.backends.simulation import simulate

FA = "FunctionApproximation-v0"


@pytest.fixture(scope="module")
def env():
    return tasks.make(FA)


@pytest.fixture(scope="module")
def trained(env):
    """A briefly trained 8-unit network (training noise pre, sigma 0.5): outputs far from trivial."""
    return train(env, n_hidden=8, noise=Noise("pre", 0.5), steps=150, batch_size=32, seed=1,
                 progress=False).spec


def test_evaluate_equals_metrics_of_simulate(env, trained):
    noise = Noise("pre", 0.5)
    got = evaluate(trained, env, backend="numpy", noise=noise, n_trials=50, seed=7)
    batch = tasks.batch(env, 50, seed=7)
    out = simulate(trained, batch.inputs, backend="numpy", noise=noise, seed=noise_seed(7)).outputs
    assert got == metrics.task_metrics(out, batch)
    assert set(got) == {"mse", "nmse"}


def test_default_noise_is_the_training_noise(env, trained):
    a = evaluate(trained, env, backend="numpy", n_trials=40, seed=2)
    b = evaluate(trained, env, backend="numpy", noise=trained.noise, n_trials=40, seed=2)
    c = evaluate(trained, env, backend="numpy", noise=Noise("none"), n_trials=40, seed=2)
    assert a == b
    assert a != c


def test_same_seed_same_result_other_seed_other_trials(env, trained):
    a = evaluate(trained, env, backend="numpy", n_trials=40, seed=2)
    assert a == evaluate(trained, env, backend="numpy", n_trials=40, seed=2)
    assert a != evaluate(trained, env, backend="numpy", n_trials=40, seed=3)


def test_task_id_string_is_accepted(env, trained):
    assert evaluate(trained, FA, backend="numpy", n_trials=20, seed=0) == \
        evaluate(trained, env, backend="numpy", n_trials=20, seed=0)
    with pytest.raises(TypeError, match="env must be a task id"):
        evaluate(trained, object(), backend="numpy", n_trials=20, seed=0)


def test_numpy_and_torch_agree_with_noise(env, trained):
    for noise in (Noise("none"), Noise("pre", 0.5), Noise("post", 0.3)):
        a = evaluate(trained, env, backend="numpy", noise=noise, n_trials=64, seed=4)
        b = evaluate(trained, env, backend="torch", noise=noise, n_trials=64, seed=4)
        for k in a:  # same xi stream, float64 both: agreement to rounding
            assert b[k] == pytest.approx(a[k], rel=1e-10, abs=1e-14)


def test_per_trial_metrics_mean_and_sem(env, trained):
    res = evaluate_per_trial(trained, env, backend="numpy", n_trials=100, seed=3,
                             keep_outputs=True)
    assert isinstance(res, EvaluationResult)
    assert res.per_trial["mse"].shape == (100,)
    # every FunctionApproximation trial has the same number of scored steps, so the pooled
    # mse equals the mean over trials
    assert res.mean("mse") == pytest.approx(res.metrics["mse"], rel=1e-12)
    sem = res.sem("mse")
    assert sem == pytest.approx(np.std(res.per_trial["mse"], ddof=1) / 10.0, rel=1e-12)
    assert 0 < sem < res.metrics["mse"]
    assert res.outputs.shape == (40, 100, 1) and res.batch.n_trials == 100
    assert res.noise == trained.noise and res.backend == "numpy" and res.seed == 3


def test_evaluate_returns_standard_errors_on_request(env, trained):
    """return_sem=True: (metrics, sem) with sem the per-trial standard error; default: the dict."""
    plain = evaluate(trained, env, backend="numpy", n_trials=60, seed=3)
    metrics, sem = evaluate(trained, env, backend="numpy", n_trials=60, seed=3, return_sem=True)
    assert isinstance(plain, dict) and metrics == plain
    res = evaluate_per_trial(trained, env, backend="numpy", n_trials=60, seed=3)
    assert set(sem) == set(metrics) == {"mse", "nmse"}
    assert sem["mse"] == pytest.approx(np.std(res.per_trial["mse"], ddof=1) / np.sqrt(60))
    assert sem == res.sems
    with pytest.raises(TypeError, match="return_sem"):
        evaluate(trained, env, backend="numpy", n_trials=60, seed=3, return_sem="yes")


def test_classification_metrics():
    env = tasks.make("PerceptualDecisionMaking-v0", dt=20)
    spec = train(env, n_hidden=8, noise=Noise("none"), steps=3, batch_size=8, seed=0,
                 progress=False).spec
    res = evaluate_per_trial(spec, env, backend="numpy", n_trials=30, seed=0)
    assert set(res.metrics) == set(res.per_trial) == {"accuracy", "cross_entropy", "performance",
                                                      "decision_cross_entropy", "mse_onehot",
                                                      "decision_mse_onehot"}
    acc = res.per_trial["accuracy"]
    assert acc.shape == (30,) and np.all((acc >= 0) & (acc <= 1))
    assert 0.0 <= res.metrics["accuracy"] <= 1.0
    assert np.all(np.isfinite(res.per_trial["cross_entropy"]))


# --- bad input ------------------------------------------------------------------------------
def test_spec_that_does_not_fit_the_task_names_spec(env, trained, make_spec):
    from brian2 import ms

    with pytest.raises(ValueError, match="spec has n_in=3"):
        evaluate(make_spec(8, n_in=3, n_out=1, dt=20 * ms), env, backend="numpy", n_trials=5,
                 seed=0)
    with pytest.raises(ValueError, match="spec has n_out=2"):
        evaluate(make_spec(8, n_in=1, n_out=2, dt=20 * ms), env, backend="numpy", n_trials=5,
                 seed=0)
    with pytest.raises(ValueError, match="spec has dt"):
        evaluate(trained, tasks.make(FA, dt=10), backend="numpy", n_trials=5, seed=0)
    with pytest.raises(ValueError, match="spec has n_in=1"):
        evaluate(trained, tasks.make("MazeNavigation-v0"), backend="numpy", n_trials=5, seed=0)
    with pytest.raises(TypeError, match="spec"):
        evaluate("net.npz", env, backend="numpy", n_trials=5, seed=0)


@pytest.mark.parametrize("kw, error, match", [
    (dict(backend="nope"), ValueError, "backend"),
    (dict(n_trials=0), ValueError, "n_trials"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=None), ValueError, "seed"),
    (dict(noise=0.5), TypeError, "noise"),
    (dict(noise=Noise("pre", np.ones(3))), ValueError, "sigma"),
])
def test_bad_arguments(env, trained, kw, error, match):
    args = dict(backend="numpy", n_trials=5, seed=0)
    args.update(kw)
    with pytest.raises(error, match=match):
        evaluate(trained, env, **args)


def test_unknown_task_id(trained):
    with pytest.raises(ValueError, match="unknown task"):
        evaluate(trained, "NoSuchTask-v0", backend="numpy", n_trials=5, seed=0)


# --- Brian2 parity ----------------------------------------------------------------------------
@pytest.mark.parametrize("noise", [Noise("none"), Noise("pre", 0.5), Noise("post", 0.5)])
def test_brian2_gives_the_same_metrics_as_torch(env, trained, noise):
    """Same trials and the same noise draws (seeded stream): equal up to float rounding."""
    a = evaluate(trained, env, backend="torch", noise=noise, n_trials=40, seed=11)
    b = evaluate(trained, env, backend="brian2", noise=noise, n_trials=40, seed=11)
    for k in a:
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_brian2_noise_statistics_equal_torch_with_independent_draws(env, trained):
    """Different seeds (independent trials and noise): per-trial mse means within 4 s.e."""
    noise = Noise("pre", 0.5)
    a = evaluate_per_trial(trained, env, backend="torch", noise=noise, n_trials=1000, seed=21)
    b = evaluate_per_trial(trained, env, backend="brian2", noise=noise, n_trials=1000, seed=22)
    diff = a.mean("mse") - b.mean("mse")
    assert abs(diff) < 4 * np.hypot(a.sem("mse"), b.sem("mse"))


def test_prebuilt_batch_gives_the_same_result_and_is_checked():
    """A batch passed in (reused across noise levels) equals the one built from the seed."""
    from brian_noisy_rnn import Noise, tasks
    from brian_noisy_rnn.evaluation.scoring import evaluate_per_trial
    from brian_noisy_rnn.core.examples import example_spec

    spec = example_spec(6, noise=Noise("pre", 0.5))
    env = tasks.make("FunctionApproximation-v0", dt=20)
    built = evaluate_per_trial(spec, env, backend="numpy", n_trials=30, seed=4)
    given = evaluate_per_trial(spec, env, backend="numpy", n_trials=30, seed=4,
                               batch=tasks.batch(env, 30, seed=4))
    assert given.metrics == built.metrics
    with pytest.raises(ValueError, match="batch"):
        evaluate_per_trial(spec, env, backend="numpy", n_trials=31, seed=4,
                           batch=tasks.batch(env, 30, seed=4))
