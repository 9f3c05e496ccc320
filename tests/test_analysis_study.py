"""Reduced version of examples/analysis_study.py on freshly trained networks (slow: ~3-8 min)."""

import importlib.util
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "examples" / "analysis_study.py"


@pytest.mark.slow
def test_reduced_analysis_study(tmp_path):
    spec = importlib.util.spec_from_file_location("analysis_study", STUDY)
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    s = study.main(["--out", str(tmp_path), "--quick"])
    # noise inside f: removing the noise hurts; the shift predicts by how much
    assert s["pre_loss_0"] > 2 * s["pre_loss_sigma"]
    assert s["corr_all"] > 0.9
    assert s["pre_report_shift_r2"] > 0.8 and s["pre_report_shift_r2_dynamic"] > 0.9
    assert s["rel_err_traj_pre"] < 0.2
    # compensation closes most of the zero-noise gap of every noise-in network
    assert min(s["gap_closed_activation"]) > 0.5
    # noise-in networks keep more pre-activations near the kink than noise-out networks
    assert s["pre_within1_masked"] > s["post_within1_masked"]
    assert (tmp_path / "results.json").exists()
