"""Figures: noise-preference curves and trial traces draw what they say (no display needed)."""

import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise, tasks
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve
from brian_noisy_rnn.plotting import (plot_noise_preference, plot_noise_preference_panels,
                                      plot_trial_traces, save_figure)


def make_curve(placement="pre", backend="torch", seed=0, sigma_train=1.0, scale=1.0):
    sigmas = np.linspace(0, 2 * sigma_train, 5)
    mean = scale * (0.01 + (sigmas - (sigma_train if placement == "pre" else 0)) ** 2)
    curve = NoisePreferenceCurve(
        sigmas=sigmas, metric="mse", higher_is_better=False, mean=mean, sem=0.1 * mean,
        n_trials=100, placement=placement, process="white", sigma_train=sigma_train,
        train_placement=placement, backend=backend, seed=1, task="FunctionApproximation-v0")
    curve.cell = {"seed": seed}
    return curve


def test_curves_with_error_bars_training_sigma_and_best_point():
    curves = [make_curve(backend=b, seed=s) for b in ("torch", "brian2") for s in (0, 1)]
    ax = plot_noise_preference(curves).axes[0]
    assert len(ax.containers) == 4  # one errorbar container per curve
    vlines = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and np.allclose(ln.get_xdata(), 1.0)]
    assert vlines, "the training sigma is marked"
    stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert len(stars) == 4 and all(ln.get_xdata()[0] == 1.0 for ln in stars)
    assert ax.get_yscale() == "log"  # loss spanning > 5x
    labels = ax.get_legend().get_texts()
    assert {t.get_text() for t in labels} == {"torch, seed 0", "torch, seed 1",
                                               "brian2, seed 0", "brian2, seed 1"}
    # Brian2 dashed, torch solid, same colour for the same seed
    lines = {c.get_label(): c.lines[0] for c in ax.containers}
    assert lines["torch, seed 0"].get_linestyle() == "-"
    assert lines["brian2, seed 0"].get_linestyle() == "--"
    assert lines["torch, seed 0"].get_color() == lines["brian2, seed 0"].get_color()
    assert lines["torch, seed 0"].get_color() != lines["torch, seed 1"].get_color()


def test_relative_axis_and_linear_scale():
    ax = plot_noise_preference(make_curve(sigma_train=0.5, scale=1e-3 + 0.0), relative=True,
                               log_y=False).axes[0]
    x = ax.containers[0].lines[0].get_xdata()
    np.testing.assert_allclose(x, [0, 0.5, 1, 1.5, 2])
    assert ax.get_yscale() == "linear"


def test_one_panel_per_training_placement():
    curves = [make_curve(p, b) for p in ("pre", "post") for b in ("torch", "brian2")]
    fig = plot_noise_preference_panels(curves)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2
    assert "inside" in visible[0].get_title() and "outside" in visible[1].get_title()


def test_curve_argument_errors():
    with pytest.raises(ValueError, match="curves"):
        plot_noise_preference([])
    with pytest.raises(TypeError, match="curves"):
        plot_noise_preference([{"sigmas": [0]}])


def test_trial_traces_columns_and_rows(make_spec, tmp_path):
    env = tasks.make("FunctionApproximation-v0", dt=20)
    spec = make_spec(5, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", sigma=0.7))
    fig = plot_trial_traces(spec, env, n_trials=2, n_units=3)
    axes = fig.axes
    assert len(axes) == 3 * 2  # rows: inputs, outputs, hidden; columns: sigma 0 and 0.7
    assert "sigma = 0" in axes[0].get_title() and "sigma = 0.7" in axes[1].get_title()
    assert len(axes[0].lines) == 2 and len(axes[-1].lines) == 3
    # without noise the outputs of the two columns differ (noise is on in the second)
    out0 = axes[2].lines[0].get_ydata()
    out1 = axes[3].lines[0].get_ydata()
    assert not np.allclose(out0, out1)
    path = save_figure(fig, tmp_path / "sub" / "traces.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["traces.png"]  # no temp files
    with pytest.raises(ValueError, match="n_units"):
        plot_trial_traces(spec, env, n_units=-1)
    with pytest.raises(ValueError, match="sigmas"):
        plot_trial_traces(spec, env, sigmas=[0, -1])


def test_every_plot_function_returns_a_figure_that_save_figure_takes(make_spec, tmp_path):
    from matplotlib.figure import Figure

    curves = [make_curve("pre"), make_curve("post")]
    spec = make_spec(4, n_in=1, n_out=1, dt=20 * ms, noise=Noise("pre", sigma=0.5))
    figs = [plot_noise_preference(curves), plot_noise_preference_panels(curves),
            plot_trial_traces(spec, "FunctionApproximation-v0", n_trials=1, n_units=1),
            curves[0].plot()]
    assert all(type(f) is Figure for f in figs)
    # into a given Axes of a SubFigure: the root Figure comes back
    root = plt.figure()
    ax = root.subfigures(1, 2)[1].subplots()
    assert plot_noise_preference(curves, ax=ax) is root
    # save_figure takes a Figure, a SubFigure or an Axes (its whole figure)
    for i, what in enumerate((root, ax, ax.figure)):
        path = save_figure(what, tmp_path / f"f{i}.png")
        assert open(path, "rb").read(4) == b"\x89PNG"
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        save_figure("figure", tmp_path / "x.png")
    with pytest.raises(TypeError, match="ax must be a matplotlib Figure"):
        plot_noise_preference(curves, ax="left")


def test_figures_belong_to_pyplot_so_plt_show_shows_them(tmp_path):
    """New figures are registered with pyplot's figure manager (what plt.show() displays);
    save_figure(close=True) releases them."""
    fig = make_curve().plot()
    assert fig.number in plt.get_fignums() and fig.canvas.manager is not None
    save_figure(fig, tmp_path / "c.png", close=True)
    assert fig.number not in plt.get_fignums()
    assert os.path.isfile(tmp_path / "c.png")


def test_curve_plot_is_plot_noise_preference():
    curve = make_curve(sigma_train=0.5)
    fig = curve.plot(relative=True, log_y=False, title="one curve")
    ax = fig.axes[0]
    assert len(ax.containers) == 1 and ax.get_title() == "one curve"
    np.testing.assert_allclose(ax.containers[0].lines[0].get_xdata(), [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), curve.mean)
    # onto an existing Axes: two curves overlaid
    assert make_curve("post").plot(ax=ax) is fig and len(ax.containers) == 2


def test_curve_plot_draws_with_the_plotting_function_by_a_plain_import():
    """curve.plot() and plotting draw with one function, which lives in the evaluation layer,
    so the import is one the layer contract sees (no module name resolved at run time)."""
    import inspect

    import brian_noisy_rnn.plotting as plotting
    from brian_noisy_rnn.evaluation import curve_figures, curves

    assert plotting.plot_noise_preference is curve_figures.plot_noise_preference
    assert plotting.new_figure is curve_figures.new_figure
    assert "import_module" not in inspect.getsource(curves)


def test_curves_of_different_networks_get_colours_and_names():
    """Curves of different networks (not from a database: no grid seed) are told apart by
    their spec hash: distinct colours and one legend entry per network (issue 23: one
    colour and a legend naming only the backend); ``labels=`` names them."""
    curves = []
    for h, st in (("aaaaaaa111", 1.0), ("bbbbbbb222", 0.5)):
        c = make_curve(sigma_train=st)
        c.cell, c.spec_hash = None, h
        curves.append(c)
    ax = plot_noise_preference(curves).axes[0]
    colours = {c.get_label(): c.lines[0].get_color() for c in ax.containers}
    assert set(colours) == {"torch, trained pre 1, spec aaaaaaa", "torch, trained pre 0.5, spec bbbbbbb"}
    assert len(set(colours.values())) == 2
    ax = plot_noise_preference(curves, labels=["wide", "narrow"]).axes[0]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"torch, wide", "torch, narrow"}
    with pytest.raises(ValueError, match="labels must be a sequence of 2 strings"):
        plot_noise_preference(curves, labels=["one"])
