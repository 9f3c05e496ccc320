"""Yang19Multitask-v0: rule inputs of batches (fast); one network trained on the suite (slow).

The slow checks train a noise-free network through the rule inputs and compare its decision
accuracy with baselines computed on the same evaluation batch (run with
``pytest -m slow tests/test_multitask_training.py``).
"""

import numpy as np
import pytest

from brian_noisy_rnn import Noise, tasks
from brian_noisy_rnn.bridges import train
from brian_noisy_rnn.evaluation.scoring import evaluate_per_trial
from brian_noisy_rnn.tasks.multitask import YANG19_TASKS

MULTITASK = "Yang19Multitask-v0"


def rule_channels(env):
    """Indices of the rule inputs in the observation vector."""
    return np.asarray(env.unwrapped.observation_space.name["rule"])


def test_batch_rule_inputs_are_one_hot_constant_and_name_the_task():
    env = tasks.make(MULTITASK, dt=20)
    b = tasks.batch(env, 64, seed=3)
    rule = rule_channels(env)
    assert len(rule) == len(YANG19_TASKS) and b.n_in == 33 + len(YANG19_TASKS)
    seen = set()
    for i, trial in enumerate(b.trials):
        n = b.lengths[i]
        r = b.inputs[:n, i][:, rule]  # (n, n_tasks), valid steps only
        k = trial["task_index"]
        expected = np.zeros(len(rule))
        expected[k] = 1.0
        # one-hot, the same on every valid step, and pointing at the trial's task
        np.testing.assert_array_equal(r, np.broadcast_to(expected, r.shape))
        assert YANG19_TASKS[k] == trial["task"]
        assert not b.inputs[n:, i].any()  # padding carries no rule (nor anything else)
        seen.add(trial["task"])
    # 64 uniform draws from 20 tasks: expected 19.2 distinct tasks, P(fewer than 10) < 1e-9
    assert len(seen) >= 10


def most_common_class_accuracy(batch):
    """Accuracy of always answering the most frequent target class of the scored steps."""
    _, counts = np.unique(batch.targets[batch.decision_mask], return_counts=True)
    return counts.max() / counts.sum()


#: Pro and anti reaches: same stimulus distribution and timing per pair, opposite answers.
REACH_TASKS = ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti")


@pytest.mark.slow
def test_network_trained_through_rule_inputs_beats_rule_free_baselines():
    # ~1.5 min on one core (64 units, 2500 steps; the report's 128-unit, 10000-step network
    # reaches 0.70 overall and 1.00 on the reaches). Measured here: accuracy 0.63 (baseline
    # 0.22), reaches 0.89.
    env = tasks.make(MULTITASK, dt=20)
    res = train(env, n_hidden=64, noise=Noise("none"), steps=2500, batch_size=32, lr=3e-3,
                seed=0, progress=False, log_every=500)
    ev = evaluate_per_trial(res.spec, env, backend="torch", n_trials=1000, seed=12345,
                            keep_outputs=True)
    b = ev.batch
    baseline = most_common_class_accuracy(b)
    correct = (ev.outputs.argmax(axis=-1) == b.targets) & b.decision_mask  # (T, B)
    reach = np.array([t["task"] in REACH_TASKS for t in b.trials])
    reach_accuracy = correct[:, reach].sum() / b.decision_mask[:, reach].sum()
    print(f"\nYang19 multitask accuracy {ev.metrics['accuracy']:.3f} (most-common-class "
          f"baseline {baseline:.3f}); pro/anti reaches {reach_accuracy:.3f} (rule-blind <= 0.5)")
    # The most common class on decision steps is fixation (no-go trials of dms/dnms/dmc/dnmc,
    # about 21%); the other steps are spread over 16 directions.
    assert baseline < 0.3
    assert ev.metrics["accuracy"] > baseline + 0.15
    # go/anti (and rtgo/rtanti, dlygo/dlyanti) show the same stimuli with the same timing and
    # ask for opposite directions: without the rule input at most half of these steps is right.
    assert reach.sum() > 200
    assert reach_accuracy > 0.7  # ~300 reach trials: 0.7 is ~7 s.e. above 0.5
