"""A network remembers how its task was built (id, keywords, wrappers); evaluation, curves and
the command line rebuild it, and a task of the same id built otherwise warns (issue 23)."""

import json
import warnings

import neurogym as ngym
import numpy as np
import pytest
from brian2 import ms
from neurogym import wrappers

from brian_noisy_rnn import Noise, noise_preference, tasks
from brian_noisy_rnn.bridges import train
from brian_noisy_rnn.cli import main
from brian_noisy_rnn.evaluation.scoring import TaskMismatchWarning, evaluate_per_trial, task_env

PDM = "PerceptualDecisionMaking-v0"
TIMING = {"fixation": 100, "stimulus": 300, "delay": 0, "decision": 100}


def _ngym_env():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ngym.make(PDM, dt=20, sigma=3.0, timing=TIMING)


@pytest.fixture(scope="module")
def trained():
    """A network trained (3 steps: only its metadata matters) on ``neurogym.make`` with
    keywords, under NeuroGym's observation Noise wrapper."""
    env = wrappers.Noise(_ngym_env(), std_noise=0.5)
    result = train(env, n_hidden=6, noise=Noise("pre", 0.5), tau=100 * ms, steps=3,
                   batch_size=4, seed=0, progress=False)
    return result.spec


def test_training_records_the_construction(trained):
    construction = trained.metadata["training"]["task_construction"]
    assert construction["id"] == PDM and construction["unrecorded"] == []
    assert construction["kwargs"] == {"dt": 20, "sigma": 3.0, "timing": TIMING}
    assert construction["wrappers"] == [{"class": "neurogym.wrappers.noise:Noise",
                                         "kwargs": {"std_noise": 0.5}}]
    json.dumps(construction)  # stored in the spec file's JSON metadata


def test_evaluating_on_the_recorded_id_rebuilds_the_training_task(trained):
    """``evaluate(spec, spec.metadata["training"]["task"])`` and ``env=None`` give exactly
    the per-trial metrics of the original env (same trials, observation noise and test
    noise); the default construction of the id is another task (it scored 0.24 instead of
    0.60 in the issue): its batch differs, and it warns."""
    original = wrappers.Noise(_ngym_env(), std_noise=0.5)
    want = evaluate_per_trial(trained, original, backend="numpy", n_trials=16, seed=4)
    for env in (trained.metadata["training"]["task"], None):
        with warnings.catch_warnings():
            warnings.simplefilter("error", TaskMismatchWarning)
            got = evaluate_per_trial(trained, env, backend="numpy", n_trials=16, seed=4)
        for name, values in want.per_trial.items():
            np.testing.assert_array_equal(got.per_trial[name], values)
    default = tasks.make(PDM, dt=20)
    assert not np.array_equal(tasks.batch(default, 16, seed=4).inputs,
                              tasks.batch(original, 16, seed=4).inputs)
    with pytest.warns(TaskMismatchWarning, match=r"sigma: '\(default\)' instead of 3\.0.*"
                                                 r"wrappers \[\] instead of \['Noise'\]"):
        task_env(trained, default)


def test_constructions_round_trip_and_refuse_what_was_not_recorded():
    env = wrappers.Noise(tasks.make(PDM, dt=20, sigma=2.0), std_noise=0.1)
    construction = tasks.task_construction(env)
    again = tasks.make_from_construction(json.loads(json.dumps(construction)))
    assert tasks.task_construction(again) == construction
    np.testing.assert_array_equal(tasks.batch(again, 4, seed=1).inputs,
                                  tasks.batch(env, 4, seed=1).inputs)
    with_function = tasks.make("FunctionApproximation-v0", dt=20, function=np.cos)
    construction = tasks.task_construction(with_function)
    assert construction["unrecorded"] and "function" in construction["unrecorded"][0]
    with pytest.raises(ValueError, match=r"cannot be rebuilt.*function.*pass the task itself"):
        tasks.make_from_construction(construction)
    side = wrappers.SideBias(tasks.make(PDM, dt=20), probs=[[1.0, 0.0]], block_dur=100)
    assert "SideBias" in tasks.task_construction(side)["unrecorded"][0]


def test_cli_uses_the_recorded_task_and_takes_task_keywords(trained, tmp_path, capsys):
    """``noise-preference net.npz`` without --task sweeps the training task as it was built;
    ``--task-kwargs`` builds another construction (warning), bad JSON is refused."""
    path = trained.save(tmp_path / "pdm.npz")
    code = main(["noise-preference", str(path), "--sigmas", "0.5", "--backend", "numpy",
                 "--n-trials", "6", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    curve = json.loads(out)["curve"]
    want = noise_preference(trained, wrappers.Noise(_ngym_env(), std_noise=0.5), [0.5],
                            backend="numpy", n_trials=6, seed=0)
    np.testing.assert_allclose(curve["mean"], want.mean, rtol=1e-12)
    with pytest.warns(TaskMismatchWarning, match="sigma: 1.0 instead of 3.0"):
        code = main(["evaluate", str(path), "--task", PDM, "--task-kwargs", '{"sigma": 1.0}',
                     "--backend", "numpy", "--n-trials", "4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    for bad, message in (("[1, 2]", "JSON object"), ("{sigma: 1}", "JSON object"),
                         ('{"dt": 10}', "must not set dt")):
        code = main(["evaluate", str(path), "--task", PDM, "--task-kwargs", bad])
        _, err = capsys.readouterr()
        assert code == 2 and "--task-kwargs" in err and message in err, err


def test_a_task_that_could_not_be_recorded_falls_back_with_a_warning():
    """Trained on a task with a keyword that is not JSON data: asking for the training task
    uses the id's default construction and says so (a TaskMismatchWarning), instead of
    silently (or failing where the old id-only behaviour worked)."""
    env = tasks.make("FunctionApproximation-v0", dt=20, function=np.cos)
    spec = train(env, n_hidden=4, steps=2, batch_size=4, seed=0, progress=False).spec
    with pytest.warns(TaskMismatchWarning, match=r"could not be recorded.*default keywords"):
        rebuilt = task_env(spec, None)
    assert tasks.task_name(rebuilt) == "FunctionApproximation-v0"
