"""A good NeuroGym citizen: NeuroGym's own performance, closed-loop play in wrapped envs,
wrappers honoured or refused, task default dt, float32 inputs from ``neurogym.Dataset``."""

import warnings

import numpy as np
import pytest
import torch
from brian2 import ms
from neurogym import wrappers

from brian_noisy_rnn import Noise, evaluate, tasks
from brian_noisy_rnn.bridges import TorchCTRNN, train
from brian_noisy_rnn.evaluation import closed_loop, evaluate_per_trial, noise_preference, play
from brian_noisy_rnn.tasks import metrics

from conftest import random_spec

RT_TASK = "perceptualdecisionmaking.roitman02-v0"  # PerceptualDecisionMaking + ReactionTime
N = 24


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(env.seed|render_modes|get variables).*")
        yield


def _spec_for(env, n_in=None, n_out=None, noise=None, seed=1):
    probe_in, probe_out = n_in, n_out
    if probe_in is None:
        b = tasks.batch(env, 2, seed=0)
        probe_in, probe_out = b.n_in, b.n_out
    dt = env.unwrapped.dt
    return random_spec(16, probe_in, probe_out, dt=dt * ms, tau=4 * dt * ms,
                       noise=Noise("pre", 0.3) if noise is None else noise, seed=seed)


# --- scripted policies -----------------------------------------------------------------------
def _oracle(gt, t):
    return gt[t]


def _late(gt, t):
    """The ground truth one step late (fixate at the first step)."""
    return gt[t - 1] if t > 0 else 0


def _neurogym_reference(env, policy, n_trials, seed):
    """Per-trial performance from stepping ``env`` itself, NeuroGym's way: seed, first trial,
    then ``env.step`` until ``info["new_trial"]`` (which also generates the next trial)."""
    env.reset()
    core = env.unwrapped
    core.seed(seed)
    core.new_trial()
    core.t = core.t_ind = 0
    core.performance = 0
    perf, t = [], 0
    while len(perf) < n_trials:
        info = env.step(policy(core.gt, t))[4]
        t += 1
        if info["new_trial"]:
            perf.append(info["performance"])
            t = 0
    return np.array(perf, dtype=float)


def _play_policy(policy, n_out):
    def act(observations, step, envs):
        out = np.zeros((len(envs), n_out))
        for b, env in enumerate(envs):
            gt = env.unwrapped.gt  # an ended trial's env already holds its next trial
            out[b, policy(gt, step) if step < len(gt) else 0] = 1.0
        return out

    return act


@pytest.mark.parametrize("policy", [_oracle, _late], ids=["oracle", "one_step_late"])
def test_readysetgo_performance_equals_neurogym_on_scripted_policies(policy):
    ref = _neurogym_reference(tasks.make("ReadySetGo-v0"), policy, N, seed=7)
    b = tasks.batch(tasks.make("ReadySetGo-v0"), N, seed=7)
    actions = np.stack([[policy(b.targets[:, i], t) for i in range(N)] for t in range(b.n_steps)])
    logits = np.eye(b.n_out)[actions] * 5.0
    per_trial = metrics.per_trial_metrics(logits, b)
    np.testing.assert_array_equal(per_trial["performance"], ref)
    played = play(tasks.make("ReadySetGo-v0"), _play_policy(policy, 2), n_trials=N, seed=7)
    np.testing.assert_array_equal(played.performance, ref)
    # NeuroGym counts a production inside its window: both policies score 1 there, while our
    # accuracy (the single "go" step) is 1 for the oracle and 0 one step late
    assert ref.mean() == 1.0
    assert per_trial["accuracy"].mean() == (1.0 if policy is _oracle else 0.0)


@pytest.mark.parametrize("policy", [_oracle, _late, lambda gt, t: 0],
                         ids=["oracle", "one_step_late", "never_responds"])
def test_reaction_time_task_performance_equals_neurogym(policy):
    env = tasks.make(RT_TASK)
    assert type(env).__name__ == "ReactionTime"  # make keeps the step-level wrapper
    ref = _neurogym_reference(tasks.make(RT_TASK), policy, N, seed=3)
    played = play(env, _play_policy(policy, 3), n_trials=N, seed=3)
    np.testing.assert_array_equal(played.performance, ref)
    if policy is _oracle:  # answers at the first stimulus step, as ReactionTime allows
        assert ref.mean() == 1.0
        assert np.all(played.lengths < tasks.batch(tasks.make("PerceptualDecisionMaking-v0"),
                                                   N, seed=3).lengths)


# --- closed loop equals batch ------------------------------------------------------------------
CLOSED_LOOP_TASKS = ["PerceptualDecisionMaking-v0", "ReadySetGo-v0", "GoNogo-v0",
                     "DelayMatchSample-v0", "ContextDecisionMaking-v0", "yang19.dms-v0"]


@pytest.mark.parametrize("name", CLOSED_LOOP_TASKS)
def test_closed_loop_equals_batch_with_noise(name):
    """With noise on, the closed loop draws the batch path's xi stream: the outputs agree on
    every step played (to float precision) and the performance trial by trial."""
    env = tasks.make(name)
    spec = _spec_for(env)
    ev = evaluate_per_trial(spec, env, backend="numpy", n_trials=N, seed=5, keep_outputs=True)
    for backend in ("numpy", "torch"):
        res = closed_loop(spec, env, backend=backend, n_trials=N, seed=5)
        T = res.outputs.shape[0]
        played = np.arange(T)[:, None] < res.lengths[None]
        np.testing.assert_allclose(res.outputs[played], ev.outputs[:T][played], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(res.inputs[played], ev.batch.inputs[:T][played])
        np.testing.assert_array_equal(res.performance, ev.per_trial["performance"])
        assert res.metrics["performance"] == pytest.approx(ev.metrics["performance"])


@pytest.mark.parametrize("name", ["PerceptualDecisionMaking-v0", "ReadySetGo-v0"])
def test_closed_loop_brian2_equals_numpy(name):
    env = tasks.make(name)
    spec = _spec_for(env)
    ref = closed_loop(spec, env, backend="numpy", n_trials=8, seed=2)
    res = closed_loop(spec, env, backend="brian2", n_trials=8, seed=2)
    np.testing.assert_array_equal(res.lengths, ref.lengths)
    np.testing.assert_array_equal(res.performance, ref.performance)
    np.testing.assert_allclose(res.outputs, ref.outputs, rtol=0, atol=1e-12)


def test_closed_loop_leaves_env_alone_and_is_reproducible():
    env = tasks.make("ReadySetGo-v0")  # its timing lambdas close over the env itself
    spec = _spec_for(env)
    state = env.rng.get_state()[1].copy()
    a = closed_loop(spec, env, backend="numpy", n_trials=6, seed=1)
    b = closed_loop(spec, env, backend="numpy", n_trials=6, seed=1)
    np.testing.assert_array_equal(env.rng.get_state()[1], state)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.outputs, b.outputs)


# --- wrappers: honoured or refused --------------------------------------------------------------
def _pdm():
    return tasks.make("PerceptualDecisionMaking-v0", dt=20)  # dt < the default tau of train


STEP_LEVEL = {
    "PassAction": lambda: wrappers.PassAction(_pdm()),
    "PassReward": lambda: wrappers.PassReward(_pdm()),
    "ReactionTime": lambda: wrappers.ReactionTime(_pdm()),
    "Noise": lambda: wrappers.Noise(_pdm(), std_noise=5.0),
}
#: the step-level wrappers a batch cannot honour (it honours observation Noise)
REFUSED = sorted(set(STEP_LEVEL) - {"Noise"})


@pytest.mark.parametrize("wrapper", REFUSED)
def test_batch_refuses_step_level_wrappers(wrapper):
    env = STEP_LEVEL[wrapper]()
    with pytest.raises(ValueError, match=f"{wrapper}.*closed_loop"):
        tasks.batch(env, 4, seed=0)
    with pytest.raises(ValueError, match=wrapper):
        train(env, n_hidden=4, noise=Noise("none"), seed=0, steps=1, batch_size=4, progress=False)


def test_batch_refuses_monitor_and_wrappers_inside_trial_wrappers(tmp_path):
    with pytest.raises(ValueError, match="Monitor"):
        tasks.batch(wrappers.Monitor(_pdm(), save_dir=str(tmp_path)), 2, seed=0)
    inner = wrappers.RandomGroundTruth(wrappers.PassAction(_pdm()))
    with pytest.raises(ValueError, match="PassAction"):
        tasks.batch(inner, 2, seed=0)


def test_train_with_pass_action_does_not_silently_drop_a_channel():
    env = wrappers.PassAction(_pdm())
    assert env.observation_space.shape == (4,)
    with pytest.raises(ValueError, match="PassAction"):
        train(env, n_hidden=4, noise=Noise("none"), seed=0, steps=1, batch_size=4, progress=False)


def test_closed_loop_honours_pass_action_pass_reward_and_noise():
    spec5 = _spec_for(_pdm(), n_in=4, n_out=3)  # PDM has 3 channels, PassAction adds one
    res = closed_loop(spec5, STEP_LEVEL["PassAction"](), backend="numpy", n_trials=8, seed=0)
    assert res.inputs.shape[2] == 4
    for b in range(8):
        L = res.lengths[b]
        np.testing.assert_array_equal(res.inputs[1:L, b, 3], res.actions[: L - 1, b])
        assert res.inputs[0, b, 3] == 0  # the boundary step into the trial is "fixate"
    with pytest.raises(ValueError, match="spec has n_in=3.*4 channels"):
        closed_loop(_spec_for(_pdm()), STEP_LEVEL["PassAction"](), backend="numpy", n_trials=2,
                    seed=0)
    res = closed_loop(spec5, STEP_LEVEL["PassReward"](), backend="torch", n_trials=8, seed=0)
    assert set(np.unique(res.inputs[..., 3])) <= {0.0, -0.1, 1.0}  # PDM's rewards
    spec = _spec_for(_pdm())
    plain = closed_loop(spec, _pdm(), backend="numpy", n_trials=8, seed=0)
    noisy = closed_loop(spec, STEP_LEVEL["Noise"](), backend="numpy", n_trials=8, seed=0)
    diff = noisy.inputs[1:5] - plain.inputs[1:5]  # same trials, plus NeuroGym's input noise
    assert 3.0 < diff.std() < 7.0


def test_trial_level_wrappers_are_honoured_by_the_batch():
    env = wrappers.SideBias(_pdm(), probs=[[1.0, 0.0]], block_dur=1000)
    b = tasks.batch(env, 16, seed=0)
    assert all(tr["ground_truth"] == env.unwrapped.choices[0] for tr in b.trials)
    spec = _spec_for(env)
    ev = evaluate_per_trial(spec, env, backend="numpy", n_trials=8, seed=1)
    res = closed_loop(spec, env, backend="numpy", n_trials=8, seed=1)
    np.testing.assert_array_equal(res.performance, ev.per_trial["performance"])


# --- metrics and curves ---------------------------------------------------------------------------
def test_noise_preference_on_any_metric_of_the_task():
    env = _pdm()
    spec = _spec_for(env, noise=Noise("pre", 0.2))
    kw = dict(backend="numpy", n_trials=16, seed=0)
    by_ce = noise_preference(spec, env, [0.4], metric="cross_entropy", **kw)
    assert by_ce.metric == "cross_entropy" and not by_ce.higher_is_better
    assert "accuracy" in by_ce.other_metrics and "performance" in by_ce.other_metrics
    by_perf = noise_preference(spec, env, [0.4], metric="performance", **kw)
    assert by_perf.metric == "performance" and by_perf.higher_is_better
    np.testing.assert_allclose(by_perf.mean, by_ce.other_metrics["performance"][0])
    with pytest.raises(ValueError, match="metric must be one of"):
        noise_preference(spec, env, [0.4], metric="mse", **kw)


def test_our_tasks_have_no_neurogym_performance():
    b = tasks.batch(tasks.make("FunctionApproximation-v0"), 3, seed=0)
    assert "performance" not in metrics.task_metrics(np.zeros(b.output_shape), b)


# --- make's default dt, float32 inputs -------------------------------------------------------------
def test_make_uses_the_tasks_own_default_dt():
    import neurogym as ngym

    for name in ("PerceptualDecisionMaking-v0", "ReadySetGo-v0"):
        assert tasks.make(name).dt == ngym.make(name).unwrapped.dt
    assert tasks.make("ReadySetGo-v0").dt == 80
    assert tasks.make("FunctionApproximation-v0").dt == 20
    assert tasks.make("PerceptualDecisionMaking-v0", dt=20 * ms).dt == 20


def test_torch_module_accepts_float32_and_float64_inputs():
    spec = random_spec(8, 3, 2)
    x = np.random.default_rng(0).normal(size=(6, 2, 3))
    model = TorchCTRNN.from_spec(spec)  # float64
    out64 = model(torch.from_numpy(x))[0]
    out32 = model(torch.from_numpy(x.astype(np.float32)))[0]
    assert out32.dtype == torch.float64
    np.testing.assert_allclose(out32.detach().numpy(), out64.detach().numpy(), atol=1e-6)
    m32 = TorchCTRNN.from_spec(spec, dtype=torch.float32)
    assert m32(torch.from_numpy(x))[0].dtype == torch.float32


def test_dataset_example_runs():
    """examples/neurogym_dataset_training.py, shortened: it asserts torch-Brian2 parity and
    equal performance on the batch and closed-loop paths itself."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "neurogym_dataset_training.py"
    out = subprocess.run([sys.executable, str(script), "--steps", "20", "--trials", "16"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "closed loop (Brian2)" in out.stdout


def test_batch_and_training_honour_observation_noise():
    """NeuroGym's observation ``Noise`` wrapper (it was refused, issue 23): a batch has the
    trials of the unwrapped env (same targets and masks) plus N(0, std_noise) on every
    valid input step, from a stream of the seed of its own; train runs through it. The
    noise's standard deviation over ~B*T*n_in = 64*~100*3 values is checked to 5% (its
    relative standard error is 1/sqrt(2 n) < 0.5%); padding steps stay 0."""
    plain = tasks.batch(_pdm(), 64, seed=3)
    noisy = tasks.batch(wrappers.Noise(wrappers.Noise(_pdm(), std_noise=3.0), std_noise=4.0),
                        64, seed=3)
    np.testing.assert_array_equal(noisy.targets, plain.targets)
    np.testing.assert_array_equal(noisy.mask, plain.mask)
    diff = noisy.inputs - plain.inputs
    valid = np.arange(diff.shape[0])[:, None] < plain.lengths[None, :]
    assert abs(diff[valid].std() / 5.0 - 1) < 0.05  # sqrt(3**2 + 4**2)
    assert np.all(diff[~valid] == 0)
    again = tasks.batch(wrappers.Noise(_pdm(), std_noise=5.0), 64, seed=3)
    np.testing.assert_array_equal(again.inputs, noisy.inputs)  # same stream of the seed
    result = train(wrappers.Noise(_pdm(), std_noise=1.0), n_hidden=4, seed=0, steps=2,
                   batch_size=4, progress=False)
    assert result.spec.n_in == 3 and result.spec.noise.placement == "none"  # default noise


def test_noise_inside_a_trial_wrapper_is_still_refused():
    """Observation noise under a trial-level wrapper would act on sub-task observations the
    batch does not see separately: refused, naming it."""
    env = wrappers.SideBias(wrappers.Noise(_pdm(), std_noise=1.0), probs=[[1.0, 0.0]],
                            block_dur=1000)
    with pytest.raises(ValueError, match="Noise"):
        tasks.batch(env, 2, seed=0)


def test_dataset_is_refused_naming_what_to_pass():
    import neurogym as ngym

    dataset = ngym.Dataset(_pdm(), batch_size=4, seq_len=20)
    for call in (lambda: tasks.batch(dataset, 2, seed=0),
                 lambda: train(dataset, n_hidden=4, seed=0, steps=1, progress=False),
                 lambda: evaluate(_spec_for(_pdm()), dataset, backend="numpy", n_trials=2)):
        with pytest.raises(TypeError, match=r"neurogym.Dataset.*dataset\.env"):
            call()


def test_train_on_a_fresh_schedule_of_collections_with_env_input():
    """``ScheduleEnvs(..., env_input=True)`` of NeuroGym collections (themselves
    ScheduleEnvs): train on a fresh one worked only after a first ``tasks.batch`` (issue 23:
    tensor size 33 vs 35). Every batch now has the rule inputs, whatever the sub-task the
    schedule switched to."""
    from neurogym.utils.scheduler import RandomSchedule

    def schedule():
        subtasks = [tasks.make("yang19.go-v0", dt=20), tasks.make("yang19.anti-v0", dt=20)]
        return wrappers.ScheduleEnvs(subtasks, RandomSchedule(2), env_input=True)

    env = schedule()
    n_in = env.observation_space.shape[0]
    assert {tasks.batch(env, 4, seed=s).inputs.shape[2] for s in range(4)} == {n_in}
    result = train(schedule(), n_hidden=4, seed=0, steps=2, batch_size=4, progress=False)
    assert result.spec.n_in == n_in
