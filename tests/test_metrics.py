"""Metrics: perfect outputs, hand-computed values, nmse normalisation, numpy vs torch agreement."""

import numpy as np
import pytest
import torch

from brian_noisy_rnn.tasks.metrics import (
    higher_is_better,
    loss_and_metric_names,
    per_trial_metrics,
    primary_metric,
    task_metrics,
    torch_loss,
)
from brian_noisy_rnn.tasks import TaskBatch, batch, make

DECISION_METRICS = ("decision_cross_entropy", "mse_onehot", "decision_mse_onehot")


def _manual_batch(kind, targets, mask, decision_mask=None, n_out=2, extra=()):
    targets = np.asarray(targets)
    T, B = np.asarray(mask).shape
    return TaskBatch(
        inputs=np.zeros((T, B, 1)), targets=targets, mask=np.asarray(mask, bool),
        decision_mask=np.asarray(mask if decision_mask is None else decision_mask, bool),
        kind=kind, n_out=n_out, lengths=np.full(B, T), dt=20.0, extra_metrics=extra,
    )


def _perfect_logits(b, scale=50.0):
    return scale * np.eye(b.n_out)[b.targets]


def test_perfect_outputs():
    cls = batch(make("MazeNavigation-v0"), 4, seed=0)
    m = task_metrics(_perfect_logits(cls), cls)
    assert set(m) == {"accuracy", "cross_entropy", "trial_accuracy", *DECISION_METRICS}
    assert m["accuracy"] == 1.0 and m["trial_accuracy"] == 1.0 and m["cross_entropy"] < 1e-15
    reg = batch(make("PathIntegration2D-v0"), 4, seed=0)
    m = task_metrics(reg.targets.copy(), reg)
    assert m == {"mse": 0.0, "nmse": 0.0}


def test_classification_hand_computed():
    # T=2, B=2, 2 classes; trial 0 scored on both steps, trial 1 only on step 1
    targets = [[0, 1], [1, 1]]
    mask = [[True, True], [True, True]]
    dmask = [[True, False], [True, True]]
    out = np.zeros((2, 2, 2))
    out[0, 0] = [2.0, 0.0]  # correct
    out[1, 0] = [1.0, 0.0]  # wrong (target 1)
    out[0, 1] = [0.0, 0.0]  # unscored; argmax 0 != 1
    out[1, 1] = [0.0, 3.0]  # correct
    b = _manual_batch("classification", targets, mask, dmask, extra=("trial_accuracy",))
    m = task_metrics(out, b)
    assert m["accuracy"] == pytest.approx(2 / 3)
    nll = [np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0)), np.log(2.0), np.log1p(np.exp(-3.0))]
    assert m["cross_entropy"] == pytest.approx(np.mean(nll))
    assert m["trial_accuracy"] == pytest.approx(0.5)
    per = per_trial_metrics(out, b)
    np.testing.assert_allclose(per["accuracy"], [0.5, 1.0])
    np.testing.assert_allclose(per["trial_accuracy"], [0.0, 1.0])
    np.testing.assert_allclose(per["cross_entropy"], [np.mean(nll[:2]), np.mean(nll[2:])])


def test_regression_hand_computed_and_nmse():
    # T=3, B=1, n_out=2; step 0 masked out (its error must not count)
    targets = np.array([[[9.0, 9.0]], [[1.0, 0.0]], [[3.0, 2.0]]])
    mask = [[False], [True], [True]]
    out = np.array([[[0.0, 0.0]], [[2.0, 0.0]], [[3.0, 0.0]]])
    b = _manual_batch("regression", targets, mask)
    m = task_metrics(out, b)
    assert m["mse"] == pytest.approx((1 + 0 + 0 + 4) / 4)
    var = np.mean([np.var([1.0, 3.0]), np.var([0.0, 2.0])])  # = 1
    assert m["nmse"] == pytest.approx(m["mse"] / var)
    # predicting each output's masked mean gives nmse = 1
    reg = batch(make("PathIntegration2D-v0"), 8, seed=1)
    mean = reg.targets[reg.mask].mean(axis=0)
    assert task_metrics(np.broadcast_to(mean, reg.targets.shape), reg)["nmse"] == pytest.approx(1.0)


def test_per_trial_mean_matches_pooled_for_equal_lengths():
    b = batch(make("FunctionApproximation-v0"), 10, seed=0)
    out = np.random.default_rng(0).normal(size=b.output_shape)
    pooled, per = task_metrics(out, b), per_trial_metrics(out, b)
    assert per["mse"].shape == (10,)
    assert per["mse"].mean() == pytest.approx(pooled["mse"])
    assert per["nmse"].mean() == pytest.approx(pooled["nmse"])


def test_accuracy_uses_decision_period_only():
    b = batch(make("PerceptualDecisionMaking-v0", dt=20), 6, seed=0)
    out = np.zeros(b.output_shape)
    out[..., 0] = 1.0  # always "fixate": right during fixation, wrong in the decision period
    m = task_metrics(out, b)
    assert m["accuracy"] == 0.0 and "trial_accuracy" not in m
    out[b.decision_mask] = _perfect_logits(b)[b.decision_mask]
    assert task_metrics(out, b)["accuracy"] == 1.0


@pytest.mark.parametrize("name", ["Yang19Multitask-v0", "FunctionApproximation-v0", "PathIntegration2D-v0"])
def test_numpy_and_torch_agree(name):
    b = batch(make(name), 6, seed=2)
    out = np.random.default_rng(1).normal(size=b.output_shape) * 2
    out[~b.mask] = np.nan  # padding/unmasked outputs must not leak into either
    loss_name, _ = loss_and_metric_names(b.kind)
    expected = task_metrics(out, b)[loss_name]
    t64 = torch.tensor(out, dtype=torch.float64, requires_grad=True)
    loss = torch_loss(t64, b.to_torch(dtype=torch.float64))
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert torch.isfinite(t64.grad).all() and (t64.grad[torch.as_tensor(~b.mask)] == 0).all()
    t32 = torch.tensor(out, dtype=torch.float32)
    assert torch_loss(t32, b).item() == pytest.approx(expected, rel=1e-5)  # TaskBatch converted
    assert task_metrics(t64, b)[loss_name] == pytest.approx(expected)  # torch input to numpy metrics


def test_shape_errors_name_outputs():
    b = batch(make("FunctionApproximation-v0"), 3, seed=0)
    with pytest.raises(ValueError, match=r"outputs.*\(40, 3, 1\)"):
        task_metrics(np.zeros((40, 3, 2)), b)
    with pytest.raises(ValueError, match="outputs"):
        per_trial_metrics(np.zeros((39, 3, 1)), b)
    with pytest.raises(ValueError, match=r"outputs.*\(40, 3, 1\)"):
        torch_loss(torch.zeros(40, 3), b.to_torch())


def test_names_and_primary_metric():
    assert primary_metric("classification") == ("accuracy", True)
    assert primary_metric("regression") == ("mse", False)
    assert loss_and_metric_names("classification") == ("cross_entropy", ("accuracy", "cross_entropy"))
    assert loss_and_metric_names("regression") == ("mse", ("mse", "nmse"))
    assert higher_is_better("trial_accuracy") and not higher_is_better("nmse")
    with pytest.raises(ValueError, match="kind"):
        primary_metric("ranking")
    with pytest.raises(ValueError, match="name"):
        higher_is_better("f1")


def test_decision_step_and_onehot_metrics_by_hand():
    """The decision-step cross-entropy leaves fixation steps out, and the one-hot squared
    error is (outputs - onehot)^2 averaged over outputs; both equal the per-trial means and
    the torch loss of the same name (the training loss of loss="mse_onehot")."""
    b = batch(make("PerceptualDecisionMaking-v0"), 6, seed=2)
    rng = np.random.RandomState(0)
    z = rng.randn(*b.targets.shape, b.n_out)
    m = task_metrics(z, b)
    logp = z - z.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, b.targets[..., None], -1)[..., 0]
    sq = ((z - np.eye(b.n_out)[b.targets]) ** 2).mean(-1)
    assert b.decision_mask.sum() < b.mask.sum()  # fixation steps exist and are left out
    assert m["decision_cross_entropy"] == pytest.approx(nll[b.decision_mask].mean(), rel=1e-12)
    assert m["decision_cross_entropy"] != pytest.approx(m["cross_entropy"], rel=1e-3)
    assert m["mse_onehot"] == pytest.approx(sq[b.mask].mean(), rel=1e-12)
    assert m["decision_mse_onehot"] == pytest.approx(sq[b.decision_mask].mean(), rel=1e-12)
    t = torch_loss(torch.tensor(z), b, loss="mse_onehot")
    assert float(t) == pytest.approx(m["mse_onehot"], rel=1e-12)
    with pytest.raises(ValueError, match="loss"):
        torch_loss(torch.tensor(z), b, loss="mse")  # a regression loss on a classification task
