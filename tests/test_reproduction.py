"""``brian-noisy-rnn reproduce``: verdict rules, verdicts from rows, report rendering, the
grid's metric option, and (slow) the quick run end to end with verdicts recomputed from its
data and changed by perturbing it."""

import csv
import json
import math
import re
import sqlite3

import numpy as np
import pytest

from brian_noisy_rnn.cli import main
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve
from brian_noisy_rnn.experiments import GridError, grid_from_dict
from brian_noisy_rnn.experiments.reproduction import FAMILIES, Protocol
from brian_noisy_rnn.experiments.reproduction import report as R
from brian_noisy_rnn.experiments.reproduction import verdicts as V

FA, SNR = FAMILIES[0], FAMILIES[1]


# --- rules ----------------------------------------------------------------------------------

def test_noise_in_effect_needs_a_nonzero_preference_and_a_clear_paired_difference():
    assert V.noise_in_effect(1.0, 0.3, 0.01)
    assert not V.noise_in_effect(0.0, 0.3, 0.01)            # prefers no noise
    assert not V.noise_in_effect(1.0, 0.019, 0.01)          # < 2 SE
    assert V.noise_in_effect(1.0, 0.021, 0.01)
    assert not V.noise_in_effect(1.0, -0.3, 0.01)           # better at 0
    assert V.noise_in_effect(1.0, -0.3, 0.01, higher_is_better=True)  # accuracy: lower at 0
    assert V.noise_in_effect(1.0, 0.1, float("nan"))        # no SE: just worse
    assert not V.noise_in_effect(float("nan"), 0.1, 0.01)


def test_noise_out_and_count_and_c1_combination():
    assert V.noise_out_as_expected(0.0, 1.0) and V.noise_out_as_expected(0.25, 1.0)
    assert not V.noise_out_as_expected(0.5, 1.0)
    assert V.count_verdict([True, True], "x").label == "reproduced"
    assert V.count_verdict([True, False, False], "x").label == "partly"
    assert V.count_verdict([False], "x").label == "not"
    assert V.count_verdict([], "x").label == "not run"
    rep, no, run0 = V.Verdict("reproduced", 3, 3), V.Verdict("not", 0, 3), V.Verdict("not run")
    # C1 is labelled by its claim (noise inside f); noise outside f is the control beside it
    assert V.c1_verdict(rep, rep).label == "reproduced"
    both = V.c1_verdict(no, rep)
    assert both.label == "not" and (both.passed, both.total) == (0, 3)  # never "partly" at 0/3
    assert both.detail == "inside f 0/3; control (outside f ~0) 3/3"
    failed = V.c1_verdict(rep, no)
    assert failed.label == "reproduced" and failed.detail.endswith("control (outside f ~0) 0/3")
    assert V.c1_verdict(V.Verdict("partly", 1, 3), rep).label == "partly"
    assert V.c1_verdict(run0, run0).label == "not run"
    assert V.c1_verdict(run0, rep).label == "not run"
    assert V.c1_verdict(rep, run0).detail.endswith("control (outside f ~0) not run")


def test_c2_onset_is_the_level_from_which_every_level_shows_the_effect():
    levels = [0.1, 0.25, 0.5, 1.0, 2.0]
    assert V.c2_onset(levels, [0, 3, 2, 3, 3], [3] * 5) == 1.0
    assert V.c2_onset(levels, [0, 3, 3, 3, 3], [3] * 5) == 0.25
    assert V.c2_onset(levels, [3, 3, 3, 3, 2], [3] * 5) is None
    assert V.c2_verdict(levels, [0, 3, 2, 3, 3], [3] * 5).label == "reproduced"
    assert V.c2_verdict(levels, [0, 0, 0, 1, 3], [3] * 5, default_sigma=1.0).label == "partly"
    assert V.c2_verdict(levels, [0] * 5, [3] * 5).label == "not"
    assert V.c2_verdict(levels, [0] * 5, [0] * 5).label == "not run"


def test_c4_c5_and_compensation_rules():
    assert V.c4_network_ok(0.30, 0.36) and not V.c4_network_ok(0.30, 0.50)
    assert V.c4_network_ok(-0.02, -0.015) and not V.c4_network_ok(0.1, float("nan"))
    assert V.c5_network_ok(1.0, 1.0, 0.3, 0.05)
    assert not V.c5_network_ok(0.5, 1.0, 0.3, 0.05)         # prefers another size
    assert not V.c5_network_ok(1.0, 1.0, 0.3, 0.2)          # noise outside f helps as much
    assert V.gap_closed(0.3, 0.03, 0.02) == pytest.approx((0.3 - 0.02) / 0.27)
    assert math.isnan(V.gap_closed(0.01, 0.03, 0.02))       # no gap
    assert V.gap_closed(0.5, 0.9, 0.8, higher_is_better=True) == pytest.approx(0.75)
    assert V.compensation_ok(-0.01, 0.001) and V.compensation_ok(0.0015, 0.001)
    assert not V.compensation_ok(0.0025, 0.001) and not V.compensation_ok(float("nan"), 0.1)
    assert not V.compensation_ok(-0.01, 0.001, higher_is_better=True)


# --- verdicts from rows ---------------------------------------------------------------------

def _curve(task, placement, seed, at_zero, at_train, sigma_train=1.0, best=None, metric="mse"):
    sigmas = np.array([0.0, 0.5, 1.0, 2.0]) * sigma_train
    mean = np.array([at_zero, (at_zero + at_train) / 2, at_train, at_train * 1.5])
    if best is not None:
        mean[int(np.flatnonzero(np.isclose(sigmas, best))[0])] = min(at_zero, at_train) * 0.5
    return NoisePreferenceCurve(
        sigmas=sigmas, metric=metric, higher_is_better=False, mean=mean,
        sem=np.full(4, 0.001), n_trials=100, placement=placement, process="white",
        sigma_train=sigma_train, train_placement=placement, backend="torch", seed=1234,
        task=task, cell={"seed": seed, "grid_name": "test", "steps": 10})


def _rows(task=FA, effect=(True, True, True), claim="C1", sigma_train=1.0):
    rows = []
    for seed, shows in enumerate(effect):
        pre = _curve(task, "pre", seed, 0.3 if shows else 0.01, 0.03, sigma_train)
        post = _curve(task, "post", seed, 0.01, 0.03, sigma_train)
        for curve in (pre, post):
            d = curve.metric_at_zero - curve.metric_at_train
            rows.append(R.curve_row(curve, claim, diff=d, diff_sem=0.005))
    return rows


def test_verdicts_follow_the_rows():
    v = R.compute_verdicts(_rows(), {})
    assert v["C1", FA].label == "reproduced" and v["C1 inside", FA].passed == 3
    assert v["C1", SNR].label == "not run" and v["C1", R.CLOSED_LOOP].label == "not run"
    v = R.compute_verdicts(_rows(effect=(True, False, True)), {})
    assert v["C1", FA].label == "partly" and v["C1 inside", FA].passed == 2
    v = R.compute_verdicts(_rows(effect=(False,) * 3), {})
    assert v["C1 inside", FA].label == "not" and v["C1", FA].label == "not"  # a 0/3 claim
    # C2: levels 0.25 (no effect) and 1, 2 (effect) -> onset 1, reproduced
    rows = (_rows(claim="C2", effect=(False,) * 3, sigma_train=0.25)
            + _rows(claim="C2", sigma_train=1.0) + _rows(claim="C2", sigma_train=2.0))
    v = R.compute_verdicts(rows, {})
    assert v["C2", FA].label == "reproduced" and v["C2 onset", FA].detail == "1"
    assert v["C2", SNR].label == "not run"


def test_analyses_verdicts_and_missing_data():
    """C4's verdict uses the independent fixed-point prediction, its original rule (the
    trajectory, a consistency check) is kept beside it; compensation keeps the rule fixed
    before the data (gap closed >= 50 %, networks with a gap) beside its verdict."""
    comp = {"at_zero": 0.5, "at_train": 0.1, "zero_minus_train": 0.4, "seed": 0,
            "zero_minus_train_sem": 0.01, "higher_is_better": False, "metric": "mse"}
    c4 = {"seed": 0, "loss_det": 0.4, "loss_noisy": 0.1, "shift_r2": 0.9}
    analyses = {
        "c4": [{**c4, "task": FA, "placement": "pre", "delta_measured": 0.3,
                "delta_predicted": 0.36, "delta_predicted_dynamic": 0.33},
               {**c4, "task": FA, "placement": "post", "delta_measured": -0.02,
                "delta_predicted": -0.021, "delta_predicted_dynamic": -0.05}],
        "compensation": [{**comp, "task": FA, "compensated": 0.09,
                          "compensated_minus_train": -0.02, "compensated_minus_train_sem": 0.001},
                         {**comp, "task": SNR, "compensated": 0.4,  # closes 25 % of its gap
                          "compensated_minus_train": 0.01, "compensated_minus_train_sem": 0.001},
                         {**comp, "task": SNR, "compensated": 0.1, "zero_minus_train": 0.0,
                          "compensated_minus_train": 0.0, "compensated_minus_train_sem": 0.001}],
    }
    v = R.compute_verdicts([], analyses)
    assert v["C4", FA].label == "reproduced" and (v["C4", FA].passed, v["C4", FA].total) == (2, 2)
    assert v["C4 trajectory", FA].label == "partly" and v["C4 trajectory", FA].passed == 1
    assert v["C4", SNR].label == "not run" and v["C5", FA].label == "not run"
    assert v["compensation", FA].label == "reproduced"
    assert v["compensation gap", FA].label == "reproduced"
    assert v["compensation", SNR].label == "partly"  # one worse than the noisy network by 10 SE
    # the network without a gap is not counted by the original rule; the other closes 25 %
    assert (v["compensation gap", SNR].label, v["compensation gap", SNR].total) == ("not", 1)
    v_nogap = R.compute_verdicts([], {"compensation": [analyses["compensation"][2]]})
    assert v_nogap["compensation gap", SNR].label == "n/a"  # data, but no gap: not "not run"
    assert v_nogap["compensation gap", FA].label == "not run"
    text = R.render_report({"command": "x", "date": "today", "versions": {}, "seeds": [0]},
                           [], analyses, v, {})
    c4 = text[text.index(R._CLAIM_TITLES["C4"]):text.index(R._CLAIM_TITLES["C5"])]
    assert c4.index("trajectory prediction within 50%") < c4.index("fixed-point prediction within")
    assert "| +20% |" in c4  # 0.36 against 0.3
    comp_text = text[text.index(R._CLAIM_TITLES["compensation"]):]
    assert comp_text.index("gap closed >= 50%") < comp_text.index("not worse than the original")
    assert v["C3", R.FEEDFORWARD].label == "not run"


def test_report_has_every_section_and_states_missing_data(tmp_path):
    rows = _rows()
    verdicts = R.compute_verdicts(rows, {})
    figures = R.make_figures(rows, {}, verdicts, str(tmp_path))
    assert set(figures) == {"C1"} and (tmp_path / figures["C1"]).stat().st_size < 200_000
    text = R.render_report({"command": "brian-noisy-rnn reproduce", "date": "today",
                            "versions": {"numpy": np.__version__}, "seeds": [0, 1, 2]},
                           rows, {}, verdicts, figures, Protocol.full().describe())
    for claim in R.CLAIMS:
        assert R._CLAIM_TITLES[claim] in text
    assert "brian-noisy-rnn reproduce" in text and f"numpy {np.__version__}" in text
    line = next(li for li in text.splitlines() if li.startswith("| C1 |"))
    assert line.split("|")[2].strip() == "reproduced (inside f 3/3; control 3/3)"
    assert "not run" in line  # the other families have no data
    assert "![C1](c1.png)" in text and "![C2]" not in text
    assert "**Verdict: not run**" in text  # e.g. C3 without feedforward data


def test_a_claim_is_one_entry_of_the_section_table(monkeypatch):
    """A section appended to ``CLAIM_SECTIONS`` gets its heading, its body and a verdict-table
    row (its verdicts: "—" where it has none), after the paper's claims."""
    toy = R.ClaimSection("C6", "C6: a toy claim", lambda data: [f"{len(data.rows)} rows", ""])
    monkeypatch.setattr(R, "CLAIM_SECTIONS", R.CLAIM_SECTIONS + (toy,))
    rows = _rows()
    verdicts = {**R.compute_verdicts(rows, {}), ("C6", FA): V.Verdict("reproduced", 1, 1)}
    text = R.render_report({}, rows, {}, verdicts, {})
    assert "## C6: a toy claim\n\n6 rows\n" in text
    assert text.index("## C6") > text.index(f"## {R._CLAIM_TITLES['compensation']}")
    row = next(li for li in text.splitlines() if li.startswith("| C6 |"))
    assert row.split("|")[2].strip() == "reproduced (1/1)" and "—" in row


# --- the grid's metric ----------------------------------------------------------------------

def _grid(**sweep):
    return {"grid": {"tasks": [FA], "placements": ["pre"], "train_sigmas": [1.0], "seeds": [0]},
            "sweep": {"sigmas": [0.0, 1.0], **sweep}}


def test_grid_metric_is_part_of_the_cell_config_only_when_set():
    plain = grid_from_dict(_grid()).cells()[0]
    nmse = grid_from_dict(_grid(metric="nmse")).cells()[0]
    assert "metric" not in plain.config and nmse.config["metric"] == "nmse"
    assert plain.key != nmse.key and plain.train_key == nmse.train_key  # same network
    assert grid_from_dict(grid_from_dict(_grid(metric="nmse")).to_dict()).metric == "nmse"
    with pytest.raises(GridError, match=r"sweep\.metric.*'accuracy'.*mse"):
        grid_from_dict(_grid(metric="accuracy"))


def test_cli_refuses_workers_and_scheduler_together(capsys, tmp_path):
    code = main(["reproduce", "--quick", "--out", str(tmp_path / "o"), "--workers", "1",
                 "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2 and "--scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- the quick run (slow) -------------------------------------------------------------------

def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _fa_c1_from_csv(rows):
    """Recompute FunctionApproximation's C1 verdicts from summary.csv with the rules."""
    sel = [r for r in rows if r["claim"] == "C1" and r["task"] == FA and r["backend"] == "torch"]
    pre = [V.noise_in_effect(float(r["preferred_sigma"]), float(r["diff"]), float(r["diff_sem"]),
                             r["higher_is_better"] == "True") for r in sel if r["placement"] == "pre"]
    post = [V.noise_out_as_expected(float(r["preferred_sigma"]), float(r["train_sigma"]))
            for r in sel if r["placement"] == "post"]
    return V.c1_verdict(V.count_verdict(pre, ""), V.count_verdict(post, "")).label


@pytest.mark.slow
def test_quick_reproduction_end_to_end(tmp_path, capsys):
    out = tmp_path / "repro"
    assert main(["reproduce", "--quick", "--out", str(out), "--workers", "2",
                 "--no-progress"]) == 0
    text = (out / "report.md").read_text()
    for claim in R.CLAIMS:
        assert f"## {R._CLAIM_TITLES[claim]}" in text
    for family in FAMILIES:
        assert f"### {family}" in text
    assert "### MazeNavigationClosedLoop-v0" in text and "Brian2-vs-torch difference" in text
    for name in ("c1", "c2", "c3", "c4", "c5", "compensation"):
        assert (out / f"{name}.png").stat().st_size < 200_000
    links = re.findall(r"\]\(([^)#]+)\)", text)  # every figure and CSV the report links
    assert {"onset.csv", "summary.csv", "verdicts.csv", "results.csv", "phase.png"} <= set(links)
    assert all((out / link).is_file() for link in links), links
    verdicts = {(r["claim"], r["column"]): r for r in _read_csv(out / "verdicts.csv")}
    # the FunctionApproximation verdicts are those of the rules applied to the CSV's rows
    assert verdicts["C1", FA]["verdict"] == _fa_c1_from_csv(_read_csv(out / "summary.csv"))
    before = verdicts["C1 inside", FA]["verdict"]
    assert before == "reproduced"  # 300 steps suffice on FunctionApproximation

    # perturb the stored FunctionApproximation noise-inside curves: best at sigma 0, better
    # there than at sigma_train; the rerun (nothing to train) must say so
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute("SELECT cell_key, curve_json FROM cells WHERE task = ? AND placement = "
                       "'pre' AND grid_name LIKE 'c1-%'", (FA,)).fetchall()
    assert rows
    for key, curve_json in rows:
        curve = json.loads(curve_json)
        curve["mean"][0] = min(m for m in curve["mean"] if m is not None) / 2
        con.execute("UPDATE cells SET curve_json = ?, zero_minus_train = -1.0, "
                    "zero_minus_train_sem = 0.01 WHERE cell_key = ?", (json.dumps(curve), key))
    con.commit()
    con.close()
    assert main(["reproduce", "--quick", "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    verdicts = {(r["claim"], r["column"]): r for r in _read_csv(out / "verdicts.csv")}
    assert verdicts["C1 inside", FA]["verdict"] == "not"
    assert verdicts["C1", FA]["verdict"] == _fa_c1_from_csv(_read_csv(out / "summary.csv"))
    assert "inside f 0/1" in (out / "report.md").read_text()
