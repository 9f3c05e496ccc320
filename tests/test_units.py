"""Units the Brian2 way: dimensionless arguments refuse quantities with dimensions (and
booleans and complex numbers), physical arguments check their dimensions; one helper,
``core.validation.as_dimensionless``, behind every boundary."""

import warnings

import numpy as np
import pytest
from brian2 import DimensionMismatchError, Hz, kHz, mV, ms, second

from brian_noisy_rnn import CTRNNSpec, Noise, RateCTRNN, SpikingRealization, simulate, tasks
from brian_noisy_rnn.analysis import (compensate, fixed_points, mean_field_fixed_point,
                                      noisy_activation, operating_point_stats,
                                      reached_fixed_point, single_neuron_shift,
                                      single_neuron_spec, stationary_stats)
from brian_noisy_rnn.backends.spiking.effective_noise import effective_sigma, population_for_sigma
from brian_noisy_rnn.backends.spiking.run import measure_effective_sigma
from brian_noisy_rnn.core.validation import as_dimensionless, check_inputs
from brian_noisy_rnn.evaluation.curves import noise_preference, sigma_grid


@pytest.fixture(scope="module")
def spec():
    from conftest import random_spec

    return random_spec(4, 3, 2, noise=Noise("pre", 0.5), dt=20 * ms)


@pytest.fixture(scope="module")
def fa_spec():
    from conftest import random_spec

    return random_spec(4, 1, 1, noise=Noise("pre", 0.5), dt=20 * ms)


@pytest.fixture(scope="module")
def env():
    return tasks.make("FunctionApproximation-v0", dt=20)


U = np.ones((5, 1, 3))


def _spec_args(spec, **changes):
    args = dict(w_in=spec.w_in, w_rec=spec.w_rec, b=spec.b, w_out=spec.w_out, b_out=spec.b_out,
                tau=spec.tau, dt=spec.dt, activation=spec.activation, h0=spec.h0)
    args.update(changes)
    return args


# (argument name, call(spec, fa_spec, env)) with a quantity that has dimensions
DIMENSIONLESS_BOUNDARIES = {
    "RateCTRNN.set_inputs": ("inputs", lambda s, f, e: RateCTRNN(s, 1).set_inputs(U * mV)),
    "Noise.sigma": ("sigma", lambda s, f, e: Noise("pre", 0.5 * mV)),
    "Noise.sigma per neuron": ("sigma", lambda s, f, e: Noise("post", [0.1, 0.2] * mV)),
    "simulate.inputs": ("inputs", lambda s, f, e: simulate(s, U * kHz, backend="numpy")),
    "simulate.inputs list": ("inputs", lambda s, f, e: simulate(
        s, [[[1 * mV, 1 * mV, 1 * mV]]], backend="numpy")),
    "check_inputs mixed list": ("inputs", lambda s, f, e: check_inputs(
        s, [[[0.5, 1 * mV, 1.0]]])),
    "noise_preference.sigmas": ("sigmas", lambda s, f, e: noise_preference(
        f, e, [0, 1] * ms, backend="numpy", n_trials=4, seed=0)),
    "sigma_grid.sigma_train": ("sigma_train", lambda s, f, e: sigma_grid([0.5], 1 * mV)),
    "CTRNNSpec.w_in": ("w_in", lambda s, f, e: CTRNNSpec(**_spec_args(s, w_in=s.w_in * mV))),
    "CTRNNSpec.w_rec": ("w_rec", lambda s, f, e: CTRNNSpec(**_spec_args(s, w_rec=s.w_rec * Hz))),
    "CTRNNSpec.b": ("b", lambda s, f, e: CTRNNSpec(**_spec_args(s, b=s.b * mV))),
    "CTRNNSpec.b_out": ("b_out", lambda s, f, e: CTRNNSpec(**_spec_args(s, b_out=s.b_out * mV))),
    "CTRNNSpec.h0": ("h0", lambda s, f, e: CTRNNSpec(**_spec_args(s, h0=s.h0 * mV))),
    "stationary_stats.u": ("u", lambda s, f, e: stationary_stats(s, [1, 1, 1] * mV)),
    "stationary_stats.h_start": ("h_start", lambda s, f, e: stationary_stats(
        s, [1, 1, 1], h_start=s.h0 * mV, burn_in=1)),
    "mean_field_fixed_point.u": ("u", lambda s, f, e: mean_field_fixed_point(s, np.ones(3) * mV)),
    "fixed_points.sigma": ("sigma", lambda s, f, e: fixed_points(s, [1, 1, 1], sigma=0.5 * mV)),
    "fixed_points.starts": ("starts", lambda s, f, e: fixed_points(
        s, [1, 1, 1], starts=np.ones(4) * mV)),
    "reached_fixed_point.start": ("start", lambda s, f, e: reached_fixed_point(
        s, [1, 1, 1], start=np.ones(4) * mV)),
    "compensate.sigma": ("sigma", lambda s, f, e: compensate(s, 0.5 * mV)),
    "single_neuron_shift.commands": ("commands", lambda s, f, e: single_neuron_shift(
        single_neuron_spec(), [0.5] * mV, [0.5])),
    "single_neuron_shift.sigmas": ("sigmas", lambda s, f, e: single_neuron_shift(
        single_neuron_spec(), [0.5], [0.5] * mV)),
    "operating_point_stats.sigma": ("sigma", lambda s, f, e: operating_point_stats(
        s, U, sigma=0.5 * mV)),
    "noisy_activation.a": ("a", lambda s, f, e: noisy_activation("relu", 1 * mV, 0.5)),
    "noisy_activation.sigma": ("sigma", lambda s, f, e: noisy_activation("relu", 1.0, 0.5 * mV)),
    "plot_trial_traces.sigmas": ("sigmas", lambda s, f, e: __import__(
        "brian_noisy_rnn.plotting", fromlist=["x"]).plot_trial_traces(f, e, sigmas=[0.5] * mV)),
    "FunctionApproximation.x_range": ("x_range", lambda s, f, e: tasks.make(
        "FunctionApproximation-v0", x_range=(-1, 1) * mV)),
    "SingleNeuronRegulator.command_range": ("command_range", lambda s, f, e: tasks.make(
        "SingleNeuronRegulator-v0", command_range=[0.1, 1.0] * mV)),
    "PathIntegration.arena_size": ("arena_size", lambda s, f, e: tasks.make(
        "PathIntegration2D-v0", arena_size=1 * mV)),
    "population_for_sigma.sigma": ("sigma", lambda s, f, e: population_for_sigma(
        0.5 * mV, dt=20 * ms, tau=100 * ms)),
    "effective_sigma.activity": ("activity", lambda s, f, e: effective_sigma(
        dt=20 * ms, tau=100 * ms, neurons_per_unit=5, rate_max=50 * Hz, activity=0.5 * mV)),
    "measure_effective_sigma.activity": ("activity", lambda s, f, e: measure_effective_sigma(
        dt=20 * ms, tau=100 * ms, neurons_per_unit=5, rate_max=50 * Hz, activity=0.5 * mV)),
}


@pytest.mark.parametrize("boundary", sorted(DIMENSIONLESS_BOUNDARIES))
def test_dimensionless_argument_refuses_a_quantity_with_dimensions(boundary, spec, fa_spec, env):
    name, call = DIMENSIONLESS_BOUNDARIES[boundary]
    with pytest.raises(DimensionMismatchError) as info:
        call(spec, fa_spec, env)
    message = str(info.value)
    assert message.startswith(name + " ") and "dimensionless" in message, message
    assert "unit is" in message  # Brian2's own suffix names the unit that was given
    assert isinstance(info.value, ValueError)  # ValueError handlers (e.g. the CLI) catch it


# time and rate arguments given a quantity of another dimension
PHYSICAL_BOUNDARIES = {
    "CTRNNSpec.tau": ("tau", lambda s: CTRNNSpec(**_spec_args(s, tau=10 * mV))),
    "CTRNNSpec.dt": ("dt", lambda s: CTRNNSpec(**_spec_args(s, dt=1 * Hz))),
    "Noise.tau_noise": ("tau_noise", lambda s: Noise("pre", 0.1, process="ou", tau_noise=5 * mV)),
    "tasks.make.dt": ("dt", lambda s: tasks.make("FunctionApproximation-v0", dt=20 * mV)),
    "PathIntegration.velocity_tau": ("velocity_tau", lambda s: tasks.make(
        "PathIntegration2D-v0", velocity_tau=200 * mV)),
    "MazeNavigation.response_delay": ("response_delay", lambda s: tasks.make(
        "MazeNavigation-v0", response_delay=40 * mV)),
    "SpikingRealization.rate_max": ("rate_max", lambda s: SpikingRealization(
        s.replace(activation="relu"), 2, 50 * ms)),
    "SpikingRealization.tau_syn": ("tau_syn", lambda s: SpikingRealization(
        s.replace(activation="relu"), 2, 50 * Hz, tau_syn=5 * mV)),
    "RateCTRNN.set_inputs.start": ("start", lambda s: RateCTRNN(s, 1).set_inputs(U, start=0 * mV)),
}


@pytest.mark.parametrize("boundary", sorted(PHYSICAL_BOUNDARIES))
def test_physical_argument_refuses_a_quantity_of_another_dimension(boundary, spec):
    name, call = PHYSICAL_BOUNDARIES[boundary]
    with pytest.raises(DimensionMismatchError) as info:
        call(spec)
    assert str(info.value).startswith(name + " "), str(info.value)
    assert "unit is" in str(info.value)


def test_time_arguments_of_tasks_take_brian2_times():
    env = tasks.make("PathIntegration2D-v0", dt=10 * ms, velocity_tau=0.2 * second)
    assert env.unwrapped.dt == 10 and env.unwrapped.velocity_tau == 200.0
    maze = tasks.make("MazeNavigation-v0", response_delay=40 * ms)
    assert maze.unwrapped.response_delay == 40.0


def test_dimensionless_quantities_and_plain_numbers_agree(spec):
    one = mV / mV  # a dimensionless Brian2 quantity
    assert Noise("pre", 0.5 * one) == Noise("pre", 0.5)
    assert Noise("post", np.array([0.1, 0.2]) * one) == Noise("post", [0.1, 0.2])
    a = simulate(spec, U, backend="numpy", seed=1)
    b = simulate(spec, U * (kHz * ms), backend="numpy", seed=1)  # kHz * ms == 1
    np.testing.assert_array_equal(a.outputs, b.outputs)
    np.testing.assert_array_equal(sigma_grid(np.array([0.5, 1.0]) * one, 0.25),
                                  sigma_grid([0.5, 1.0], 0.25))
    assert CTRNNSpec(**_spec_args(spec, w_in=spec.w_in * one, noise=spec.noise)) == spec


@pytest.mark.parametrize("value", [True, [True, False], np.ones(3, dtype=bool), [0.5, True]])
def test_booleans_are_not_numbers(value):
    with pytest.raises(TypeError, match="^x .*boolean"):
        as_dimensionless(value, "x")


@pytest.mark.parametrize("value", [1j, [1 + 2j], np.ones(3) * (1 + 0j), [0.5, 1j]])
def test_complex_values_are_refused(value):
    with pytest.raises(TypeError, match="^x must be real"):
        as_dimensionless(value, "x")


@pytest.mark.parametrize("value", [None, "0.5", ["1"], {}, [None, 1.0]])
def test_non_numbers_are_refused(value):
    with pytest.raises(TypeError, match="^x "):
        as_dimensionless(value, "x")


BOOL_AND_COMPLEX_BOUNDARIES = {
    "Noise.sigma bool": ("sigma", lambda s: Noise("pre", True)),
    "sigma_grid bools": ("sigmas", lambda s: sigma_grid([True, False])),
    "simulate bool inputs": ("inputs", lambda s: simulate(
        s, np.ones((5, 1, 3), dtype=bool), backend="numpy")),
    "simulate complex inputs": ("inputs", lambda s: simulate(s, U * (1 + 1j), backend="numpy")),
    "CTRNNSpec complex w_in": ("w_in", lambda s: CTRNNSpec(**_spec_args(s, w_in=s.w_in * 1j))),
    "CTRNNSpec complex w_rec": ("w_rec", lambda s: CTRNNSpec(
        **_spec_args(s, w_rec=s.w_rec.astype(complex)))),
    "CTRNNSpec bool b": ("b", lambda s: CTRNNSpec(**_spec_args(s, b=np.ones(4, dtype=bool)))),
}


@pytest.mark.parametrize("boundary", sorted(BOOL_AND_COMPLEX_BOUNDARIES))
def test_booleans_and_complex_refused_at_the_boundary(boundary, spec):
    name, call = BOOL_AND_COMPLEX_BOUNDARIES[boundary]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        with pytest.raises(TypeError) as info:
            call(spec)
    assert str(info.value).startswith(name + " "), str(info.value)


def test_spec_file_with_a_complex_array_is_refused(spec, tmp_path):
    path = spec.save(tmp_path / "net.npz")
    with np.load(path) as data:
        contents = {k: data[k] for k in data.files}
    contents["w_in"] = contents["w_in"] * (1 + 0.5j)
    bad = tmp_path / "complex.npz"
    np.savez(bad, **contents)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="w_in.? must (be real|hold numbers)"):
            CTRNNSpec.load(bad)


CLI_BAD_FLAGS = [
    (["train", "--task", "X", "--out", "o", "--dt-ms", "20mV"], "--dt-ms", "mV"),
    (["train", "--task", "X", "--out", "o", "--tau-ms", "1kHz"], "--tau-ms", "kHz"),
    (["train", "--task", "X", "--out", "o", "--tau-noise-ms", "5mV"], "--tau-noise-ms", "mV"),
    (["train", "--task", "X", "--out", "o", "--sigma", "0.5mV"], "--sigma", "mV"),
    (["train", "--task", "X", "--out", "o", "--dt-ms", "nan"], "--dt-ms", "finite"),
    (["demo", "--dt-ms", "20mV"], "--dt-ms", "mV"),
    (["demo", "--sigma-train", "1ms"], "--sigma-train", "ms"),
    (["demo", "--max-relative-sigma", "2Hz"], "--max-relative-sigma", "Hz"),
    (["simulate", "--sigma", "0.5*mV"], "--sigma", "mV"),
    (["analyze", "net.npz", "--task", "X", "--sigma", "0.5 mV"], "--sigma", "mV"),
]


@pytest.mark.parametrize("argv, flag, unit", CLI_BAD_FLAGS)
def test_cli_flags_check_units(argv, flag, unit, capsys):
    from brian_noisy_rnn.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err and unit in err, err


def test_cli_time_flags_take_ms_or_a_time_unit():
    from brian_noisy_rnn.cli import build_parser

    args = build_parser().parse_args(["train", "--task", "X", "--out", "o", "--dt-ms", "0.01second",
                                      "--tau-ms", "100", "--tau-noise-ms", "50*ms",
                                      "--sigma", "0.5"])
    assert (args.dt_ms, args.tau_ms, args.tau_noise_ms, args.sigma) == (10.0, 100.0, 50.0, 0.5)
    assert build_parser().parse_args(["demo", "--dt-ms", "20 ms"]).dt_ms == 20.0
