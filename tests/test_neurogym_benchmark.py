"""The NeuroGym benchmark: task selection and exclusions, chance levels, the learning rule,
the report (table, CSV, heatmap) from a small synthetic results store, the CLI, and (slow)
``benchmark neurogym --quick`` end to end."""

import csv
import dataclasses
import io
import json
import math
import os

import numpy as np
import pytest
import neurogym as ngym
from brian2 import ms
from neurogym.core import TrialEnv

from brian_noisy_rnn import Noise
from brian_noisy_rnn.cli import main
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve, noise_preference
from brian_noisy_rnn.experiments import ResultStore
from brian_noisy_rnn.experiments.runner import RunReport
from brian_noisy_rnn.experiments import neurogym_benchmark as nb


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- tasks -------------------------------------------------------------------------------------

def test_every_exclusion_names_a_registry_id_and_collections_are_excluded_as_families():
    ids = nb.neurogym_task_ids()
    assert set(nb.EXCLUDED) <= set(ids)  # no stale names: each is in NeuroGym's registry
    for prefix in nb.EXCLUDED_COLLECTIONS:
        assert any(i.startswith(prefix) for i in ids)
    included, excluded = nb.select_tasks(
        ["PerceptualDecisionMaking-v0", "PulseDecisionMaking-v0", "Reaching1D-v0",
         "yang19.go-v0", "perceptualdecisionmaking.roitman02-v0", "ToneDetection-v0"])
    # 20 ms unless the task is defined on a finer grid (PulseDecisionMaking: 10 ms pulses)
    assert included == {"PerceptualDecisionMaking-v0": 20.0, "PulseDecisionMaking-v0": 10.0}
    assert "IndexError" in excluded["Reaching1D-v0"]
    assert "multitask" in excluded["yang19.go-v0"]
    assert "step-level" in excluded["perceptualdecisionmaking.roitman02-v0"]
    # found by the probe, not listed: NeuroGym never sets a ToneDetection performance
    assert "ToneDetection-v0" not in nb.EXCLUDED
    assert "performance 0 " in excluded["ToneDetection-v0"]


def test_a_task_that_fails_its_probe_is_excluded_with_the_error(monkeypatch):
    from brian_noisy_rnn import tasks

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tasks, "batch", broken)
    included, excluded = nb.select_tasks(["PerceptualDecisionMaking-v0"])
    assert not included and "RuntimeError: boom" in excluded["PerceptualDecisionMaking-v0"]


def test_chance_levels_of_a_choice_task_and_a_timing_task():
    pdm = nb.chance_level("PerceptualDecisionMaking-v0", 20.0, n_trials=120)
    # two equally likely answers: always giving one is right about half the time
    assert pdm["ceiling"] == 1.0 and 0.35 < pdm["chance"] < 0.65
    assert pdm["policy"].startswith("constant answer") and pdm["n_choices"] == 3
    rsg = nb.chance_level("ReadySetGo-v0", 20.0, n_trials=120)
    # the one answer is "go": replacing decision steps by it would be the oracle; the
    # stimulus-blind policy is another trial's timing
    assert rsg["policy"] == "another trial's ground truth"
    assert rsg["ceiling"] == 1.0 and 0.05 < rsg["chance"] < 0.7


class _ChoiceTask(TrialEnv):
    """Two answers, chosen in a 10-step decision period (20 ms steps) after fixation; the
    scorer is the subclass's ``_step``."""

    def __init__(self, dt=20):
        super().__init__(dt=dt)
        self.timing = {"fixation": 100, "decision": 200}
        self.observation_space = ngym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32,
                                                 name={"fixation": 0, "stimulus": [1, 2]})
        self.action_space = ngym.spaces.Discrete(3, name={"fixation": 0, "choice": [1, 2]})

    def _new_trial(self, **kwargs):
        trial = {"ground_truth": int(self.rng.choice([1, 2]))}
        self.add_period(["fixation", "decision"])
        self.add_ob(1, period="fixation", where="fixation")
        self.add_ob(1, period="decision", where=trial["ground_truth"])
        self.set_groundtruth(0, period="fixation")
        self.set_groundtruth(trial["ground_truth"], period="decision")
        return trial


class _HonestTask(_ChoiceTask):
    """Judges the first answer of the decision period, and ends the trial there."""

    def _step(self, action):
        new_trial = False
        if self.in_period("decision") and action != 0:
            new_trial = True
            self.performance = float(action == self.gt_now)
        return self.ob_now, 0.0, False, False, {"new_trial": new_trial, "gt": self.gt_now}


class _StickyTask(_ChoiceTask):
    """DualDelayMatchSample's bug: any correct decision step sets performance to 1, nothing
    ever sets it back, and the trial runs to its end."""

    def _step(self, action):
        if self.in_period("decision") and action == self.gt_now:
            self.performance = 1
        return self.ob_now, 0.0, False, False, {"new_trial": False, "gt": self.gt_now}


def test_scorer_check_flags_a_performance_that_cannot_fall_once_set():
    """Random answers on 10 decision steps: accuracy ~0.5 per step; the sticky scorer gives
    1 - 0.5**10 ~ 1 (flagged: the difference ~0.5 is far beyond the 0.2 margin and 3 SE of
    ~0.02 over 300 trials); the honest one gives ~0.5 (difference ~0, SE ~0.03: within the
    margin with room to spare)."""
    sticky = nb.scorer_check(_StickyTask(), n_trials=300, seed=0)
    assert sticky["checked"] and sticky["flagged"]
    assert sticky["random"]["performance"] > 0.95 and sticky["random"]["accuracy"] < 0.6
    assert "random answers: performance" in sticky["reason"]
    honest = nb.scorer_check(_HonestTask(), n_trials=300, seed=0)
    assert honest["checked"] and not honest["flagged"] and honest["reason"] == ""
    assert abs(honest["random"]["diff"]) < 0.1 and honest["oracle"]["performance"] == 1.0
    # continuous actions have no decision-step accuracy to compare with
    assert not nb.scorer_check("ReachingDelayResponse-v0", n_trials=8)["checked"]
    with pytest.raises(ValueError, match="n_trials"):
        nb.scorer_check(_HonestTask(), n_trials=0)


@pytest.mark.slow
def test_scorer_check_flags_dual_delay_match_sample_among_the_benchmark_tasks():
    from brian_noisy_rnn import tasks

    flagged = [t for t, dt in nb.select_tasks()[0].items()
               if nb.scorer_check(tasks.make(t, dt=dt), n_trials=200)["flagged"]]
    assert flagged == ["DualDelayMatchSample-v0"]


@pytest.mark.parametrize("perf, sem, chance, ceiling, learned", [
    (0.90, 0.01, 0.5, 1.0, True),
    (0.70, 0.01, 0.5, 1.0, False),      # above chance, but < 50% of the way to the ceiling
    (0.80, 0.11, 0.5, 1.0, False),      # 60% of the way, but within 3 standard errors
    (0.80, float("nan"), 0.5, 1.0, True),
    (0.9, 0.01, 0.5, 0.5, False),       # a task whose ceiling is chance teaches nothing
    (float("nan"), 0.01, 0.5, 1.0, False),
    (0.7, 0.01, 0.33, float("nan"), True),   # unknown ceiling counts as 1
    (0.6, 0.01, 0.33, float("nan"), False),  # 0.27 < 0.5 * (1 - 0.33)
])
def test_learning_rule(perf, sem, chance, ceiling, learned):
    assert nb.is_learned(perf, sem, chance, ceiling) is learned


def test_grids_one_per_time_step_units_and_loss_share_the_protocol():
    settings = nb.BenchmarkSettings(seeds=(0, 1, 2), steps=5, cap_steps=9, n_trials=7,
                                    more_units=(("DelayMatchSample-v0", 128),))
    included = {"PerceptualDecisionMaking-v0": 20.0, "PulseDecisionMaking-v0": 10.0,
                "DelayMatchSample-v0": 20.0, "ReachingDelayResponse-v0": 20.0}
    kinds = {t: "classification" for t in included} | {"ReachingDelayResponse-v0": "regression"}
    grids = nb.benchmark_grids(settings, included, kinds)
    got = [(g.network["dt_ms"], g.network["n_hidden"], g.training.get("loss"), g.tasks)
           for g in grids]
    # mse_onehot only for classification tasks; more units where settings say so
    assert got == [
        (10.0, 64, None, ("PulseDecisionMaking-v0",)),
        (10.0, 64, "mse_onehot", ("PulseDecisionMaking-v0",)),
        (20.0, 64, None, ("PerceptualDecisionMaking-v0", "ReachingDelayResponse-v0")),
        (20.0, 64, "mse_onehot", ("PerceptualDecisionMaking-v0",)),
        (20.0, 128, None, ("DelayMatchSample-v0",)),
        (20.0, 128, "mse_onehot", ("DelayMatchSample-v0",))]
    for g in grids:
        assert g.placements == ("pre", "post") and g.seeds == (0, 1, 2)
        assert g.train_sigmas == nb.SIGMA_TRAINS and g.training["steps"] == 5
        assert g.test_sigmas == nb.TEST_SIGMAS and g.name == settings.name
        assert max(g.test_sigmas) >= 2.5 * max(g.train_sigmas)
    assert len(grids[2].cells()) == 2 * 2 * 2 * 3
    # stage 2: the cap, and only the networks that missed
    keep = {nb.network_id(grids[2].cells()[0].config), nb.network_id(grids[3].cells()[5].config)}
    second = nb.benchmark_grids(settings, included, kinds, stage=2, keep=keep)
    assert [len(g.cells()) for g in second] == [1, 1]
    assert all(g.training["steps"] == 9 for g in second)
    assert {nb.network_id(c.config) for g in second for c in g.cells()} == keep
    first_keys = {c.key for g in grids for c in g.cells()}
    assert not first_keys & {c.key for g in second for c in g.cells()}


# --- curves keep paired differences of every metric ------------------------------------------

def test_curves_keep_paired_differences_of_every_metric(make_spec):
    spec = make_spec(6, n_in=3, n_out=3, dt=20 * ms, noise=Noise("pre", 1.0), seed=3)
    curve = noise_preference(spec, "PerceptualDecisionMaking-v0", [0.5, 1.0], backend="numpy",
                             n_trials=16, seed=2)
    assert set(curve.paired_vs_zero) == {"accuracy", "cross_entropy", "performance",
                                         "decision_cross_entropy", "mse_onehot",
                                         "decision_mse_onehot"}
    d, e = curve.difference(1.0, 0.0)  # the primary metric: as difference() computes it
    mean, sem = curve.paired_vs_zero["accuracy"]
    assert mean[curve.index_of(1.0)] == pytest.approx(d) and mean[0] == 0.0
    back = NoisePreferenceCurve.from_dict(curve.to_dict())
    for name, (m, s) in curve.paired_vs_zero.items():
        np.testing.assert_array_equal(back.paired_vs_zero[name][0], m)
    ce = back.with_metric("cross_entropy")
    assert ce.metric == "cross_entropy" and not ce.higher_is_better
    np.testing.assert_array_equal(ce.mean, curve.other_metrics["cross_entropy"][0])
    assert set(ce.other_metrics) == {"accuracy", "performance", "decision_cross_entropy",
                                     "mse_onehot", "decision_mse_onehot"}
    with pytest.raises(ValueError, match="name must be one of"):
        curve.with_metric("mse")


# --- report from a synthetic store ---------------------------------------------------------------

SIGMAS = [0.0, 0.5, 1.0, 2.0]
PDM, DMS = "PerceptualDecisionMaking-v0", "DelayMatchSample-v0"
SETTINGS = nb.BenchmarkSettings(tasks=(PDM, DMS), seeds=(0, 1), sigma_trains=(1.0,),
                                losses=(None,), test_sigmas=tuple(SIGMAS), steps=10,
                                cap_steps=20, yang19=False, name="synthetic")
KINDS = {PDM: "classification", DMS: "classification"}


def _curve(task, placement, seed, acc, dloss, perf):
    """A recorded-looking curve: ``acc`` / ``dloss`` / ``perf`` are the means over the
    sigmas (standard error 0.01 each; paired differences from the means, SE 0.01)."""
    n = len(SIGMAS)
    sem = np.full(n, 0.01)
    metrics = {"accuracy": acc, "decision_cross_entropy": dloss, "performance": perf,
               "cross_entropy": dloss}
    return NoisePreferenceCurve(
        sigmas=np.array(SIGMAS), metric="accuracy", higher_is_better=True,
        mean=np.array(acc, dtype=float), sem=sem, n_trials=100, placement=placement,
        process="white", sigma_train=1.0, train_placement=placement, backend="torch",
        seed=seed, task=task,
        other_metrics={k: (np.array(v, dtype=float), sem) for k, v in metrics.items()
                       if k != "accuracy"},
        paired_vs_zero={k: (np.array(v, dtype=float) - v[0], sem) for k, v in metrics.items()})


#: (task, placement, stage) -> (accuracy, decision loss, performance) over SIGMAS
SYNTHETIC = {
    # learned in stage 1; inside f prefers sigma_train on both measures
    (PDM, "pre", 1): ([.9, .9, .9, .9], [.5, .4, .3, .45], [.7, .8, .9, .85]),
    # outside f: decision loss prefers 0; performance ties between 0 and 0.5 (within 1 SE)
    (PDM, "post", 1): ([.9, .9, .9, .9], [.3, .35, .4, .5], [.9, .895, .8, .7]),
    # at chance after stage 1; learned in stage 2, where its loss ties over 0, 0.5, 1
    (DMS, "pre", 1): ([.5, .5, .5, .5], [.7, .7, .7, .7], [.5, .5, .5, .5]),
    (DMS, "pre", 2): ([.85, .85, .85, .85], [.40, .405, .401, .5], [.8, .8, .8, .8]),
    # missed both stages
    (DMS, "post", 1): ([.5, .5, .5, .5], [.7, .7, .7, .7], [.5, .5, .5, .5]),
    (DMS, "post", 2): ([.52, .52, .52, .52], [.69, .7, .7, .7], [.5, .5, .5, .5]),
}
CHANCE = {PDM: {"chance": 0.5, "accuracy_chance": 0.5, "policy": "constant answer 1",
                "ceiling": 1.0, "n_choices": 3},
          DMS: {"chance": 0.5, "accuracy_chance": 0.5, "policy": "x", "ceiling": 1.0,
                "n_choices": 3}}


@pytest.fixture
def store(tmp_path):
    """A results database: two tasks x pre/post x 2 seeds, stage 1 for all, stage 2 for the
    DelayMatchSample networks (which miss the criterion in stage 1)."""
    spec_path = tmp_path / "spec.npz"
    spec_path.write_bytes(b"x")
    included = {t: 20.0 for t in SETTINGS.tasks}
    first = nb.benchmark_grids(SETTINGS, included, KINDS)
    keep = {nb.network_id(c.config) for g in first for c in g.cells() if c.config["task"] == DMS}
    second = nb.benchmark_grids(SETTINGS, included, KINDS, stage=2, keep=keep)
    db = tmp_path / "results.sqlite"
    with ResultStore(db) as s:
        for stage, grids in ((1, first), (2, second)):
            for cell in (c for g in grids for c in g.cells()):
                cfg = cell.config
                curve = _curve(cfg["task"], cfg["placement"], cfg["seed"],
                               *SYNTHETIC[(cfg["task"], cfg["placement"], stage)])
                s.record(cell, {"curve": curve.to_dict(), "summary": curve.summary()},
                         spec_path, "h")
    return db


def _selected(store):
    with ResultStore(store, readonly=True) as s:
        curves = s.curves()
    return curves, nb.select_networks(curves, CHANCE, SETTINGS)


def test_two_stages_the_second_replaces_a_network_that_missed(store):
    curves, (selected, missed) = _selected(store)
    assert len(curves) == 8 + 4 and len(selected) == 8
    stages = {(c.task, c.train_placement): c.stage for c in selected}
    assert stages == {(PDM, "pre"): 1, (PDM, "post"): 1, (DMS, "pre"): 2, (DMS, "post"): 2}
    assert nb.missed_for_stage2(curves, CHANCE, SETTINGS) == {
        (DMS, p, 1.0, seed, None) for p in ("pre", "post") for seed in (0, 1)}
    # the networks that missed both, with what was tried
    assert [(c.task, c.train_placement) for c in missed] == [(DMS, "post")] * 2
    text = nb.format_missed(missed, CHANCE)
    assert text.count("tried 10 then 20 steps") == 2 and "accuracy 0.52 (chance 0.5)" in text


def test_a_network_whose_training_failed_counts_as_not_learned_and_is_listed(tmp_path, store):
    """A network without a result (its training diverged) is not silently left out: it
    counts as not learned in its row (so one learned of three is no majority), the table
    shows it, and the missed list says why; a failed second stage keeps the first."""
    curves, (selected, missed) = _selected(store)
    included = {t: 20.0 for t in SETTINGS.tasks}
    first = [c for g in nb.benchmark_grids(SETTINGS, included, KINDS) for c in g.cells()]
    # a third seed of PDM pre: in the protocol, no result; one error recorded for it
    three = dataclasses.replace(SETTINGS, seeds=(0, 1, 2))
    extra = [c for g in nb.benchmark_grids(three, included, KINDS) for c in g.cells()
             if c.config["seed"] == 2 and c.config["task"] == PDM]
    diverged = next(c for c in extra if c.config["placement"] == "pre")
    second = [c for g in nb.benchmark_grids(SETTINGS, included, KINDS, stage=2, keep={
        nb.network_id(c.config) for c in first if c.config["task"] == DMS}) for c in g.cells()]
    errors = {diverged.key: "FloatingPointError: training loss became nan at step 175",
              second[0].key: "FloatingPointError: nan at step 900"}
    failed = nb.failed_networks(first + extra + second, selected, errors, KINDS)
    no_result = [f for f in failed if not f["has_result"]]
    assert [(f["task"], f["placement"], f["seed"], f["error"] is None) for f in no_result] == [
        (PDM, "post", 2, True), (PDM, "pre", 2, False)]
    assert [f for f in failed if f["has_result"]][0]["steps"] == SETTINGS.cap_steps
    rows = nb.benchmark_rows(selected, CHANCE, failed=failed)
    pre = next(r for r in rows if (r["task"], r["placement"]) == (PDM, "pre"))
    assert (pre["n"], pre["failed"], pre["learned"]) == (2, 1, 2) and pre["task_learned"]
    table = nb.format_benchmark_table(rows)
    assert "| 2/3 (1 failed) |" in table
    text = nb.format_missed(missed, CHANCE, failed)
    assert (f"{PDM} pre σ_train 1 cross_entropy seed 2: no result: its 10-step training "
            "failed (FloatingPointError: training loss became nan at step 175)") in text
    assert f"{PDM} post σ_train 1 cross_entropy seed 2: no result: not run yet" in text
    assert "its 20-step training failed (FloatingPointError: nan at step 900); the other " \
        "stage's network is used" in text
    # a majority of the protocol's networks: 1 learned (seed 0) and 1 failed is none
    fewer = nb.benchmark_rows([c for c in selected if not (
        c.task == PDM and c.train_placement == "pre" and nb.report._config(c)["seed"] == 1)],
        CHANCE, failed=failed)
    assert not next(r for r in fewer if (r["task"], r["placement"]) == (PDM, "pre"))[
        "task_learned"]


def test_why_a_cell_failed_is_kept_for_later_reports(tmp_path):
    """failed.json gathers the failed cells of every invocation (a report-only run reads it
    and writes nothing)."""
    path = tmp_path / "failed.json"
    first = RunReport(cells=[], failed={"a": "nan at step 175"})
    assert nb.run._failures(path, [first], True) == {"a": "nan at step 175"}
    second = RunReport(cells=[], failed={"b": "nan at step 296"})
    both = {"a": "nan at step 175", "b": "nan at step 296"}
    assert nb.run._failures(path, [second], True) == both == json.loads(path.read_text())
    assert nb.run._failures(tmp_path / "ro.json", [first], False) == {"a": "nan at step 175"}
    assert not (tmp_path / "ro.json").exists()


def test_rows_table_csv_and_headline_show_ties_as_ties(store):
    _, (selected, _) = _selected(store)
    rows = nb.benchmark_rows(selected, CHANCE)
    assert [(r["task"], r["placement"]) for r in rows] == [
        (DMS, "pre"), (DMS, "post"), (PDM, "pre"), (PDM, "post")]
    dms_pre, dms_post, pre, post = rows
    assert pre["loss"] == "cross_entropy" and pre["dloss_metric"] == "decision_cross_entropy"
    assert pre["score_name"] == "performance" and pre["steps"] == [10, 10]
    assert pre["accuracy"] == [0.9, 0.9] and pre["learned"] == 2 and pre["task_learned"]
    assert pre["dloss_sets"] == [(1.0,), (1.0,)] and pre["dloss_verdicts"] == ["noise"] * 2
    assert post["dloss_verdicts"] == ["zero"] * 2
    # a tie is a tie: performance within 1 SE at 0 and 0.5, not "prefers 0"
    assert post["score_preferred"] == [0.0, 0.0] and post["score_sets"] == [(0.0, 0.5)] * 2
    assert post["score_verdicts"] == ["tie"] * 2 and post["score_ties"] == 2
    assert dms_pre["steps"] == [20, 20] and dms_pre["dloss_sets"] == [(0.0, 0.5, 1.0)] * 2
    assert dms_post["learned"] == 0 and not dms_post["task_learned"]
    assert pre["dloss_diff"] == pytest.approx(-0.2) and pre["dloss_signif"] == 1
    assert pre["dloss_diff_sem"] == pytest.approx(math.sqrt(2) * 0.01 / 2)
    assert (post["dloss_signif"], post["score_signif"]) == (-1, -1)
    assert pre["diagnostic"] is None

    table = nb.format_benchmark_table(rows)
    assert table.startswith("### σ_train = 1, loss cross_entropy")
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + 4
    assert "(not learned)" not in lines[1] and "(not learned)" in lines[2]
    assert "tie {0, 0.5, 1}; tie {0, 0.5, 1} (decision_cross_entropy)" in lines[1]
    assert "tie {0, 0.5}; tie {0, 0.5} (performance)" in lines[4]
    assert "**+** (2/0)" in lines[3] and lines[3].endswith("| pending |")
    # the decision-step loss at sigma_train beside accuracy and performance (PDM inside f:
    # 0.3 at sigma_train 1); no scorer check given: the column says so, never "ok"
    cells = [c.strip() for c in lines[3].split("|")]
    header = [c.strip() for c in lines[0].split("|")]
    assert cells[header.index("decision loss at σ_train")] == "0.3000 [0.300, 0.300]"
    assert cells[header.index("accuracy at σ_train")] == "0.900 [0.90, 0.90]"
    assert cells[header.index("scorer")] == "not checked"

    parsed = list(csv.DictReader(io.StringIO(nb.rows_to_csv(rows))))
    assert list(parsed[0]) == list(nb.CSV_COLUMNS) and len(parsed) == 4
    assert parsed[3]["score_sets"] == "0 0.5;0 0.5" and parsed[3]["score_verdicts"] == "tie;tie"

    (head,) = nb.headline(rows)
    assert head["tasks"] == 2 and head["learned"] == [PDM]
    assert head["pre_n"] == head["post_n"] == 2
    assert (head["pre_dloss_noise"], head["post_dloss_zero"]) == (2, 2)
    assert (head["post_score_tie"], head["post_score_zero"], head["post_score_noise"]) == (2, 0, 0)
    text = nb.format_headline([head])
    assert "1 of 2 tasks learned" in text and "2 tie, 0 prefer σ ~ 0" in text


def test_loss_comparison_puts_the_two_losses_of_a_task_side_by_side(store):
    _, (selected, _) = _selected(store)
    rows = nb.benchmark_rows(selected, CHANCE)
    assert nb.format_loss_comparison(rows) == ("No task was trained on both cross-entropy and "
                                               "one-hot MSE.")
    # the same networks as if trained on one-hot MSE, the inside-f ones now tying
    mse = [{**r, "loss": "mse_onehot", "dloss_verdicts": ["tie", "tie"]}
           if r["placement"] == "pre" else {**r, "loss": "mse_onehot"} for r in rows]
    lines = nb.format_loss_comparison(rows + mse).splitlines()
    assert len(lines) == 2 + 4
    header = [c.strip() for c in lines[0].split("|")]
    pdm_pre = [c.strip() for c in lines[4].split("|")]
    assert pdm_pre[:4] == ["", PDM, "1", "inside f"]
    assert pdm_pre[header.index("cross_entropy: decision loss σ>0/tie/~0")] == "2/0/0"
    assert pdm_pre[header.index("mse_onehot: decision loss σ>0/tie/~0")] == "0/2/0"
    assert pdm_pre[header.index("cross_entropy: learned")] == "2/2"
    assert pdm_pre[header.index("cross_entropy: Δ decision loss")].endswith("**+** (2/0)")
    pdm_post = [c.strip() for c in lines[5].split("|")]
    assert pdm_post[header.index("mse_onehot: score σ>0/tie/~0")] == "0/2/0"  # a tie


def test_a_flagged_scorer_judges_the_task_on_accuracy(store):
    _, (selected, _) = _selected(store)
    # the scorer checks of a task whose performance cannot fall once set, and of an honest one
    scorers = {PDM: nb.scorer_check(_StickyTask(), n_trials=100, seed=0),
               DMS: nb.scorer_check(_HonestTask(), n_trials=100, seed=0)}
    rows = nb.benchmark_rows(selected, CHANCE, scorers)
    pdm = [r for r in rows if r["task"] == PDM]
    assert all(r["scorer_flagged"] and r["score_name"] == "accuracy" for r in pdm)
    table = nb.format_benchmark_table(rows)
    assert "**flagged**: judged on accuracy" in table
    dms = [line for line in table.splitlines() if line.startswith(f"| {DMS}")]
    assert len(dms) == 2 and all("| ok |" in line for line in dms)


def test_headline_is_readable_when_nothing_is_learned(store):
    _, (selected, _) = _selected(store)
    rows = nb.benchmark_rows([c for c in selected if c.task == DMS], CHANCE)
    text = nb.format_headline(nb.headline(rows))
    assert text == ("σ_train 1, cross_entropy: no task of 1 learned by both placements, so no "
                    "preference is counted.")
    assert "0/0" not in text


def test_heatmap_marks_significance_and_hatches_ties(store):
    _, (selected, _) = _selected(store)
    rows = nb.benchmark_rows(selected, CHANCE)
    ax = nb.plot_benchmark_heatmap(rows, "score").axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "1.00+" in texts and "0.00−\ntie 2/2" in texts
    # ties: PerceptualDecisionMaking outside f, both flat DelayMatchSample rows
    assert sum(p.get_hatch() == "///" for p in ax.patches) == 3
    ax = nb.plot_benchmark_heatmap(rows, "dloss").axes[0]
    assert sum(p.get_hatch() == "///" for p in ax.patches) == 1  # DelayMatchSample inside f
    assert [t.get_text() for t in ax.get_yticklabels()] == ["DelayMatchSample",
                                                             "PerceptualDecisionMaking"]
    image = ax.images[0].get_array()
    assert image.shape == (2, 2) and image[1, 0] == 1.0 and image[1, 1] == 0.0
    fig = ax.figure
    fig.canvas.draw()  # the colour bar's label lies inside the figure (it used to be cut off)
    (label,) = [a.get_window_extent() for a in (fig.axes[1].xaxis.label, fig.axes[1].yaxis.label)
                if a.get_text()]
    assert fig.bbox.x0 <= label.x0 and label.x1 <= fig.bbox.x1
    assert fig.bbox.y0 <= label.y0 and label.y1 <= fig.bbox.y1
    with pytest.raises(ValueError, match="key"):
        nb.plot_benchmark_heatmap(rows, "loss")


def test_report_only_writes_the_report_from_the_store(tmp_path, store, monkeypatch, capsys):
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: CHANCE[task])
    monkeypatch.setattr(nb.run, "scorer_check", lambda env: {"flagged": False, "reason": "",
                                                             "checked": True})
    res = nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, workers=1,
                           log=lambda line: None)
    assert res.reports == [] and "curves_csv" not in res.files
    assert "Null-v0" in res.excluded
    text = (tmp_path / "benchmark.csv").read_text()
    assert text == nb.rows_to_csv(res.rows) and len(text.splitlines()) == 5
    assert (tmp_path / "heatmap.png").stat().st_size > 0
    assert (tmp_path / "heatmap_score.png").stat().st_size > 0
    report = (tmp_path / "table.md").read_text()
    assert nb.format_headline(res.headline) in report and "tried 10 then 20 steps" in report
    assert "No Yang19Multitask-v0 network is recorded." in report
    # the chance levels and scorer checks used are kept and reused
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: pytest.fail("recomputed"))
    monkeypatch.setattr(nb.run, "scorer_check", lambda env: pytest.fail("recomputed"))
    again = nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, workers=1,
                             figures=False, log=lambda line: None)
    assert again.table == res.table and "figure" not in again.files
    with pytest.warns(DeprecationWarning, match="figures="):  # the old spelling, one release
        old = nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, workers=1,
                               figure=False, log=lambda line: None)
    assert old.table == res.table and "figure" not in old.files
    other = dataclasses.replace(SETTINGS, name="other")  # another protocol: nothing recorded
    with pytest.raises(RuntimeError, match="no cell of the benchmark"):
        nb.run_benchmark(tmp_path, other, run=False, progress=False, workers=1)
    with pytest.raises(FileNotFoundError, match="out_dir"):
        nb.run_benchmark(tmp_path / "empty", SETTINGS, run=False, progress=False, workers=1)
    code, _, err = run(capsys, "benchmark", "neurogym", "--report-only", "--out", tmp_path / "x")
    assert code == 2 and "--report-only" in err


def test_diagnostic_column_holds_each_networks_split_on_decision_steps(tmp_path, make_spec,
                                                                      monkeypatch):
    """The diagnostic column is filled from the stored networks (not "pending"): per network
    noise_dependence at its training noise on its trained loss over decision steps (the steps
    of the decision-loss columns), with the benchmark's trials, seed and repeats; cached in
    diagnostics.json and reused."""
    from brian_noisy_rnn import tasks
    from brian_noisy_rnn.analysis import noise_dependence

    settings = dataclasses.replace(SETTINGS, tasks=(PDM,), n_trials=12, name="synthetic-diag")
    grid_cells = [c for g in nb.benchmark_grids(settings, {PDM: 20.0}, KINDS) for c in g.cells()]
    specs = {}
    with ResultStore(tmp_path / "results.sqlite") as s:
        for cell in grid_cells:
            cfg = cell.config
            spec = make_spec(8, 3, 3, noise=Noise(cfg["placement"], 1.0), dt=20 * ms,
                             seed=cfg["seed"] + (cfg["placement"] == "post") * 10)
            path = tmp_path / f"{cfg['placement']}_{cfg['seed']}.npz"
            spec.save(path)
            specs[cell.key] = spec
            curve = _curve(PDM, cfg["placement"], cfg["seed"], *SYNTHETIC[(PDM, cfg["placement"], 1)])
            s.record(cell, {"curve": curve.to_dict(), "summary": curve.summary()}, path,
                     spec.content_hash())
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: CHANCE[task])
    monkeypatch.setattr(nb.run, "scorer_check", lambda env: {"flagged": False, "reason": "",
                                                             "checked": True})
    res = nb.run_benchmark(tmp_path, settings, run=False, progress=False, workers=1,
                           figures=False, log=lambda line: None)
    pre = [r for r in res.rows if r["placement"] == "pre"][0]
    key = [c.key for c in grid_cells if c.config["placement"] == "pre" and c.config["seed"] == 0][0]
    want = noise_dependence(specs[key], tasks.make(PDM, dt=20), n_trials=12, n_repeats=16,
                            seed=settings.eval_seed, steps="decision")
    assert pre["diagnostic"][0] == (f"{want.shift:.3g} / {want.fluctuation:.3g} "
                                    f"({want.ratio:.2g})")
    assert len(pre["diagnostic"]) == 2 and "-" not in pre["diagnostic"]
    stored = json.loads((tmp_path / "diagnostics.json").read_text())
    assert len(stored) == 4 and {d["steps"] for d in stored.values()} == {"decision"}
    assert "pending" not in res.table and pre["diagnostic"][0] in res.table
    # cached: a report from the same store does not compute them again
    monkeypatch.setattr("brian_noisy_rnn.analysis.loss_split.noise_dependence",
                        lambda *a, **k: pytest.fail("recomputed"))
    again = nb.run_benchmark(tmp_path, settings, run=False, progress=False, workers=1,
                             figures=False, log=lambda line: None)
    assert again.table == res.table
    # an interrupt keeps the diagnostics computed before it (a rerun computes the rest)
    (tmp_path / "diagnostics.json").unlink()
    calls = []

    def first_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return want

    monkeypatch.setattr("brian_noisy_rnn.analysis.loss_split.noise_dependence",
                        first_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        nb.run_benchmark(tmp_path, settings, run=False, progress=False, workers=1, figures=False,
                         log=lambda line: None)
    assert len(json.loads((tmp_path / "diagnostics.json").read_text())) == 1


def test_report_measurements_run_on_workers_with_the_same_cache(tmp_path):
    """The report's per-network measurements (chance, scorer checks, diagnostics, Yang19
    scores) go through one JSON cache that computes its missing entries on local worker
    processes: the entries equal those computed here one by one, only stale or missing ones
    are computed, and a failure keeps what finished."""
    keys = {"a": "1", "b": "2", "c": "3"}
    pairs = lambda key, ident: ([("key", key), ("ident_seen", ident)],)  # noqa: E731
    pooled = nb.run._cached(tmp_path / "pool.json", keys, dict, workers=2, args=pairs)
    serial = nb.run._cached(tmp_path / "serial.json", keys, dict, workers=1, args=pairs)
    assert pooled == serial and list(pooled) == ["a", "b", "c"]
    assert pooled["b"] == {"key": "b", "ident_seen": "2", "ident": "2"}
    assert json.loads((tmp_path / "pool.json").read_text()) == pooled
    # a stale entry (its ident changed) and a new key are computed, the others reused
    again = nb.run._cached(tmp_path / "pool.json", {**keys, "b": "20", "d": "4"},
                           lambda key, ident: pytest.fail("computed here") if key in "ac"
                           else {"key": key}, workers=1)
    assert again["a"] == pooled["a"] and again["b"] == {"key": "b", "ident": "20"}
    # a failing entry stops the loop; the entries finished before it are kept
    with pytest.raises(TypeError):
        nb.run._cached(tmp_path / "fail.json", keys, dict, workers=1,
                       args=lambda key, ident: ([("key", key)],) if key != "b" else (1,))
    assert list(json.loads((tmp_path / "fail.json").read_text())) == ["a"]


def test_report_states_time_and_versions_over_every_invocation(tmp_path, store, monkeypatch):
    """table.md ends with the run's time (summed over the invocations in run_log.json,
    interrupted ones included) and the package versions; a training invocation stopped by an
    interrupt is logged as such."""
    from importlib.metadata import version

    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: CHANCE[task])
    monkeypatch.setattr(nb.run, "scorer_check", lambda env: {"flagged": False, "reason": "",
                                                             "checked": True})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nb.run, "run_grid", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nb.run_benchmark(tmp_path, SETTINGS, progress=False, workers=1, figures=False,
                         log=lambda line: None)
    (entry,) = json.loads((tmp_path / "run_log.json").read_text())
    assert entry["interrupted"] and entry["benchmark"] == "synthetic" and entry["wall"] > 0
    # an earlier invocation of 30 wall-minutes and 50 CPU-minutes
    earlier = {"date": "2026-12-01 10:00:00 UTC", "wall": 1800.0, "cpu": 3000.0,
               "commit": "abc123", "load_average": 2.0}
    (tmp_path / "run_log.json").write_text(json.dumps([earlier, entry]))
    nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, workers=1, figures=False,
                     log=lambda line: None)
    report = (tmp_path / "table.md").read_text()
    run_part = report.split("### Run: time and versions")[1]
    assert "2 invocation(s) (1 interrupted), 2026-12-01 10:00:00 UTC to" in run_part
    assert f"{(1800 + entry['wall']) / 60:.1f} min wall, {(3000 + entry['cpu']) / 60:.1f} CPU-min" \
        in run_part
    assert "commits: abc123" in run_part and f"neurogym {version('neurogym')}" in run_part
    # a report-only invocation does not count as a training invocation
    assert len(json.loads((tmp_path / "run_log.json").read_text())) == 2
    # the report's own work (diagnostics, Yang19 scores) is part of a training invocation:
    # interrupted there, it is logged too
    monkeypatch.setattr(nb.run, "run_grid", lambda *a, **k: RunReport(cells=[]))
    monkeypatch.setattr(nb.run, "select_networks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nb.run_benchmark(tmp_path, SETTINGS, progress=False, workers=1, figures=False,
                         log=lambda line: None)
    last = json.loads((tmp_path / "run_log.json").read_text())[-1]
    assert len(json.loads((tmp_path / "run_log.json").read_text())) == 3 and last["interrupted"]


# --- Yang19 sub-tasks ----------------------------------------------------------------------------

def test_yang19_batch_appends_the_rule_of_its_sub_task_as_the_multitask_env_does():
    from brian_noisy_rnn import tasks
    from brian_noisy_rnn.tasks.multitask import YANG19_TASKS

    b = nb.yang19_batch("dm1", 20.0, 6, seed=3)
    multi = tasks.batch(tasks.make(nb.YANG19_TASK, dt=20), 40, seed=0)
    assert b.n_in == multi.n_in == 33 + len(YANG19_TASKS) and b.n_out == multi.n_out
    valid = np.arange(b.n_steps)[:, None] < b.lengths[None, :]
    rule = b.inputs[..., 33:]
    assert (rule[valid].argmax(axis=-1) == YANG19_TASKS.index("dm1")).all()
    assert (rule[valid].sum(axis=-1) == 1).all() and not rule[~valid].any()
    # the multitask env's own dm1 trials carry the same rule column
    i = [k for k, t in enumerate(multi.trials) if t["task"] == "dm1"][0]
    assert multi.inputs[0, i, 33 + YANG19_TASKS.index("dm1")] == 1.0
    assert b.env_states  # NeuroGym's performance of the sub-task can be replayed
    with pytest.raises(ValueError, match="name"):
        nb.yang19_batch("nope", 20.0, 2, seed=0)


def test_yang19_table_averages_seeds_and_hides_flagged_performance():
    row = {"task": "go", "sigmas": [0.0, 1.0], "accuracy": [0.5, 0.7], "performance": [.5, .6],
           "flagged": False, "reason": ""}
    flagged = {**row, "task": "dms", "flagged": True}
    other = {**row, "accuracy": [0.7, 0.9]}
    table = nb.format_yang19_table([("inside f", [row, flagged]), ("inside f", [other, flagged])])
    lines = table.splitlines()
    assert lines[0] == "| network | n | go | dms (scorer flagged: accuracy only) |"
    assert lines[2] == "| inside f | 2 | 0.60 → 0.80 (p 0.60) | 0.50 → 0.70 |"
    assert len(lines) == 3  # one row per condition, no diagnostic column unless given
    with_notes = nb.format_yang19_table(
        [("inside f", [row, flagged]), ("outside f", [other, flagged])],
        {"learned": {"inside f": "1/1"}, "diagnostic": {"inside f": "0.2 / 0.1 (2)",
                                                        "outside f": "0.3 / 0.1 (3)"}})
    lines = with_notes.splitlines()
    assert lines[0].endswith("| learned | diagnostic |")
    assert lines[2:] == ["| inside f | 1 | 0.50 → 0.70 (p 0.60) | 0.50 → 0.70 | 1/1 | 0.2 / 0.1 (2) |",
                         "| outside f | 1 | 0.70 → 0.90 (p 0.60) | 0.50 → 0.70 | - | 0.3 / 0.1 (3) |"]
    assert nb.format_yang19_table([]) == "No Yang19Multitask-v0 network is recorded."


def test_yang19_networks_of_another_results_database_are_scored(tmp_path, make_spec, store,
                                                                 monkeypatch, capsys):
    """``yang19_from``: the Yang19Multitask-v0 networks recorded in another database (the
    reproduction's) get rows of the Yang19 table, labelled with its folder, units and
    steps, with learned counts (the benchmark's criterion) and diagnostics (none for a
    network trained without noise: nothing to split); a path without a database is refused
    before any work."""
    from brian_noisy_rnn.experiments.config import grid_from_dict

    other = tmp_path / "reproduction"
    other.mkdir()
    grid = grid_from_dict({
        "name": "repro-yang19",
        "grid": {"tasks": [nb.YANG19_TASK], "placements": ["pre"], "train_sigmas": [0.0, 2.0],
                 "seeds": [0, 1], "backends": ["torch"]},
        "sweep": {"sigmas": [0.0, 2.0], "n_trials": 10, "seed": 1},
        "network": {"n_hidden": 8, "activation": "relu", "tau_ms": 100.0, "dt_ms": 20.0},
        "training": {"steps": 3000, "batch_size": 64, "lr": 0.01}}, source="test")
    with ResultStore(other / "results.sqlite") as s:
        for cell in grid.cells():
            sigma = cell.config["train_sigma"]
            spec = make_spec(8, 53, 17, noise=Noise("pre", sigma), dt=20 * ms,
                             seed=cell.config["seed"])
            path = other / f"y{cell.config['seed']}_{sigma:g}.npz"
            spec.save(path)
            acc = [0.95, 0.97] if cell.config["seed"] == 0 else [0.1, 0.1]
            curve = NoisePreferenceCurve(
                sigmas=np.array([0.0, 2.0]) if sigma else np.array([0.0]),
                metric="accuracy", higher_is_better=True,
                mean=np.array(acc if sigma else acc[:1]), sem=np.full(2 if sigma else 1, 0.01),
                n_trials=10, placement="pre",
                process="white", sigma_train=sigma, train_placement="pre", backend="torch",
                seed=cell.config["seed"], task=nb.YANG19_TASK)
            s.record(cell, {"curve": curve.to_dict(), "summary": curve.summary()}, path,
                     spec.content_hash())
    scored = []

    def fake_score(spec, **kwargs):
        scored.append(spec.content_hash())
        return [{"task": "go", "sigmas": [0.0, 2.0], "accuracy": [0.5, 0.7],
                 "performance": [0.5, 0.6], "flagged": False, "reason": ""}]

    monkeypatch.setattr(nb.run, "score_yang19", fake_score)
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: {
        **CHANCE.get(task, {"chance": 0.1, "accuracy_chance": 0.1, "policy": "x",
                            "ceiling": 1.0, "n_choices": 17})})
    monkeypatch.setattr(nb.run, "scorer_check", lambda env: {"flagged": False, "reason": "",
                                                             "checked": True})
    monkeypatch.setattr("brian_noisy_rnn.analysis.loss_split.noise_dependence",
                        lambda *a, **k: pytest.fail("the spec of the own store is a stub"))
    out = tmp_path  # the synthetic store's folder: its networks have no readable spec
    with pytest.raises(FileNotFoundError, match="yang19_from"):
        nb.run_benchmark(out, SETTINGS, run=False, progress=False, workers=1, figures=False,
                         log=lambda line: None, yang19_from=tmp_path / "nowhere")
    diag = {"shift": 0.2, "fluctuation": 0.1, "ratio": 2.0}

    def fake_split(spec, env, **kwargs):  # as noise_dependence, which refuses sigma 0
        assert spec.noise.is_active, "noise_dependence refuses a network without noise"
        return type("D", (), {"to_dict": lambda self: diag})()

    monkeypatch.setattr("brian_noisy_rnn.analysis.loss_split.noise_dependence", fake_split)
    res = nb.run_benchmark(out, SETTINGS, run=False, progress=False, workers=1, figures=False,
                           log=lambda line: None, yang19_from=other)
    assert len(scored) == 4
    lines = res.yang19.splitlines()
    assert lines[0] == ("| network | n | go | networks learned (criterion) "
                        "| shift / fluctuation (ratio), multitask trials |")
    assert lines[2] == ("| reproduction: inside f, σ_train 0, cross_entropy, 8 units, 3000 steps, "
                        "dt 20 ms | 2 | 0.50 → 0.70 (p 0.60) | 1/2 | -; - |")
    assert lines[3] == ("| reproduction: inside f, σ_train 2, cross_entropy, 8 units, 3000 steps, "
                        "dt 20 ms | 2 | 0.50 → 0.70 (p 0.60) | 1/2 | 0.2 / 0.1 (2); 0.2 / 0.1 (2) |")
    assert len(lines) == 4
    code, _, err = run(capsys, "benchmark", "neurogym", "--report-only", "--out", out,
                       "--yang19-from", tmp_path / "nowhere")
    assert code == 2 and "--yang19-from" in err


@pytest.mark.slow
def test_score_yang19_scores_every_sub_task_of_a_multitask_network(make_spec):
    from brian_noisy_rnn.tasks.multitask import YANG19_TASKS

    spec = make_spec(16, n_in=53, n_out=17, dt=20 * ms, noise=Noise("pre", 1.0), seed=1)
    rows = nb.score_yang19(spec, n_trials=8, seed=2)
    assert [r["task"] for r in rows] == list(YANG19_TASKS)
    assert {r["task"] for r in rows if r["flagged"]} == {"dms", "dnms", "dmc", "dnmc"}
    for r in rows:
        assert r["sigmas"] == [0.0, 1.0] and all(0 <= a <= 1 for a in r["accuracy"])


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_lists_tasks_and_maps_flags(capsys):
    from brian_noisy_rnn.cli import benchmark, build_parser

    code, out, _ = run(capsys, "benchmark", "neurogym", "--list")
    assert code == 0
    assert "included  PerceptualDecisionMaking-v0  dt 20 ms" in out
    assert "excluded  Null-v0: not a task" in out
    args = build_parser().parse_args(["benchmark", "neurogym", "--quick", "--n-seeds", "2",
                                      "--steps", "7", "--cap-steps", "0", "--no-yang19",
                                      "--tasks", "PerceptualDecisionMaking-v0"])
    s = benchmark.settings_from_args(args)
    assert s.seeds == (0, 1) and s.steps == 7 and s.tasks == ("PerceptualDecisionMaking-v0",)
    assert s.cap_steps == 0 and not s.yang19
    assert s.n_trials == nb.QUICK.n_trials and s.name == nb.QUICK.name
    assert run(capsys, "benchmark")[0] == 2
    code, _, err = run(capsys, "benchmark", "neurogym", "--tasks", "Null-v0", "--out",
                       "/nonexistent-dir/x", "--no-progress")
    assert code == 2 and "Null-v0" in err


# --- end to end ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_quick_benchmark_end_to_end(tmp_path, capsys):
    out = tmp_path / "bench"
    code, stdout, _ = run(capsys, "benchmark", "neurogym", "--quick", "--out", out,
                          "--workers", "2", "--no-progress")
    assert code == 0
    for name in ("results.sqlite", "benchmark.csv", "curves.csv", "table.md", "heatmap.png",
                 "heatmap_score.png", "chance.json", "scorer.json", "yang19.json"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "benchmark.csv")))
    # 2 choice tasks x 2 losses + 1 continuous-action task, x 2 sigma_train x 2 placements
    assert len(rows) == (2 * 2 + 1) * 2 * 2
    # values are the store's: each row's networks are the ones select_networks picks
    with ResultStore(out / "results.sqlite", readonly=True) as s:
        curves = s.curves()
    chance = json.loads((out / "chance.json").read_text())
    selected, _ = nb.select_networks(curves, chance, nb.QUICK)
    for r in rows:
        (c,) = [c for c in selected if c.task == r["task"] and c.train_placement == r["placement"]
                and c.sigma_train == float(r["sigma_train"]) and nb.trained_loss(c) == r["loss"]]
        assert int(r["steps"]) == c.cell["config"]["training"]["steps"]
        perf = c.with_metric("performance")
        assert float(r["performance"]) == pytest.approx(perf.metric_at_train, rel=1e-5)
        dloss = c.with_metric(r["dloss_metric"])
        assert r["dloss_sets"] == " ".join(f"{x:.6g}" for x in dloss.preferred_set())
    report = (out / "table.md").read_text()
    assert "### Yang19" in report and "| dms (scorer flagged: accuracy only) |" in report
    headline_text = report.split("\n### ")[0]
    assert "0/0" not in headline_text and "σ_train 3, mse_onehot:" in headline_text
    # a rerun resumes: nothing is trained again, the report is the same
    before = (out / "benchmark.csv").read_text()
    code, stdout, _ = run(capsys, "benchmark", "neurogym", "--quick", "--out", out,
                          "--workers", "1", "--no-progress")
    assert code == 0 and (out / "benchmark.csv").read_text() == before
    os.remove(out / "heatmap.png")
    code, _, _ = run(capsys, "benchmark", "neurogym", "--quick", "--out", out, "--report-only")
    assert code == 0 and (out / "heatmap.png").exists()
