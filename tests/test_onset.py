"""The onset study's rules (experiments/reproduction/onset.py) and the noise-dependence split.

The rules are checked on hand-made curves whose verdicts are known; the split's noiseless
loss is checked against ``evaluate`` on the same trials (it must be the same number), its
fluctuation against an independent brute-force computation, and its errors name arguments.
"""

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise, evaluate, noise_preference, simulate, tasks
from brian_noisy_rnn.analysis import noise_dependence
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve
from brian_noisy_rnn.experiments.reproduction import onset as O

SIGMAS = np.array([0.0, 0.5, 1.0, 2.0, 3.0])


def curve(mean, sem=0.01, placement="pre", sigma_train=1.0, paired=None, metric="mse",
          nmse=None, accuracy=None):
    mean = np.asarray(mean, float)
    sem = np.full_like(mean, sem)
    diff = mean - mean[0]
    paired_sem = np.full_like(mean, 0.005) if paired is None else np.asarray(paired, float)
    others = {"nmse": (np.asarray(nmse if nmse is not None else mean * 2, float), sem)}
    if accuracy is not None:
        others["accuracy"] = (np.asarray(accuracy, float), sem)
    return NoisePreferenceCurve(
        sigmas=SIGMAS, metric=metric, higher_is_better=False, mean=mean, sem=sem, n_trials=100,
        placement=placement, process="white", sigma_train=sigma_train,
        train_placement=placement, backend="torch", seed=0, other_metrics=others,
        paired_vs_zero={metric: (diff, paired_sem), "nmse": (2 * diff, paired_sem)})


def test_effect_needs_zero_outside_the_preferred_set_and_a_significant_gap():
    prefers = curve([0.30, 0.12, 0.10, 0.15, 0.2])
    assert O.effect(prefers)
    tie_with_zero = curve([0.105, 0.12, 0.10, 0.15, 0.2])  # 0 within 1 SE of the best
    assert not O.effect(tie_with_zero)
    noisy_gap = curve([0.13, 0.12, 0.10, 0.15, 0.2], paired=[0.02] * 5)  # gap 0.03 < 2 SE
    assert not O.effect(noisy_gap)
    # judged on another metric with its own paired SE: nmse's gap is 0.06 > 2 * 0.02
    assert O.effect(noisy_gap, "nmse")


def test_control_and_learned_rules():
    post = curve([0.05, 0.052, 0.06, 0.09, 0.2], placement="post")
    assert O.control_ok(post)
    assert not O.control_ok(curve([0.3, 0.12, 0.10, 0.15, 0.2], placement="post"))
    crit = O.Criterion("nmse", 0.2, False)
    assert O.learned(curve([0.3, 0.12, 0.09, 0.15, 0.2]), crit)       # nmse 0.18 at sigma 1
    assert not O.learned(curve([0.3, 0.12, 0.11, 0.15, 0.2]), crit)   # nmse 0.22
    assert not crit.met(float("nan")) and O.Criterion("accuracy", 0.9, True).met(0.95)


def test_onset_level_is_the_first_level_where_every_learned_seed_shows_it():
    v = lambda learned, effect: {"learned": learned, "effect": effect}  # noqa: E731
    by_level = {0.5: [v(True, False), v(True, True), v(True, True)],
                1.0: [v(True, True), v(True, True), v(False, False)],   # 2 learned, both show it
                2.0: [v(True, True)] * 3}
    onset, detail = O.onset_level(by_level)
    assert onset == 1.0 and "0.5: 2/3" in detail and "1: 2/2 (of 3)" in detail
    one_learned = {1.0: [v(True, True), v(False, True), v(False, True)]}
    assert O.onset_level(one_learned)[0] is None
    assert O.onset_level(one_learned, min_learned=1)[0] == 1.0  # the one-seed smoke test


def test_a_family_whose_networks_did_not_learn_is_undecided_not_without_onset():
    """No onset is "none up to" the largest level with 2 learned seeds; with no such level
    (every network missed its criterion) the report says "undecided", since the rule saw
    nothing (Yang19 on one-hot targets: 0 of 9 learned)."""
    from brian_noisy_rnn.experiments.reproduction.onset_report import render_onset
    from brian_noisy_rnn.experiments.reproduction.onset_run import NetworkRecord, OnsetData, onsets_of

    v = lambda learned, effect: {"learned": learned, "effect": effect}  # noqa: E731
    assert O.decided_up_to({1.0: [v(True, False)] * 3, 4.0: [v(True, False), v(False, False),
                                                             v(False, False)]}) == 1.0
    assert O.decided_up_to({1.0: [v(False, False)] * 3}) is None
    task, crit = "PathIntegration2D-v0", O.CRITERIA["PathIntegration2D-v0"]

    def records(nmse):
        c = curve([0.05, 0.06, 0.07, 0.09, 0.2], nmse=[nmse] * 5)
        return [NetworkRecord(study="onset", task=task, loss="default", dt_ms=20.0,
                              placement="pre", sigma=sigma, seed=seed, steps=100, curve=c,
                              spec_path="", verdict=O.network_verdict(c, crit))
                for sigma in (1.0, 2.0) for seed in range(3)]

    for nmse, answer, cell in ((0.1, "none up to sigma_train 2", "| none |"),
                               (0.9, "undecided (too few networks learned", "| undecided |")):
        recs = records(nmse)
        onsets, decided = onsets_of(recs, n_seeds=3)
        text = render_onset(OnsetData(records=recs, onsets=onsets, decided=decided), {})
        assert answer in text and cell in text


def test_seed_summary_and_agreement():
    vs = [{"learned": True, "diff": d} for d in (0.2, 0.1, -0.05)] + [{"learned": False, "diff": 9}]
    s = O.seed_summary(vs)
    assert s["n"] == 3 and s["positive"] == 2
    assert s["mean"] == pytest.approx(0.25 / 3) and s["se"] == pytest.approx(
        np.std([0.2, 0.1, -0.05], ddof=1) / np.sqrt(3))
    a = O.agreement([(3.0, 0.1), (0.2, -0.1), (2.0, -0.01), (0.5, 0.2)])
    assert (a["n"], a["agree"], a["predicted_only"], a["measured_only"]) == (4, 2, 1, 1)


def test_test_sigmas_reach_two_and_a_half_times_the_largest_level():
    s = O.test_sigmas((0.5, 1.0, 6.0))
    assert s[0] == 0.0 and max(s) >= 15.0 and {0.5, 1.0, 6.0} <= set(s)
    assert list(s) == sorted(s)
    assert max(O.test_sigmas((4.0,))) >= 10.0


# --- the noise-dependence split ---------------------------------------------------------------------

@pytest.fixture
def fa_spec(make_spec):
    return make_spec(8, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", 1.0), seed=4)


def test_split_noiseless_loss_is_evaluates_on_the_same_trials(fa_spec):
    env = tasks.make("FunctionApproximation-v0", dt=20)
    d = noise_dependence(fa_spec, env, n_trials=24, n_repeats=4, seed=3, backend="numpy")
    e = evaluate(fa_spec, env, backend="numpy", noise=Noise("none"), n_trials=24, seed=3)
    assert d.loss_zero == pytest.approx(e["mse"], rel=1e-12)
    assert d.loss_zero - d.loss_train == pytest.approx(d.shift - d.fluctuation + d.cross, abs=1e-12)
    assert d.fluctuation > 0 and d.to_dict()["ratio"] == pytest.approx(d.shift / d.fluctuation)


def test_split_fluctuation_matches_a_brute_force_variance(fa_spec):
    """The fluctuation is the per-step output variance over noise draws, averaged over the
    scored steps of each trial and then over trials: computed here from 64 independent
    simulate calls. Both estimates have a relative noise of about sqrt(2/R) per step, much
    less after averaging over 24 trials x 20 steps; 15 % allows for the correlation of
    neighbouring steps."""
    env = tasks.make("FunctionApproximation-v0", dt=20)
    d = noise_dependence(fa_spec, env, n_trials=24, n_repeats=64, seed=3, backend="numpy")
    b = tasks.batch(env, 24, seed=3)
    z = np.stack([simulate(fa_spec, b.inputs, backend="numpy", seed=100 + r).outputs[..., 0]
                  for r in range(64)])
    var = z.var(axis=0, ddof=1)
    per_trial = np.where(b.mask, var, 0).sum(0) / b.mask.sum(0)
    assert d.fluctuation == pytest.approx(per_trial.mean(), rel=0.15)


def test_split_refuses_bad_arguments_by_name(fa_spec):
    env = tasks.make("FunctionApproximation-v0", dt=20)
    for kw, name in ((dict(steps="fixation"), "steps"), (dict(loss="cross_entropy"), "loss"),
                     (dict(n_repeats=1), "n_repeats"), (dict(noise=Noise("none")), "noise")):
        with pytest.raises(ValueError, match=name):
            noise_dependence(fa_spec, env, n_trials=4, **kw)


@pytest.mark.slow
def test_split_predicts_the_preference_of_two_trained_networks():
    """Two FunctionApproximation networks (32 relu units, 600 steps, sigma_train 1): trained
    with noise inside f (prefers its noise: the DESIGN table's L(0) 0.08-0.18 against 0.015
    at sigma_train) and outside f (prefers none). The split at the training sigma, from 200
    trials x 32 draws, must predict each preference, and the brute-force sweep (2000 other
    trials at 0 and at sigma_train) must confirm it with a paired difference beyond 3 SE."""
    from brian_noisy_rnn.bridges import train_ensemble

    env = tasks.make("FunctionApproximation-v0", dt=20)
    ens = train_ensemble(env, members=[dict(seed=0, noise=Noise("pre", 1.0)),
                                       dict(seed=0, noise=Noise("post", 1.0))],
                         n_hidden=32, steps=600, batch_size=64, progress=False)
    for spec, prefers in zip(ens.specs, (True, False)):
        d = noise_dependence(spec, env, n_trials=200, n_repeats=32, seed=5)
        assert d.predicts_preference is prefers, (spec.noise, d.to_dict())
        sweep = noise_preference(spec, env, [0.0, 1.0], backend="torch", n_trials=2000, seed=11)
        gap, se = sweep.difference(0.0, 1.0)  # MSE(0) - MSE(1): > 0 prefers the noise
        assert (gap > 3 * se) if prefers else (gap < -3 * se), (gap, se)
        assert (d.measured_difference > 0) is prefers


def test_report_marks_verdicts_whose_cap_has_not_run_as_provisional():
    """A stopped run leaves base networks that missed the criterion without their cap: the
    report's answer says the family's verdict is provisional, and the unlearned table tells
    a pending cap from a miss after the cap."""
    from brian_noisy_rnn.experiments.reproduction.onset_report import render_onset
    from brian_noisy_rnn.experiments.reproduction.onset_run import NetworkRecord, OnsetData, onsets_of

    task, crit = "PathIntegration2D-v0", O.CRITERIA["PathIntegration2D-v0"]

    def rec(seed, nmse, pending=False, capped=False):
        c = curve([0.05, 0.06, 0.07, 0.09, 0.2], nmse=[nmse] * 5)
        r = NetworkRecord(study="onset", task=task, loss="default", dt_ms=20.0, placement="pre",
                          sigma=1.0, seed=seed, steps=100, curve=c, spec_path="",
                          verdict=O.network_verdict(c, crit), capped=capped)
        r.cap_pending = pending
        return r

    records = [rec(0, 0.1), rec(1, 0.1), rec(2, 0.5, pending=True, capped=True)]
    onsets, decided = onsets_of(records, n_seeds=3)
    data = OnsetData(records=records, onsets=onsets, decided=decided)
    text = render_onset(data, {})
    assert "none up to sigma_train 1, provisional: 1 networks await their cap" in text
    assert "| cap not run yet |" in text and "missed after the cap" not in text
    records[2].cap_pending = False  # the cap ran and missed again
    text = render_onset(data, {})
    assert "provisional" not in text and "| missed after the cap |" in text


def test_a_loss_design_without_its_control_says_so():
    """The full study trains Yang19 on one-hot targets with noise inside f only: its table
    row says the control was not run, and a line says why."""
    from brian_noisy_rnn.experiments.reproduction.onset_report import render_onset
    from brian_noisy_rnn.experiments.reproduction.onset_run import NetworkRecord, OnsetData

    task, crit = "Yang19Multitask-v0", O.CRITERIA["Yang19Multitask-v0"]
    settings = O.OnsetSettings.full()
    assert settings.loss_placements[task] == ("pre",)
    assert "MazeNavigation-v0" not in settings.loss_placements  # both placements there
    c = curve([0.9, 0.8, 0.7, 0.75, 0.9], metric="mse_onehot", accuracy=[0.8] * 5)
    recs = [NetworkRecord(study="loss", task=task, loss="mse_onehot", dt_ms=20.0, placement="pre",
                          sigma=1.0, seed=s, steps=100, curve=c, spec_path="",
                          verdict=O.network_verdict(c, crit)) for s in range(3)]
    text = render_onset(OnsetData(records=recs, settings=settings), {})
    row = next(line for line in text.splitlines() if line.startswith("| Yang19Multitask | mse_onehot"))
    assert "| not run |" in row
    assert "Noise outside f is not trained on one-hot targets for Yang19Multitask" in text
    text = render_onset(OnsetData(records=recs, settings=O.OnsetSettings.quick()), {})
    assert "is not trained on one-hot targets" not in text


def test_the_phase_diagrams_boundary_encloses_exactly_the_predicted_cells():
    """The red line of phase.png: one edge per side of a predicted cell that borders an
    unpredicted cell or the border, none between two predicted cells."""
    from brian_noisy_rnn.experiments.reproduction.onset_report import _boundary_segments

    inside = np.array([[True, True, False],
                       [False, True, False]])
    segs = _boundary_segments(inside)
    assert len(segs) == 8  # a 3-cell L has perimeter 8
    assert (-0.5, -0.5, -0.5, 0.5) in segs          # top of (0, 0)
    assert (0.5, -0.5, 0.5, 0.5) in segs            # below (0, 0): (1, 0) is outside
    assert (-0.5, 0.5, 0.5, 0.5) not in segs        # between (0, 0) and (0, 1)
    assert (0.5, 0.5, 0.5, 1.5) not in segs         # between (0, 1) and (1, 1)
    assert _boundary_segments(np.zeros((2, 2), bool)) == []


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_compute_cached_runs_the_missing_jobs_and_keeps_failures_out(tmp_path, workers):
    """Measurements run on worker processes are cached like ``cached`` caches them; a cached
    one is not recomputed, a failing one is logged, counted and left for a rerun."""
    from brian_noisy_rnn.experiments.reproduction.analyses import CachedJob, cached, compute_cached

    folder = str(tmp_path)
    done = CachedJob("done", {"k": 0}, dict, ([("value", 0)],))
    assert cached(folder, done.name, done.settings, lambda: {"value": -1}) == {"value": -1}
    jobs = [done, CachedJob("a", {"k": 1}, dict, ([("value", 1)],)),
            CachedJob("b", {"k": 2}, dict, ([("value", 2)],)),
            CachedJob("bad", {"k": 3}, dict, ([1],))]  # dict([1]) raises TypeError
    lines = []
    assert compute_cached(folder, jobs, workers=workers, log=lines.append) == 1
    assert [cached(folder, j.name, j.settings, None) for j in jobs] == [
        {"value": -1}, {"value": 1}, {"value": 2}, None]  # "done" kept its cached value
    assert len(lines) == 1 and "bad failed: TypeError" in lines[0]


def test_a_diverged_cap_is_remembered_and_not_trained_again(tmp_path, monkeypatch):
    """A cap whose training loss became NaN fails in the runner; the study records it beside
    the database, a resumed study neither trains it again nor waits for it (its network is
    'missed after the cap'), and the other seeds' caps keep their grid (and so their keys)."""
    from brian_noisy_rnn.experiments import runner
    from brian_noisy_rnn.experiments.reproduction.onset_report import render_onset
    from brian_noisy_rnn.experiments.reproduction.onset_run import NetworkRecord, OnsetData, _Study
    from brian_noisy_rnn.experiments.reproduction.protocol import Protocol

    task, protocol = "FunctionApproximation-v0", Protocol.quick_protocol()
    base = protocol.families[task].steps
    results = str(tmp_path / "results.sqlite")
    ran = []

    def fake_run_grid(grids, results, **kw):  # every cap fails: seed 0 diverges
        cells = [c for g in grids for c in g.cells()]
        ran.append(cells)
        return runner.RunReport(cells=cells, failed={
            c.key: ("FloatingPointError: training loss of member 0 became nan at step 3"
                    if c.config["seed"] == 0 else "RuntimeError: something else") for c in cells})

    monkeypatch.setattr(runner, "run_grid", fake_run_grid)
    c = curve([0.05, 0.06, 0.07, 0.09, 0.2], nmse=[0.9] * 5)  # missed the criterion

    def missed(seed):
        return NetworkRecord(study="onset", task=task, loss="default", dt_ms=20.0,
                             placement="pre", sigma=1.0, seed=seed, steps=base, curve=c,
                             spec_path="", verdict=O.network_verdict(c, O.CRITERIA[task]))

    def study():
        s = _Study(protocol, O.OnsetSettings.quick(), results, 1, None, False, print, True)
        monkeypatch.setattr(s, "records", lambda *a: [missed(0), missed(1)])
        monkeypatch.setattr(s, "grid", _no_base_grid(s.grid))
        return s

    first = study()
    first.with_caps("onset", task, "default", 20.0, ("pre",), (1.0,))
    assert sorted(cell.config["seed"] for cell in ran[-1]) == [0, 1]
    point = ("onset", task, "default", 20.0, "pre", 1.0, 0)
    assert list(first.diverged) == [point]  # the other failure is not a divergence
    again = study()
    assert again.diverged == first.diverged  # read back from beside the database
    again.with_caps("onset", task, "default", 20.0, ("pre",), (1.0,))
    assert [cell.config["seed"] for cell in ran[-1]] == [1]  # seed 0 is not trained again
    assert ran[-1][0].key in {cell.key for cell in ran[0]}  # seed 1's cap keeps its key
    rec = missed(0)
    rec.capped, rec.cap_diverged = True, again.diverged[point]
    text = render_onset(OnsetData(records=[rec]), {})
    assert "| cap diverged (training loss became NaN) |" in text and "provisional" not in text


def _no_base_grid(grid):
    """``_Study.grid`` that builds but does not run the base grid (caps still run)."""
    def wrapped(study, *args, run=True, **kw):
        return grid(study, *args, run=run and study.startswith("cap-"), **kw)
    return wrapped


def test_the_time_step_table_says_where_the_control_has_fewer_seeds():
    from brian_noisy_rnn.experiments.reproduction.onset_report import render_onset
    from brian_noisy_rnn.experiments.reproduction.onset_run import NetworkRecord, OnsetData

    task = "MazeNavigation-v0"

    def rec(placement, seed):
        c = curve([0.9, 0.8, 0.7, 0.75, 0.9], metric="cross_entropy", accuracy=[0.95] * 5,
                  placement=placement)
        return NetworkRecord(study="dt", task=task, loss="default", dt_ms=5.0,
                             placement=placement, sigma=1.0, seed=seed, steps=100, curve=c,
                             spec_path="", verdict=O.network_verdict(c, O.CRITERIA[task]))

    records = [rec("pre", s) for s in range(3)] + [rec("post", 0)]
    full = O.OnsetSettings.full()
    assert full.dt_control_seeds == {"MazeNavigation-v0": 1, "PathIntegration2D-v0": 1}
    text = render_onset(OnsetData(records=records, dt_levels={task: (1.0,)}, settings=full), {})
    assert "| MazeNavigation | 5 | 1 |" in text
    assert "fewer seeds on MazeNavigation (1 seed), PathIntegration2D (1 seed)" in text
    text = render_onset(OnsetData(records=records, dt_levels={task: (1.0,)},
                                  settings=O.OnsetSettings.quick()), {})
    assert "fewer seeds" not in text
