"""The NeuroGym benchmark: task selection and exclusions, chance levels, the learning rule,
the report (table, CSV, heatmap) from a small synthetic results store, the CLI, and (slow)
``benchmark neurogym --quick`` end to end."""

import csv
import io
import math
import os

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise
from brian_noisy_rnn.cli import main
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve, noise_preference
from brian_noisy_rnn.experiments import ResultStore
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


@pytest.mark.parametrize("perf, sem, chance, ceiling, learned", [
    (0.90, 0.01, 0.5, 1.0, True),
    (0.58, 0.01, 0.5, 1.0, False),      # above chance, but < 20% of the way to the ceiling
    (0.62, 0.05, 0.5, 1.0, False),      # 24% of the way, but within 3 standard errors
    (0.62, float("nan"), 0.5, 1.0, True),
    (0.9, 0.01, 0.5, 0.5, False),       # a task whose ceiling is chance teaches nothing
    (float("nan"), 0.01, 0.5, 1.0, False),
    (0.5, 0.01, 0.33, float("nan"), True),   # unknown ceiling counts as 1
    (0.45, 0.01, 0.33, float("nan"), False),  # 0.12 < 0.2 * (1 - 0.33)
])
def test_learning_rule(perf, sem, chance, ceiling, learned):
    assert nb.is_learned(perf, sem, chance, ceiling) is learned


def test_grids_one_per_time_step_share_the_protocol():
    settings = nb.BenchmarkSettings(seeds=(0, 1, 2), steps=5, n_trials=7)
    grids = nb.benchmark_grids(settings, {"PerceptualDecisionMaking-v0": 20.0,
                                          "PulseDecisionMaking-v0": 10.0,
                                          "DelayMatchSample-v0": 20.0})
    assert [g.network["dt_ms"] for g in grids] == [10.0, 20.0]
    assert grids[1].tasks == ("PerceptualDecisionMaking-v0", "DelayMatchSample-v0")
    for g in grids:
        assert g.placements == ("pre", "post") and g.seeds == (0, 1, 2)
        assert g.train_sigmas == (nb.SIGMA_TRAIN,) and g.training["steps"] == 5
        assert g.name == settings.name and g.backends == ("torch",)
    assert len(grids[1].cells()) == 2 * 2 * 3


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
SETTINGS = nb.BenchmarkSettings(tasks=("PerceptualDecisionMaking-v0", "DelayMatchSample-v0"),
                                seeds=(0, 1), relative_sigmas=tuple(SIGMAS), name="synthetic")


def _curve(task, placement, loss, perf, loss_d, perf_d, seed):
    n = len(SIGMAS)
    return NoisePreferenceCurve(
        sigmas=np.array(SIGMAS), metric="accuracy", higher_is_better=True,
        mean=np.full(n, 0.5), sem=np.full(n, 0.01), n_trials=100, placement=placement,
        process="white", sigma_train=1.0, train_placement=placement, backend="torch",
        seed=seed, task=task,
        other_metrics={"cross_entropy": (np.array(loss), np.full(n, 0.01)),
                       "performance": (np.array(perf), np.full(n, 0.01))},
        paired_vs_zero={"accuracy": (np.zeros(n), np.full(n, 0.001)),
                        "cross_entropy": (np.array(loss_d), np.full(n, 0.01)),
                        "performance": (np.array(perf_d), np.full(n, 0.02))})


@pytest.fixture
def store(tmp_path):
    """A results database with two tasks x pre/post x 2 seeds of synthetic curves."""
    spec_path = tmp_path / "spec.npz"
    spec_path.write_bytes(b"x")
    (grid,) = nb.benchmark_grids(SETTINGS, {t: 20.0 for t in SETTINGS.tasks})
    curves = {
        # learned; noise inside f prefers sigma_train on both metrics, outside prefers 0
        ("PerceptualDecisionMaking-v0", "pre"): ([.5, .4, .3, .45], [.7, .8, .9, .85],
                                                 [0, -.1, -.2, -.05], [0, .1, .2, .15]),
        ("PerceptualDecisionMaking-v0", "post"): ([.3, .35, .4, .5], [.9, .85, .8, .7],
                                                  [0, .05, .1, .2], [0, -.05, -.1, -.2]),
        # not learned: performance at chance, flat curves
        ("DelayMatchSample-v0", "pre"): ([.7, .7, .7, .7], [.5, .5, .52, .5],
                                         [0, 0, 0.001, 0], [0, 0, .02, 0]),
        ("DelayMatchSample-v0", "post"): ([.7, .7, .7, .7], [.5, .5, .5, .5],
                                          [0, 0, 0, 0], [0, 0, 0, 0]),
    }
    db = tmp_path / "results.sqlite"
    with ResultStore(db) as s:
        for cell in grid.cells():
            c = cell.config
            curve = _curve(c["task"], c["placement"], *curves[(c["task"], c["placement"])],
                           seed=c["seed"])
            s.record(cell, {"curve": curve.to_dict(), "summary": curve.summary()}, spec_path, "h")
    return db


CHANCE = {"PerceptualDecisionMaking-v0": {"chance": 0.5, "policy": "constant answer 1",
                                          "ceiling": 1.0},
          "DelayMatchSample-v0": {"chance": 0.5, "policy": "x", "ceiling": 1.0}}


def test_rows_table_csv_and_headline_from_the_store(store):
    with ResultStore(store, readonly=True) as s:
        rows = nb.benchmark_rows(s.curves(), CHANCE)
    assert [(r["task"], r["placement"]) for r in rows] == [
        ("DelayMatchSample-v0", "pre"), ("DelayMatchSample-v0", "post"),
        ("PerceptualDecisionMaking-v0", "pre"), ("PerceptualDecisionMaking-v0", "post")]
    dms_pre, dms_post, pre, post = rows
    assert pre["n"] == 2 and pre["loss"] == "cross_entropy" and pre["dt_ms"] == 20.0
    assert pre["performance"] == [0.9, 0.9] and pre["learned"] == 2 and pre["task_learned"]
    assert pre["loss_preferred"] == [1.0, 1.0] and pre["perf_preferred"] == [1.0, 1.0]
    assert post["loss_preferred"] == [0.0, 0.0] and post["perf_preferred"] == [0.0, 0.0]
    assert pre["loss_diff"] == pytest.approx(-0.2)
    assert pre["loss_diff_sem"] == pytest.approx(math.sqrt(2) * 0.01 / 2)
    assert (pre["loss_signif"], pre["perf_signif"]) == (1, 1)       # lower loss, higher perf
    assert (post["loss_signif"], post["perf_signif"]) == (-1, -1)
    assert pre["loss_seeds_better"] == 2 and post["perf_seeds_worse"] == 2
    assert dms_pre["learned"] == 0 and not dms_pre["task_learned"]
    assert dms_pre["perf_signif"] == 0  # 0.02 +- 0.014: within 3 SE

    table = nb.format_benchmark_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + 4
    assert "DelayMatchSample-v0 (20 ms) (not learned)" in lines[2]
    assert "(not learned)" not in lines[4] and "**+** (2/0)" in lines[4]
    assert "**-** (0/2)" in lines[5]

    parsed = list(csv.DictReader(io.StringIO(nb.rows_to_csv(rows))))
    assert [list(p) for p in parsed][0] == list(nb.CSV_COLUMNS) and len(parsed) == 4
    assert parsed[2]["loss_preferred"] == "1;1" and float(parsed[2]["loss_diff"]) == -0.2

    head = nb.headline(rows)
    assert head["tasks"] == 2 and head["learned"] == ["PerceptualDecisionMaking-v0"]
    assert head["pre_n"] == head["post_n"] == 2
    assert head["pre_loss_prefers_noise"] == 2 and head["post_loss_near_zero"] == 2
    assert head["pre_perf_signif"] == 1 and head["post_perf_signif"] == 1
    assert "1 of 2 tasks learned" in nb.format_headline(head)


def test_heatmap_marks_significance(store):
    with ResultStore(store, readonly=True) as s:
        rows = nb.benchmark_rows(s.curves(), CHANCE)
    fig = nb.plot_benchmark_heatmap(rows)
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"1.00+", "0.00−"} <= texts          # pre / post of the learned task
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["DelayMatchSample (not learned)", "PerceptualDecisionMaking"]
    rows[0]["task_learned"] = True  # DelayMatchSample inside f only
    ax = nb.plot_benchmark_heatmap(rows).axes[0]
    assert ax.get_yticklabels()[0].get_text() == "DelayMatchSample (learned inside f only)"
    image = ax.images[0].get_array()
    assert image.shape == (2, 4) and image[1, 0] == 1.0 and image[1, 1] == 0.0


def test_report_only_writes_the_report_from_the_store(tmp_path, store, monkeypatch, capsys):
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: CHANCE[task])
    res = nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, log=lambda line: None)
    assert res.reports == [] and "curves_csv" not in res.files
    assert "Null-v0" in res.excluded
    text = (tmp_path / "benchmark.csv").read_text()
    assert text == nb.rows_to_csv(res.rows) and len(text.splitlines()) == 5
    assert (tmp_path / "heatmap.png").stat().st_size > 0
    assert nb.format_headline(res.headline) in (tmp_path / "table.md").read_text()
    # the chance levels used are kept and reused: a later report gives the same table
    monkeypatch.setattr(nb.run, "chance_level", lambda task, dt: pytest.fail("recomputed"))
    again = nb.run_benchmark(tmp_path, SETTINGS, run=False, progress=False, figure=False,
                             log=lambda line: None)
    assert again.table == res.table and "figure" not in again.files
    other = nb.BenchmarkSettings(tasks=SETTINGS.tasks)  # another protocol: nothing recorded
    with pytest.raises(RuntimeError, match="no cell of the benchmark"):
        nb.run_benchmark(tmp_path, other, run=False, progress=False)
    with pytest.raises(FileNotFoundError, match="out_dir"):
        nb.run_benchmark(tmp_path / "empty", SETTINGS, run=False, progress=False)
    code, _, err = run(capsys, "benchmark", "neurogym", "--report-only", "--out", tmp_path / "x")
    assert code == 2 and "--report-only" in err


# --- CLI -----------------------------------------------------------------------------------------

def test_cli_lists_tasks_and_maps_flags(capsys):
    from brian_noisy_rnn.cli import benchmark, build_parser

    code, out, _ = run(capsys, "benchmark", "neurogym", "--list")
    assert code == 0
    assert "included  PerceptualDecisionMaking-v0  dt 20 ms" in out
    assert "excluded  Null-v0: not a task" in out
    args = build_parser().parse_args(["benchmark", "neurogym", "--quick", "--n-seeds", "2",
                                      "--steps", "7", "--tasks", "PerceptualDecisionMaking-v0"])
    s = benchmark.settings_from_args(args)
    assert s.seeds == (0, 1) and s.steps == 7 and s.tasks == ("PerceptualDecisionMaking-v0",)
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
    for name in ("results.sqlite", "benchmark.csv", "curves.csv", "table.md", "heatmap.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "benchmark.csv")))
    assert len(rows) == 2 * len(nb.QUICK.tasks)
    # values are the store's: the performance at sigma_train of every network
    with ResultStore(out / "results.sqlite", readonly=True) as s:
        curves = s.curves()
    assert len(curves) == 2 * len(nb.QUICK.tasks) * len(nb.QUICK.seeds)
    for r in rows:
        (c,) = [c for c in curves if c.task == r["task"] and c.train_placement == r["placement"]]
        perf = c.with_metric("performance")
        assert float(r["performance"]) == pytest.approx(perf.metric_at_train, rel=1e-5)
        assert float(r["perf_preferred"]) == perf.preferred_sigma
        loss = c.with_metric("cross_entropy" if r["loss"] == "cross_entropy" else "mse")
        assert float(r["loss_preferred"]) == loss.preferred_sigma
        mean, _ = c.paired_vs_zero[r["loss"]]
        assert float(r["loss_diff"]) == pytest.approx(mean[c.index_of(1.0)], rel=1e-5)
    table = (out / "table.md").read_text()
    assert table.count("\n| ") == 2 * len(nb.QUICK.tasks) and "tasks learned" in table
    # a rerun resumes: nothing is trained again, the report is the same
    before = (out / "benchmark.csv").read_text()
    code, stdout, _ = run(capsys, "benchmark", "neurogym", "--quick", "--out", out,
                          "--workers", "1", "--no-progress")
    assert code == 0 and (out / "benchmark.csv").read_text() == before
    os.remove(out / "heatmap.png")
    code, _, _ = run(capsys, "benchmark", "neurogym", "--quick", "--out", out, "--report-only")
    assert code == 0 and (out / "heatmap.png").exists()
