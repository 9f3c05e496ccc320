"""Tasks: make/list_tasks, our TrialEnvs' contents, and padded masked batches."""

from collections import deque

import numpy as np
import pytest
from brian2 import ms, mV
from neurogym.core import TrialEnv

from brian_noisy_rnn import tasks
from brian_noisy_rnn.tasks import batch, make

OURS = ["FunctionApproximation-v0", "MazeNavigation-v0", "MazeNavigationClosedLoop-v0",
        "PathIntegration2D-v0",
        "SingleNeuronRegulator-v0", "Yang19Multitask-v0"]


# -- make / list_tasks ----------------------------------------------------------------------
def test_list_tasks_ours_first_then_neurogym():
    ids = tasks.list_tasks()
    assert ids[: len(OURS)] == OURS
    assert "PerceptualDecisionMaking-v0" in ids
    assert "yang19.go-v0" in ids


def test_make_ours_and_neurogym():
    env = make("PerceptualDecisionMaking-v0", dt=20)
    assert isinstance(env, TrialEnv) and env.unwrapped is env and env.dt == 20
    for name in OURS:
        env = make(name)
        assert isinstance(env, TrialEnv) and env.unwrapped is env and env.dt == 20
        assert env.task_kind in ("regression", "classification") and env.__doc__
    wrapped = make("yang19.go-v0", dt=20)
    assert isinstance(wrapped.unwrapped, TrialEnv)


def test_our_ids_registered_with_neurogym():
    import neurogym as ngym

    env = ngym.make("FunctionApproximation-v0", dt=20)
    assert isinstance(env.unwrapped, tasks.FunctionApproximation)


def test_make_dt_quantity_and_validation():
    assert make("FunctionApproximation-v0", dt=20 * ms).dt == 20
    assert make("FunctionApproximation-v0", dt=0.5 * ms).dt == 0.5
    assert make("PerceptualDecisionMaking-v0", dt=100 * ms).dt == 100
    for bad in (0, -5, float("nan"), 0 * ms, -1 * ms):
        with pytest.raises(ValueError, match="dt"):
            make("FunctionApproximation-v0", dt=bad)
    with pytest.raises(TypeError, match="dt"):
        make("FunctionApproximation-v0", dt="20")
    with pytest.raises(TypeError, match="dt"):
        make("FunctionApproximation-v0", dt=20 * mV)


def test_make_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="FunctionApproximation-v0"):
        make("FunctionAproximation-v0")
    with pytest.raises(ValueError, match="PerceptualDecisionMaking-v0"):
        make("perceptualdecisionmaking")
    with pytest.raises(TypeError, match="name"):
        make(3)


# -- batch: validation, determinism, padding --------------------------------------------------
def test_batch_validation():
    env = make("FunctionApproximation-v0")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_trials"):
            batch(env, bad, seed=0)
    with pytest.raises(TypeError, match="env"):
        batch(object(), 2, seed=0)
    with pytest.raises(ValueError, match="seed"):
        batch(env, 2, seed=-1)


@pytest.mark.parametrize("name", [*OURS, "PerceptualDecisionMaking-v0", "yang19.dms-v0"])
def test_batch_deterministic_per_seed_and_different_across_seeds(name):
    a, b = batch(make(name), 6, seed=3), batch(make(name), 6, seed=3)
    c = batch(make(name), 6, seed=4)
    for field in ("inputs", "targets", "mask", "decision_mask"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.inputs.shape != c.inputs.shape or not np.array_equal(a.inputs, c.inputs)
    assert a.inputs.dtype == np.float64 and a.mask.dtype == bool and a.decision_mask.dtype == bool
    T, B = a.mask.shape
    assert a.inputs.shape[:2] == (T, B) == (a.n_steps, a.n_trials)
    if a.kind == "classification":
        assert a.targets.shape == (T, B) and a.targets.dtype == np.int64
        assert a.targets.max() < a.n_out
    else:
        assert a.targets.shape == (T, B, a.n_out) and a.targets.dtype == np.float64
    assert not (a.decision_mask & ~a.mask).any()
    assert a.decision_mask.any(axis=0).all()


@pytest.mark.parametrize("name", OURS)
def test_unwrapped_seed_makes_trials_reproducible(name):
    e1, e2 = make(name), make(name)
    e1.unwrapped.seed(7)
    e2.unwrapped.seed(7)
    for _ in range(3):
        e1.new_trial()
        e2.new_trial()
        np.testing.assert_array_equal(e1.ob, e2.ob)
        np.testing.assert_array_equal(e1.gt, e2.gt)


def test_padding_and_masks_on_variable_length_trials():
    env = make("Yang19Multitask-v0")
    b = batch(env, 24, seed=0)
    assert len(set(b.lengths.tolist())) > 1 and b.n_steps == b.lengths.max()
    assert b.inputs.shape[2] == 33 + 20 and b.n_out == 17
    for k, L in enumerate(b.lengths):
        assert b.mask[:L, k].all() and not b.mask[L:, k].any()
        assert not b.decision_mask[L:, k].any() and b.decision_mask[:L, k].any()
        assert (b.inputs[L:, k] == 0).all() and (b.targets[L:, k] == 0).all()
        rule = b.inputs[:L, k, 33:]
        assert (rule.sum(axis=1) == 1).all() and (rule.argmax(axis=1) == b.trials[k]["task_index"]).all()
        assert b.trials[k]["task"] == tasks.YANG19_TASKS[b.trials[k]["task_index"]]
        dec = np.flatnonzero(b.decision_mask[:, k])
        assert dec[-1] == L - 1 and np.all(np.diff(dec) == 1)  # decision period ends the trial
    assert len({t["task"] for t in b.trials}) > 5


def test_neurogym_classification_masks():
    b = batch(make("PerceptualDecisionMaking-v0", dt=20), 5, seed=1)
    assert b.kind == "classification" and b.n_out == 3 and b.inputs.shape[2] == 3
    assert b.mask.all()
    np.testing.assert_array_equal(b.decision_mask, b.targets != 0)  # choice only in decision period
    assert b.dt == 20.0


def test_to_torch():
    import torch

    b = batch(make("MazeNavigation-v0"), 3, seed=0)
    tb = b.to_torch()
    assert tb.inputs.dtype == torch.float32 and tb.targets.dtype == torch.int64
    assert tb.mask.dtype == torch.bool and tuple(tb.inputs.shape) == b.inputs.shape


# -- our tasks' contents ---------------------------------------------------------------------
def test_function_approximation_contents():
    b = batch(make("FunctionApproximation-v0"), 16, seed=0)
    assert b.inputs.shape == (40, 16, 1) and b.targets.shape == (40, 16, 1) and b.kind == "regression"
    x = b.inputs[0, :, 0]
    assert (np.abs(x) <= 1).all() and np.ptp(x) > 0.5
    np.testing.assert_array_equal(b.inputs[:, :, 0], np.broadcast_to(x, (40, 16)))
    np.testing.assert_allclose(b.targets[20:, :, 0], np.broadcast_to(np.sin(np.pi * x), (20, 16)))
    assert (b.targets[:20] == 0).all()
    assert not b.mask[:20].any() and b.mask[20:].all()
    np.testing.assert_array_equal(b.mask, b.decision_mask)
    np.testing.assert_allclose([t["x"] for t in b.trials], x)


def test_function_approximation_options():
    env = make("FunctionApproximation-v0", dt=10, function=lambda x: x**2, timing={"settle": 100})
    env.seed(0)
    trial = env.new_trial(x=0.5)
    assert env.ob.shape == (10 + 40, 1) and env.loss_mask.sum() == 40
    assert trial["target"] == 0.25 and (env.gt[10:, 0] == 0.25).all()
    with pytest.raises(TypeError, match="function"):
        make("FunctionApproximation-v0", function=3)
    with pytest.raises(ValueError, match="timing"):
        make("FunctionApproximation-v0", timing={"delay": 100})


def test_single_neuron_regulator_held_by_one_relu_unit():
    from brian_noisy_rnn.tasks.metrics import task_metrics

    b = batch(make("SingleNeuronRegulator-v0"), 32, seed=0)
    c = b.inputs[0, :, 0]
    assert b.inputs.shape == (40, 32, 1) and (c >= 0.1).all() and (c <= 1.0).all()
    np.testing.assert_allclose(b.targets[20:, :, 0], np.broadcast_to(c, (20, 32)))
    # one relu unit, w_in = 1, w_rec = 0, b = 0, w_out = 1, gamma = 0.2, readout after the update
    h, out = np.zeros(32), np.zeros((40, 32, 1))
    for t in range(40):
        h = 0.8 * h + 0.2 * np.maximum(b.inputs[t, :, 0], 0)
        out[t, :, 0] = h
    assert task_metrics(out, b)["mse"] < 1e-4


def _one_trial_at_a_time(env, n, seed):
    """What batch made before the vectorised path: n calls of new_trial(), stacked."""
    core = env.unwrapped
    core.seed(seed)
    trials, obs, gts, masks, dmasks = [], [], [], [], []
    for _ in range(n):
        trials.append(core.new_trial())
        obs.append(core.ob.copy())
        gts.append(core.gt.copy())
        masks.append(core.loss_mask.copy())
        dmasks.append(core.decision_mask.copy())
    return trials, *(np.stack(a, axis=1) for a in (obs, gts, masks, dmasks))


@pytest.mark.parametrize("name, kwargs", [
    ("FunctionApproximation-v0", {}),
    ("FunctionApproximation-v0", dict(dt=10, x_range=(-2.0, 0.5), timing={"settle": 70})),
    ("FunctionApproximation-v0", dict(function=lambda x: float(x[0]) ** 3)),  # not vectorised
    ("SingleNeuronRegulator-v0", {}),
    ("SingleNeuronRegulator-v0", dict(command_range=(0.3, 2.0), timing={"hold": 300})),
])
def test_vectorised_batches_equal_trial_by_trial_bit_for_bit(name, kwargs):
    n, seed = 37, 11
    env, ref = make(name, **kwargs), make(name, **kwargs)
    trials, ob, gt, mask, dmask = _one_trial_at_a_time(ref, n, seed)
    assert make(name, **kwargs).unwrapped.new_trials(2) is not None  # the path exists
    b = batch(env, n, seed=seed)
    np.testing.assert_array_equal(b.inputs, ob)
    np.testing.assert_array_equal(b.targets, gt)
    np.testing.assert_array_equal(b.mask, mask)
    np.testing.assert_array_equal(b.decision_mask, dmask)
    assert list(b.trials) == trials and (b.lengths == ob.shape[0]).all()
    # the env is left as n new_trial() calls leave it: random state, trial count, current trial
    core, rcore = env.unwrapped, ref.unwrapped
    assert core.rng.uniform() == rcore.rng.uniform() and core.num_tr == rcore.num_tr
    assert core.trial == rcore.trial
    for k in ("ob", "gt", "loss_mask", "decision_mask"):
        np.testing.assert_array_equal(getattr(core, k), getattr(rcore, k))


def test_random_timing_falls_back_to_trial_by_trial():
    env = make("FunctionApproximation-v0")
    env.unwrapped.timing["settle"] = ("uniform", (100, 300))
    assert env.unwrapped.new_trials(3) is None
    b = batch(env, 20, seed=0)
    assert len(set(b.lengths.tolist())) > 1  # random durations, padded


def _bfs_distances(adjacency, goal):
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        cell = queue.popleft()
        for nb in adjacency[cell]:
            if nb not in dist:
                dist[nb] = dist[cell] + 1
                queue.append(nb)
    return dist


def test_maze_shortest_paths_teacher_forcing():
    env = make("MazeNavigation-v0")
    n, (rows, cols) = env.n_cells, env.shape
    assert (n, rows, cols) == (25, 5, 5)
    assert sum(len(a) for a in env.adjacency) == 2 * (n - 1)  # spanning tree
    for cell, nbs in enumerate(env.adjacency):  # grid neighbours only
        r, c = divmod(cell, cols)
        assert all(abs(r - nb // cols) + abs(c - nb % cols) == 1 for nb in nbs)
    assert len(_bfs_distances(env.adjacency, 0)) == n  # all reachable
    delta = {0: 0, 1: -cols, 2: cols, 3: -1, 4: 1}
    b = batch(env, 12, seed=0)
    steps = 5  # 100 ms moves at dt = 20 ms
    assert b.inputs.shape == (env.n_moves * steps, 12, 2 * n) and b.n_out == 5
    assert b.extra_metrics == ("trial_accuracy",)
    for k, trial in enumerate(b.trials):
        goal, start = trial["goal"], trial["start"]
        dist = _bfs_distances(env.adjacency, goal)
        assert start != goal and trial["positions"][0] == start
        assert (b.inputs[:, k, n:].argmax(axis=1) == goal).all() and (b.inputs[:, k].sum(axis=1) == 2).all()
        pos = b.inputs[:, k, :n].argmax(axis=1)
        for m in range(env.n_moves):
            sl = slice(m * steps, (m + 1) * steps)
            cell, move = pos[sl.start], b.targets[sl.start, k]
            assert (pos[sl] == cell).all() and (b.targets[sl, k] == move).all()
            assert b.decision_mask[sl, k].tolist() == [False, False, True, True, True]
            if cell == goal:
                assert move == 0
            else:
                nxt = cell + delta[int(move)]
                assert move != 0 and nxt in env.adjacency[cell] and dist[nxt] == dist[cell] - 1
                assert pos[sl.stop] == nxt  # teacher forcing follows the move
        assert pos[-1] == goal and dist[start] == len(trial["path"]) - 1
    assert b.mask.all()


def test_maze_seed_changes_layout():
    assert make("MazeNavigation-v0", maze_seed=1).adjacency == make("MazeNavigation-v0", maze_seed=1).adjacency
    assert make("MazeNavigation-v0", maze_seed=1).adjacency != make("MazeNavigation-v0", maze_seed=2).adjacency


@pytest.mark.parametrize("arena_size", [1.0, 0.1])
def test_path_integration_targets_are_integrated_inputs(arena_size):
    env = make("PathIntegration2D-v0", arena_size=arena_size)
    b = batch(env, 8, seed=0)
    assert b.inputs.shape == (50, 8, 2) and b.targets.shape == (50, 8, 2) and b.mask.all()
    dt_s = 0.02
    assert env.dt_seconds == dt_s
    np.testing.assert_allclose(np.cumsum(b.inputs * dt_s, axis=0), b.targets, atol=1e-12)
    assert (np.abs(b.targets) <= arena_size + 1e-12).all()
    speeds = np.linalg.norm(b.inputs, axis=-1)
    assert speeds.max() <= env.max_speed + 1e-9 and speeds.mean() > 0.3
    if arena_size < 0.5:  # walls hit: positions pile up at the border
        assert np.isclose(np.abs(b.targets), arena_size).any()


def test_gym_step_interface_runs():
    env = make("FunctionApproximation-v0")
    env.reset(seed=0)
    for _ in range(45):
        ob, reward, *_ = env.step(np.zeros(1))
        assert ob.shape == (1,) and np.isfinite(reward)
