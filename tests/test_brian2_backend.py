"""The Brian2 implementation (RateCTRNN, backend "brian2") against the numpy reference.

Brian2's randn() stream after ``brian2.seed(s)`` equals ``dynamics.standard_normal(s, ...)``,
so with the same seed Brian2 and numpy must agree to float rounding (~1e-15) even with noise
on; tolerances of 1e-9 / 1e-12 leave room for rounding accumulated over the steps only.
"""

import importlib.util
import os

import brian2 as b2
import numpy as np
import pytest
from brian2 import ms, second

from brian_noisy_rnn import Noise, RateCTRNN
from brian_noisy_rnn.backends.simulation import simulate

ACTS = ["relu", "softplus", "tanh", "sigmoid", "retanh"]
NOISES = [Noise("pre", 0.5), Noise("post", 0.3), Noise("post", 0.3, process="poisson"),
          Noise("pre", 0.4, process="ou", tau_noise=50 * ms),
          Noise("post", 0.4, process="ou", tau_noise=30 * ms), Noise("state", 0.3),
          Noise("pre", np.linspace(0, 1, 6))]
EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples",
                       "brian2_script_with_rnn.py")


def run_brian2(spec, inputs, **kwargs):
    """The "brian2" backend through its public boundary, :func:`simulate`."""
    result = simulate(spec, inputs, backend="brian2", **kwargs)
    return result.outputs, result.states


@pytest.fixture(autouse=True)
def _brian2_state():
    """Each test starts from a clean Brian2 scope and runs on the numpy target (Brian2's
    default "auto" would compile every new code variant with cython)."""
    b2.start_scope()
    target, dt = b2.prefs.codegen.target, b2.defaultclock.dt
    b2.prefs.codegen.target = "numpy"
    yield
    b2.prefs.codegen.target = target
    b2.defaultclock.dt = dt


def _max_diff(a, b):
    return max(np.max(np.abs(a.states - b.states)), np.max(np.abs(a.outputs - b.outputs)))


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("size", [(1, 1, 1), (7, 3, 2), (30, 2, 3)])
def test_matches_numpy_without_noise(make_spec, activation, size):
    n, n_in, n_out = size
    spec = make_spec(n, n_in, n_out, activation=activation, seed=n)
    rng = np.random.default_rng(n)
    cases = [(rng.normal(size=(20, 3, n_in)), "dense"), (np.ones((6, 2, n_in)) * 2, "synapses"),
             (np.zeros((3, 1, n_in)), "auto")]
    for inputs, recurrence in cases:
        ref = simulate(spec, inputs, backend="numpy")
        res = simulate(spec, inputs, backend="brian2", recurrence=recurrence)
        assert res.states.shape == ref.states.shape and res.outputs.shape == ref.outputs.shape
        assert _max_diff(res, ref) <= 1e-9


@pytest.mark.parametrize("recurrence", ["dense", "synapses"])
@pytest.mark.parametrize("noise", NOISES, ids=repr)
def test_matches_numpy_with_noise_same_seed(make_spec, noise, recurrence):
    spec = make_spec(6, 2, 2, activation="softplus")
    inputs = np.random.default_rng(3).normal(size=(25, 3, 2))
    ref = simulate(spec, inputs, backend="numpy", noise=noise, seed=7)
    res = simulate(spec, inputs, backend="brian2", noise=noise, seed=7, recurrence=recurrence)
    assert _max_diff(res, ref) <= 1e-12  # the same random numbers, bit for bit
    clean = simulate(spec, inputs, backend="numpy", noise=Noise("none"))
    assert np.max(np.abs(res.states - clean.states)) > 1e-2  # the noise does act


@pytest.mark.parametrize("noise", [Noise("none"), Noise("pre", np.linspace(0, 1, 5))], ids=repr)
def test_cython_target(make_spec, noise):
    """First run compiles (10-30 s); later runs use Brian2's cython cache."""
    spec = make_spec(5, 2, 1, activation="relu")
    inputs = np.random.default_rng(4).normal(size=(30, 4, 2))
    ref = simulate(spec, inputs, backend="numpy", noise=noise, seed=3)
    before = b2.prefs.codegen.target
    res = simulate(spec, inputs, backend="brian2", noise=noise, seed=3, target="cython")
    assert _max_diff(res, ref) <= 1e-12
    assert b2.prefs.codegen.target == before  # restored


@pytest.mark.parametrize("noise", [Noise("pre", 0.8), Noise("post", 0.5, process="poisson"),
                                   Noise("pre", 0.6, process="ou", tau_noise=40 * ms),
                                   Noise("state", 0.4)], ids=repr)
def test_agrees_in_distribution_with_other_seeds(make_spec, noise):
    """Final states over 600 independent trials, Brian2 (seed 21) vs numpy (seed 22).

    Per neuron, the z-score of the difference of means (standard error from both sample
    variances) and of the variances (standard error of a sample variance ~ sqrt(2/(n-1))
    sigma**2 for near-Gaussian data; the observed fourth moment is used instead, which
    also covers the skewed relu / poisson cases) must be below 4.5: for 5 neurons x 2
    statistics a false alarm has probability ~1e-4 if the distributions are equal.
    """
    spec = make_spec(5, 1, 1, activation="relu", seed=2)
    n = 600
    inputs = np.full((30, n, 1), 0.5)
    a = simulate(spec, inputs, backend="brian2", noise=noise, seed=21).states[-1]
    b = simulate(spec, inputs, backend="numpy", noise=noise, seed=22).states[-1]
    with np.errstate(divide="ignore", invalid="ignore"):  # silent units are masked below
        se_mean = np.sqrt(a.var(0, ddof=1) / n + b.var(0, ddof=1) / n)
        z_mean = (a.mean(0) - b.mean(0)) / se_mean
        var_se = [np.sqrt(np.abs(np.mean((x - x.mean(0)) ** 4, 0) - x.var(0) ** 2) / n)
                  for x in (a, b)]
        z_var = (a.var(0, ddof=1) - b.var(0, ddof=1)) / np.hypot(*var_se)
    # poisson noise vanishes on silent units (std ~1e-16 is rounding): those must agree
    noisy = (a.std(0) > 1e-9) | (b.std(0) > 1e-9)
    assert np.sum(noisy) >= 3  # there is noise to compare
    np.testing.assert_allclose(a.mean(0)[~noisy], b.mean(0)[~noisy], atol=1e-12)
    assert np.all(np.abs(z_mean[noisy]) < 4.5), z_mean
    assert np.all(np.abs(z_var[noisy]) < 4.5), z_var


def test_same_seed_identical_other_seed_different(make_spec):
    spec = make_spec(6, 2, 1, noise=Noise("pre", 0.5))
    inputs = np.random.default_rng(5).normal(size=(15, 2, 2))
    a = run_brian2(spec, inputs, seed=1)
    b = run_brian2(spec, inputs, seed=1)
    c = run_brian2(spec, inputs, seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    assert np.max(np.abs(a[1] - c[1])) > 1e-2


def test_run_leaves_garbage_collector_state_alone(make_spec):
    """The brian2 run path keeps Network.run's full gc.collect from scanning the heap (slow
    in big processes) and leaves the collector's state as it found it, also when objects
    are frozen already (by the caller; Python 3.12 starts with 375 frozen tuples)."""
    import gc

    spec = make_spec(4, 2, 1, noise=Noise("pre", 0.5))
    inputs = np.zeros((5, 2, 2))
    warn = b2.prefs.get("logging.warn_for_unused_objects")  # None before Brian2 2.10
    gc.collect()  # Python 3.12 files its immortal objects as frozen in each full collection
    before = gc.get_freeze_count()
    run_brian2(spec, inputs, seed=1)
    assert gc.get_freeze_count() == before
    assert b2.prefs.get("logging.warn_for_unused_objects") == warn
    gc.freeze()
    try:
        run_brian2(spec, inputs, seed=1, recurrence="synapses")
        assert gc.get_freeze_count() > 0  # the caller's freeze was not undone
    finally:
        gc.unfreeze()


def test_run_skips_the_full_collection(make_spec):
    """Network.run's full gc.collect does not reach garbage older than the run (it is
    collected afterwards as usual), except where gc must be left alone."""
    import gc
    import weakref

    from brian_noisy_rnn.backends.brian2 import run as run_module

    class Node:
        pass

    spec = make_spec(4, 2, 1, noise=Noise("pre", 0.5))
    run_brian2(spec, np.zeros((5, 2, 2)), seed=1)  # imports and code generation first
    node = Node()
    node.self = node  # a reference cycle: only the cyclic collector frees it
    alive = weakref.ref(node)
    gc.collect()  # the cycle survives (still referenced) into the oldest generation
    if not run_module.RUN_COLLECTS_ONLY_IF_WARNING and gc.get_freeze_count():
        pytest.skip("Brian2 < 2.11 and frozen objects (Python 3.12's immortal ones): gc "
                    "is left alone, Network.run collects in full")
    del node
    run_brian2(spec, np.zeros((5, 2, 2)), seed=1)
    assert alive() is not None
    gc.collect()
    assert alive() is None


def test_in_user_network_with_linked_var_and_other_defaultclock(make_spec):
    spec = make_spec(8, 2, 2, noise=Noise("pre", 0.3), dt=20 * ms)
    T, B = 12, 3
    inputs = np.random.default_rng(6).normal(size=(T, B, 2))
    ref = simulate(spec, inputs, backend="numpy", seed=5)
    b2.defaultclock.dt = 0.5 * ms  # the user's clock, not spec.dt
    rnn = RateCTRNN(spec, n_trials=B)
    rnn.set_inputs(inputs)
    user = b2.NeuronGroup(B * 2, "zz : 1 (linked)\ndv/dt = (zz - v)/(5*ms) : 1", method="exact")
    user.zz = b2.linked_var(rnn.readout, "z")
    h_mon = b2.StateMonitor(rnn.hidden, "h", record=True, when="end")
    z_mon = b2.StateMonitor(user, "zz", record=True, when="end")
    net = b2.Network(rnn, user, h_mon, z_mon)
    b2.seed(5)
    net.run(T * spec.dt)
    assert rnn.clock.dt == spec.dt and user.clock.dt == 0.5 * ms
    np.testing.assert_allclose(h_mon.h.T.reshape(T, B, -1), ref.states, atol=1e-12, rtol=0)
    # state and output after the run: no one-step lag
    np.testing.assert_allclose(rnn.hidden.h[:].reshape(B, -1), ref.states[-1], atol=1e-12)
    np.testing.assert_allclose(rnn.readout.z[:].reshape(B, -1), ref.outputs[-1], atol=1e-12)
    # the user's group sees z of the latest RNN step (40 fine steps per RNN step)
    seen = z_mon.zz[:, 39::40].T.reshape(T, B, -1)
    np.testing.assert_allclose(seen, ref.outputs, atol=1e-12)
    assert np.max(np.abs(user.v[:])) > 0  # it integrated z


def test_magic_run_and_continuation_with_new_inputs(make_spec):
    spec = make_spec(5, 1, 1, noise=Noise("post", 0.4, process="ou", tau_noise=50 * ms))
    inputs = np.random.default_rng(7).normal(size=(20, 2, 1))
    ref = simulate(spec, inputs, backend="numpy", seed=9)
    rnn = RateCTRNN(spec, n_trials=2)
    mon = b2.StateMonitor(rnn.hidden, "h", record=True, when="end")
    hidden = rnn.hidden  # noqa: F841  (also in this frame: must not be added twice)
    b2.seed(9)
    rnn.set_inputs(inputs[:8])
    b2.run(8 * spec.dt)
    rnn.set_inputs(inputs[8:])  # continues at the current time, OU state carried over
    b2.run(12 * spec.dt)
    np.testing.assert_allclose(mon.h.T.reshape(20, 2, -1), ref.states, atol=1e-12, rtol=0)
    rnn.reset()
    np.testing.assert_array_equal(rnn.hidden.h[:], np.tile(spec.h0, 2))


def test_recurrence_choice_and_object_structure(make_spec):
    spec = make_spec(4, 2, 3)
    dense = RateCTRNN(spec, n_trials=5)
    assert dense.recurrence == "dense" and dense.recurrent_synapses is None
    np.testing.assert_array_equal(dense.recurrent_input(np.eye(4)), spec.w_rec.T)
    assert len(dense.hidden) == 20 and len(dense.inputs) == 10 and len(dense.readout) == 15
    assert dense.hidden.name == f"{dense.name}_hidden"
    syn = RateCTRNN(spec, n_trials=5, recurrence="synapses")
    assert syn.recurrence == "synapses" and syn.recurrent_operation is None
    assert syn.name != dense.name
    assert all(obj in syn.contained_objects for obj in (syn.hidden, syn.recurrent_synapses))


def _bad(make_spec, kind):
    spec = make_spec(3, 2, 1)
    good = np.zeros((4, 2, 2))
    cases = {
        "spec": lambda: RateCTRNN("spec.npz"),
        "n_trials": lambda: RateCTRNN(spec, n_trials=0),
        "n_trials_float": lambda: RateCTRNN(spec, n_trials=1.5),
        "noise": lambda: RateCTRNN(spec, noise="pre"),
        "noise_sigma": lambda: RateCTRNN(spec, noise=Noise("pre", [0.1, 0.2])),
        "recurrence": lambda: RateCTRNN(spec, recurrence="fast"),
        "inputs": lambda: RateCTRNN(spec, n_trials=2).set_inputs(np.zeros((4, 2, 3))),
        "inputs_trials": lambda: RateCTRNN(spec, n_trials=3).set_inputs(good),
        "start": lambda: RateCTRNN(spec, n_trials=2).set_inputs(good, start=-1 * ms),
        "target": lambda: run_brian2(spec, good, target="gpu"),
        "run_inputs": lambda: run_brian2(spec, np.zeros((4, 2))),
        "run_spec": lambda: run_brian2(None, good),
        "seed": lambda: run_brian2(spec, good, seed=-1),
        "method": lambda: run_brian2(spec, good, method="magic"),
        "directory": lambda: run_brian2(spec, good, directory="/tmp/x"),
    }
    return cases[kind]


@pytest.mark.parametrize("kind,error,word", [
    ("spec", TypeError, "spec"), ("n_trials", ValueError, "n_trials"),
    ("n_trials_float", ValueError, "n_trials"), ("noise", TypeError, "noise"),
    ("noise_sigma", ValueError, "sigma"), ("recurrence", ValueError, "recurrence"),
    ("inputs", ValueError, "inputs"), ("inputs_trials", ValueError, "inputs"),
    ("start", ValueError, "start"), ("target", ValueError, "target"),
    ("run_inputs", ValueError, "inputs"), ("run_spec", TypeError, "spec"),
    ("seed", ValueError, "seed"), ("method", ValueError, "method"),
    ("directory", ValueError, "directory"),
])
def test_bad_input_errors_name_the_argument(make_spec, kind, error, word):
    call = _bad(make_spec, kind)
    before = len(b2.Network.__instances__())
    with pytest.raises(error, match=word):
        call()
    assert len(b2.Network.__instances__()) == before  # nothing was run


def _load_example():
    spec = importlib.util.spec_from_file_location("brian2_script_with_rnn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_script_runs_and_lif_rate_follows_z(make_spec, tmp_path):
    example = _load_example()
    spec = make_spec(6, 1, 1, noise=Noise("none"), dt=20 * ms)
    runs = {}
    for b_out in (-1.0, 1.0):  # shift z by +-1: the LIF rate must follow
        out = tmp_path / f"fig{b_out}.png"
        runs[b_out] = example.main(spec=spec.replace(b_out=[b_out]), output=str(out),
                                   duration=0.3 * second, z_offset=0.0, n_lif=100)
        assert out.exists() and out.stat().st_size > 1000
    np.testing.assert_allclose(runs[1.0]["z"] - runs[-1.0]["z"], 2.0, atol=1e-12)
    assert runs[1.0]["rate"][5:].mean() > runs[-1.0]["rate"][5:].mean() + 5  # Hz


def test_cpp_standalone_dense_smoke(make_spec):
    """The one quick standalone test (a build takes seconds): the dense C++ recurrence
    (``recurrence="auto"``) equals the reference with noise on, same seed stream."""
    from brian2.devices.device import RuntimeDevice, get_device

    spec = make_spec(5, 2, 1, activation="relu", noise=Noise("pre", 0.5))
    inputs = np.random.default_rng(9).normal(size=(6, 2, 2))
    ref = simulate(spec, inputs, backend="numpy", seed=3)
    res = simulate(spec, inputs, backend="brian2", seed=3, target="cpp_standalone")
    assert _max_diff(res, ref) <= 1e-12
    assert isinstance(get_device(), RuntimeDevice)


@pytest.mark.slow
@pytest.mark.parametrize("recurrence", ["dense", "synapses"])
@pytest.mark.parametrize("noise", [Noise("none"), Noise("pre", 0.5), Noise("state", 0.3),
                                   Noise("post", 0.4, process="ou", tau_noise=40 * ms)], ids=repr)
def test_cpp_standalone_matches_numpy(make_spec, noise, recurrence, tmp_path):
    """N=37, B=5: the dense kernel's blocks of 4 trials x 32 outputs, and its tails."""
    from brian2.devices.device import RuntimeDevice, get_device

    spec = make_spec(37, 2, 2, activation="tanh")
    inputs = np.random.default_rng(8).normal(size=(20, 5, 2))
    ref = simulate(spec, inputs, backend="numpy", noise=noise, seed=4)
    res = simulate(spec, inputs, backend="brian2", noise=noise, seed=4, recurrence=recurrence,
                   target="cpp_standalone")
    assert _max_diff(res, ref) <= 1e-12
    assert isinstance(get_device(), RuntimeDevice)  # previous device restored
    # a second build in the same process and a runtime run afterwards both work
    res2 = run_brian2(spec, inputs, noise=noise, seed=4, target="cpp_standalone",
                      recurrence=recurrence, directory=tmp_path)
    np.testing.assert_array_equal(res2[1], res.states)
    assert _max_diff(simulate(spec, inputs, backend="brian2", noise=noise, seed=4), ref) <= 1e-12


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("recurrence", ["dense", "synapses"])
def test_user_facing_objects_match_numpy(make_spec, activation, recurrence):
    """The RateCTRNN users add to their Network (TimedArray input group, input and readout
    Synapses) computes what the reference does, for every activation, with noise on
    (``simulate`` uses a leaner subclass; this checks the full object)."""
    spec = make_spec(6, 2, 2, activation=activation, noise=Noise("pre", 0.4), seed=3)
    T, B = 15, 2
    inputs = np.random.default_rng(8).normal(size=(T, B, 2))
    ref = simulate(spec, inputs, backend="numpy", seed=4)
    rnn = RateCTRNN(spec, n_trials=B, recurrence=recurrence)
    rnn.set_inputs(inputs)
    h_mon = b2.StateMonitor(rnn.hidden, "h", record=True, when="end")
    z_mon = b2.StateMonitor(rnn.readout, "z", record=True, when="end")
    net = b2.Network(rnn, h_mon, z_mon)
    b2.seed(4)
    net.run(T * spec.dt)
    np.testing.assert_allclose(h_mon.h.T.reshape(T, B, -1), ref.states, atol=1e-12, rtol=0)
    np.testing.assert_allclose(z_mon.z.T.reshape(T, B, -1), ref.outputs, atol=1e-12, rtol=0)


USER_SCRIPT = '''"""A user's script: module-level names that the plugin's groups use internally."""
import json
import logging

import numpy as np
from brian2 import Hz, StateMonitor, ms, mV, pA, prefs, run, seed, start_scope

from brian_noisy_rnn import CTRNNSpec, Noise, RateCTRNN, SpikingRealization

records = []


class Collect(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.name, record.getMessage()))


logging.getLogger("brian2").addHandler(Collect(level=logging.DEBUG))
logging.getLogger("brian2").setLevel(logging.DEBUG)
prefs.codegen.target = "numpy"
rng = np.random.default_rng(0)
spec = CTRNNSpec(rng.normal(size=(5, 2)), rng.normal(size=(5, 5)) * 0.2, rng.normal(size=5) * 0.2,
                 rng.normal(size=(1, 5)), np.zeros(1), tau=100 * ms, dt=10 * ms,
                 activation="relu")
inputs = rng.normal(size=(8, 2, 2))
MAKERS = {
    "pre": lambda: RateCTRNN(spec, 2, Noise("pre", 0.5)),
    "ou": lambda: RateCTRNN(spec, 2, Noise("post", 0.3, process="ou", tau_noise=30 * ms)),
    "synapses": lambda: RateCTRNN(spec, 2, Noise("pre", 0.5), recurrence="synapses"),
    "spiking": lambda: SpikingRealization(spec, 3, 50 * Hz, n_trials=2, substeps=2),
}


def simulate_all():
    out = {}
    for label, make in MAKERS.items():
        start_scope()
        obj = make()
        obj.set_inputs(inputs)
        mon = StateMonitor(obj.hidden if hasattr(obj, "hidden") else obj.units, "h",
                           record=True, when="end")
        seed(3)
        run(8 * spec.dt)  # the magic run(): collects this module's names
        out[label] = np.concatenate([mon.h[:].ravel(), obj.readout.z[:]]).tolist()
    return out


tau = 10 * ms; sigma = 2 * mV; h = 1; bias = 5 * pA; a = 3; u = 2; z = 7  # noqa: E702
w = 5; g = 0.5; substeps = 4; rate_max = 7 * Hz; eta = 4; F = 2; y = 9; s = 1  # noqa: E702
with_names = simulate_all()
n_records = len(records)
del tau, sigma, h, bias, a, u, z, w, g, substeps, rate_max, eta, F, y, s
without_names = simulate_all()
print(json.dumps({"records": records[:n_records], "with": with_names,
                  "without": without_names}))
'''


def test_user_script_names_do_not_reach_the_network(tmp_path):
    """Caller variables named like the plugin's internals (``tau``, ``h``, ``w``, ``g``, ...)
    neither warn nor change anything, with the magic ``run()`` (which hands every group the
    caller's names): every group, synapse and ``run_regularly`` of RateCTRNN (noise "pre",
    "ou"; dense and Synapses recurrence) and SpikingRealization resolves only its own names.
    Brian2's log is captured at DEBUG level inside the script; stderr must be empty too."""
    import json
    import subprocess
    import sys

    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""
    result = json.loads(proc.stdout.splitlines()[-1])
    warnings = [r for r in result["records"] if r[0] in ("WARNING", "ERROR")]
    assert warnings == []
    conflicts = [r for r in result["records"]
                 if "resolution_conflict" in r[1] or "internal variable" in r[2]]
    assert conflicts == []
    assert set(result["with"]) == {"pre", "ou", "synapses", "spiking"}
    for label, values in result["with"].items():
        assert np.array_equal(values, result["without"][label]), label
        assert np.max(np.abs(values)) > 0


def _external_driver(kind, inputs, spec):
    """A user's group of B*n_in neurons in channel-major order (neuron ``k*B + b`` carries
    input k of trial b) playing ``inputs`` (T, B, n_in), and the index linking it to
    ``rnn.inputs`` (whose neuron ``b*n_in + k`` is input k of trial b)."""
    T, B, n_in = inputs.shape
    stim = b2.TimedArray(inputs.transpose(0, 2, 1).reshape(T, -1), dt=spec.dt)
    driver = b2.NeuronGroup(B * n_in, "r : 1", namespace={"stim": stim}, dt=spec.dt)
    driver.run_regularly("r = stim(t, i)", when="start" if kind == "start" else "groups")
    index = [k * B + b for b in range(B) for k in range(n_in)]
    return driver, index


@pytest.mark.parametrize("recurrence", ["dense", "synapses"])
@pytest.mark.parametrize("kind,delay", [("start", 0), ("groups", 1)])
def test_external_inputs_equal_set_inputs(make_spec, recurrence, kind, delay):
    """``input_source="external"``: a user's group drives ``rnn.inputs.u`` through a linked
    variable. Step k reads the driver as it is at t_k in slot ``groups`` order -2: a driver
    updated at ``start`` gives ``inputs[k]`` (set_inputs' convention; equal to 1e-9 with
    noise on); a driver updated in ``groups`` (order 0) after the read is seen one step late
    (its initial value 0 at step 0)."""
    spec = make_spec(6, 3, 2, noise=Noise("pre", 0.4))
    T, B = 12, 2
    inputs = np.random.default_rng(11).normal(size=(T, B, 3))
    expected_inputs = np.concatenate([np.zeros((delay, B, 3)), inputs[:T - delay]])
    runs = {}
    for source in ("timed_array", "external"):
        b2.start_scope()
        rnn = RateCTRNN(spec, B, recurrence=recurrence, input_source=source)
        objects = [rnn]
        if source == "external":
            driver, index = _external_driver(kind, inputs, spec)
            rnn.inputs.u = b2.linked_var(driver, "r", index=index)
            objects.append(driver)
        else:
            rnn.set_inputs(expected_inputs)
        h_mon = b2.StateMonitor(rnn.hidden, "h", record=True, when="end")
        z_mon = b2.StateMonitor(rnn.readout, "z", record=True, when="end")
        u_name = "u_step" if source == "external" else "u"  # the value read by the step
        u_mon = b2.StateMonitor(rnn.inputs, u_name, record=True, when="end")
        b2.seed(4)
        b2.Network(*objects, h_mon, z_mon, u_mon).run(T * spec.dt)
        runs[source] = [rnn.trial_view(m, v) for m, v in ((h_mon, "h"), (z_mon, "z"),
                                                           (u_mon, u_name))]
    ref = simulate(spec, expected_inputs, backend="numpy", seed=4)
    for a, b in zip(runs["external"], runs["timed_array"]):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= 1e-9
    np.testing.assert_allclose(runs["external"][0], ref.states, atol=1e-9, rtol=0)
    np.testing.assert_allclose(runs["external"][1], ref.outputs, atol=1e-9, rtol=0)


def test_external_inputs_and_trial_view_errors(make_spec):
    spec = make_spec(4, 2, 1)
    rnn = RateCTRNN(spec, 3, input_source="external")
    assert len(rnn.inputs) == 6 and rnn.input_synapses is not None
    with pytest.raises(ValueError, match="set_inputs.*input_source='external'"):
        rnn.set_inputs(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="input_source"):
        RateCTRNN(spec, input_source="group")
    other = b2.NeuronGroup(3, "v : 1")
    with pytest.raises(TypeError, match="monitor"):
        rnn.trial_view(np.zeros((2, 12)), "h")
    with pytest.raises(ValueError, match="monitor must record a group of"):
        rnn.trial_view(b2.StateMonitor(other, "v", record=True), "v")
    with pytest.raises(ValueError, match="variable"):
        rnn.trial_view(b2.StateMonitor(rnn.hidden, "h", record=True), "I_rec")
    with pytest.raises(ValueError, match="every neuron"):
        rnn.trial_view(b2.StateMonitor(rnn.hidden, "h", record=[0, 2]), "h")
    with pytest.raises(b2.core.base.BrianObjectException) as error:  # Brian2 wraps it
        b2.Network(rnn).run(spec.dt)
    assert "inputs.u is not linked" in str(error.value.__cause__)
    driver = b2.NeuronGroup(6, "r = 2*i : 1")
    with pytest.raises(ValueError, match="cannot be linked to the subexpression"):  # at once
        rnn.inputs.u = b2.linked_var(driver, "r")


def test_closed_loop_example_network_sees_what_it_reads(tmp_path):
    """examples/closed_loop_brian2.py: spikes -> smoothed rate -> RateCTRNN (external input)
    -> LIF -> smoothed rate -> back. Replaying the inputs the network read (``u_step``)
    through the numpy reference gives its recorded states (so the linked input is what the
    network consumed, step for step), and the loop carries signal both ways."""
    path = os.path.join(os.path.dirname(EXAMPLE), "closed_loop_brian2.py")
    loader = importlib.util.spec_from_file_location("closed_loop_brian2", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    out = tmp_path / "loop.png"
    res = module.main(str(out), duration=1 * second)
    assert out.exists() and out.stat().st_size > 1000
    T = len(res["t"])
    assert T == 50 and res["h"].shape == (T, 1, res["spec"].n_hidden)
    ref = simulate(res["spec"], res["u"][:, None, None], backend="numpy")
    np.testing.assert_allclose(res["h"], ref.states, atol=1e-9, rtol=0)
    np.testing.assert_allclose(res["z"], ref.outputs[:, 0, 0], atol=1e-9, rtol=0)
    assert np.std(res["u"]) > 0.1 and np.std(res["z"]) > 0.05 and np.max(res["motor"]) > 0.05


@pytest.mark.slow
def test_standalone_simulator_reruns_without_rebuilding(make_spec, tmp_path):
    """One build, then reruns of the binary with new inputs and seeds (run arguments): each
    run equals the reference with the same seed (noise on), the binary is not rebuilt and
    the project folder is not written to."""
    from brian2.devices.device import RuntimeDevice, get_device

    from brian_noisy_rnn.backends.brian2 import StandaloneSimulator

    spec = make_spec(33, 2, 2, activation="relu", noise=Noise("pre", 0.5))
    rng = np.random.default_rng(12)
    with StandaloneSimulator(spec, 15, 5, directory=tmp_path) as sim:
        with pytest.raises(ValueError, match="n_steps"):
            sim.run(np.zeros((14, 5, 2)))
        with pytest.raises(ValueError, match="inputs"):
            sim.run(np.zeros((15, 4, 2)))
        with pytest.raises(ValueError, match="seed"):
            sim.run(np.zeros((15, 5, 2)), seed=-1)
        binary, mtime, files = None, None, None
        for seed in (3, 2 ** 32 - 1, 3):
            u = rng.normal(size=(15, 5, 2))
            outputs, states = sim.run(u, seed=seed)
            ref = simulate(spec, u, backend="numpy", seed=seed)
            assert np.max(np.abs(states - ref.states)) <= 1e-12
            assert np.max(np.abs(outputs - ref.outputs)) <= 1e-12
            binary = binary or os.path.join(sim.directory, "main")
            mtime = mtime or os.path.getmtime(binary)
            files = files or sorted(os.listdir(sim.directory))
            assert os.path.getmtime(binary) == mtime and sim.n_builds == 1
            assert sorted(os.listdir(sim.directory)) == files  # runs write elsewhere
            assert isinstance(get_device(), RuntimeDevice)  # also between runs
    with pytest.raises(RuntimeError, match="closed"):
        sim.run(u, seed=1)


def _rate_run(spec, inputs, noise_built, noise_set=None, seed=4):
    """States (T, B, N) of a RateCTRNN built with ``noise_built``, ``noise`` reassigned to
    ``noise_set`` (if given) before its run."""
    b2.start_scope()
    T, B, _ = inputs.shape
    rnn = RateCTRNN(spec, B, noise=noise_built)
    if noise_set is not None:
        rnn.noise = noise_set
    rnn.set_inputs(inputs)
    mon = b2.StateMonitor(rnn.hidden, "h", record=True, when="end")
    b2.seed(seed)
    b2.Network(rnn, mon).run(T * spec.dt)
    return rnn, rnn.trial_view(mon, "h")


@pytest.mark.parametrize("built, assigned", [
    (Noise("pre", 1.0), Noise("none")),
    (Noise("pre", 1.0), Noise("pre", 0.3)),
    (Noise("post", 0.5), Noise("post", 0.0)),
    (Noise("pre", 0.4, process="ou", tau_noise=50 * ms),
     Noise("pre", 0.2, process="ou", tau_noise=30 * ms)),
    (Noise("state", 0.5), Noise("state", 0.25)),  # sigma as built (it was per-step amplitude)
])
def test_assigned_noise_takes_effect(make_spec, built, assigned):
    """``rnn.noise = ...`` on a built RateCTRNN changes the run (issue 23: it was shown by
    ``repr`` and ignored): the run equals the numpy reference with the assigned noise and
    the same seed (exact stream: Brian2 draws one randn() per neuron and step in both)."""
    spec = make_spec(5, 2, 1, noise=built, seed=2)
    inputs = np.random.default_rng(3).normal(size=(10, 2, 2))
    rnn, states = _rate_run(spec, inputs, built, assigned)
    assert rnn.noise is assigned and repr(assigned) in repr(rnn)
    ref = simulate(spec, inputs, backend="numpy", noise=assigned, seed=4)
    np.testing.assert_allclose(states, ref.states, atol=1e-12, rtol=0)
    old = simulate(spec, inputs, backend="numpy", noise=built, seed=4)
    assert np.max(np.abs(states - old.states)) > 1e-3


@pytest.mark.parametrize("built, assigned, word", [
    (Noise("none"), Noise("pre", 0.5), "built without noise"),
    (Noise("pre", 0.5), Noise("post", 0.5), "built with 'pre' noise"),
    (Noise("pre", 0.5), Noise("pre", 0.5, process="ou", tau_noise=50 * ms), "process"),
])
def test_noise_the_equations_cannot_take_is_refused(make_spec, built, assigned, word):
    spec = make_spec(4, 1, 1, noise=built)
    rnn = RateCTRNN(spec, 1, noise=built)
    with pytest.raises(ValueError, match=word):
        rnn.noise = assigned
    assert rnn.noise is built


def test_state_monitor_records_the_states_of_simulate(make_spec):
    """``rnn.state_monitor("h")`` (slot ``end``) gives ``states[t]`` at index t, equal to
    ``simulate`` with noise on; a default StateMonitor (slot ``start``) is one step behind:
    its index t holds states[t-1] (h0 at t = 0) -- what the README warns about."""
    spec = make_spec(5, 2, 2, noise=Noise("pre", 0.5), seed=1)
    T, B = 8, 2
    inputs = np.random.default_rng(4).normal(size=(T, B, 2))
    rnn = RateCTRNN(spec, B)
    rnn.set_inputs(inputs)
    mon_h, mon_z = rnn.state_monitor("h"), rnn.state_monitor("z")
    default = b2.StateMonitor(rnn.hidden, "h", record=True)
    b2.seed(6)
    b2.Network(rnn, mon_h, mon_z, default).run(T * spec.dt)
    ref = simulate(spec, inputs, backend="numpy", seed=6)
    np.testing.assert_allclose(rnn.trial_view(mon_h, "h"), ref.states, atol=1e-12, rtol=0)
    np.testing.assert_allclose(rnn.trial_view(mon_z, "z"), ref.outputs, atol=1e-12, rtol=0)
    lagged = rnn.trial_view(default, "h")
    np.testing.assert_allclose(lagged[1:], ref.states[:-1], atol=1e-12, rtol=0)
    np.testing.assert_allclose(lagged[0], np.tile(spec.h0, (B, 1)), atol=0, rtol=0)
    with pytest.raises(ValueError, match="variable must be a variable of"):
        rnn.state_monitor("v")
