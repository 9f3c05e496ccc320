"""A :class:`RateCTRNN` under ``cpp_standalone``: compiled once per structure, rerun with new values.

``simulate(..., backend="brian2", target="cpp_standalone")``, ``evaluate`` and
``noise_preference`` on that target, and users' own scripts go through
:class:`StandaloneSimulator`. The compiled project depends only on the network's *structure*
(sizes, T, B, activation, noise placement and process, dt, integration method, recurrence,
Brian2 version and compiler settings); every value -- the weights, biases, tau, initial
state, noise sigma (and OU constants), inputs and the seed -- is a command-line argument of the
binary (Brian2's ``run_args`` mechanism, Brian2 >= 2.6). A project is built once per structure
and kept in the build cache (:mod:`.build_folders`, emptied by :func:`clear_build_cache`), or
in a folder the caller names; later runs, in this process or another, start the binary only.

The binary is run directly (``prefs.devices.cpp_standalone.run_cmd_unix`` in the project
folder, the run's values and results in a temporary folder of their own), so runs never write
into a project and several processes can run one project at once. Brian2's device is active
only while a project is built, and the runtime device is restored afterwards, also when the
build fails.

The seed is a run argument too: Brian2's ``seed(s)`` under standalone is written literally
into ``main.cpp``; here a one-neuron group ``<name>_rng`` holds ``seed_value``, and code
inserted right after the command-line values are applied reseeds every thread's generator
with ``seed_value + thread`` -- what Brian2's ``seed(s)`` does -- so a run with seed ``s``
draws the same ``randn()`` stream as the NumPy reference with seed ``s``.
"""

import contextlib
import functools
import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import brian2

from ...core.spec import FORMS, check_spec
from ...core.validation import check_choice, check_int, check_seed
from .base import is_standalone_device, padded_rows
from .build_folders import (MANIFEST, MARKER, cache_entry, check_build_folder, claim_build_folder,
                            clear_build_cache, read_manifest, write_manifest)
from .dense import default_kernel
from .rate_network import RECURRENCES, RateCTRNN, check_method, parameter_values

__all__ = ["StandaloneSimulator", "clear_build_cache"]

_NAME = "ratectrnn_session"


class StandaloneSimulator:
    """A network compiled under Brian2's ``cpp_standalone``, run again and again.

    The project is compiled on the first :meth:`run` -- or found compiled: one build per
    structure is kept in the build cache (see the module docstring; ``directory=None``) or
    in ``directory``. Runs take unpadded inputs and a seed and start the binary only (tens of
    milliseconds plus the simulation). Brian2's runtime device stays active in between.

    Parameters
    ----------
    spec : CTRNNSpec
        The network (its weights, biases, tau and h0 are run arguments: another network of
        the same structure reuses the build).
    n_steps : int
        T >= 1, the number of steps of every run.
    n_trials : int
        B >= 1, the number of trials of every run.
    noise : Noise or None
        The noise model (None: ``spec.noise``); its sigma is a run argument, its placement
        and process are compiled in (sigma 0 runs the project of its placement with sigma
        0: a noise sweep that includes 0 compiles once).
    method : str
        Brian2 integration method of the hidden group (default ``"euler"``, the exact step).
    recurrence : {"auto", "dense", "synapses"}
        See :class:`RateCTRNN` ("auto" = "dense": a C++ kernel, the weights held once).
    directory : str or None
        None: the shared build cache. A folder: build there instead (created if missing);
        it must be new, empty or a build folder of this package (it holds the marker file
        ``.brian_noisy_rnn_build``) and must not contain a ``GNUmakefile`` or ``Makefile``.
        A complete build of the same structure already there is reused.

    Attributes
    ----------
    n_builds : int
        How many times this simulator compiled the project (0 if it found it compiled).
    directory : str
        The project folder (after the first :meth:`run`; before it, ``directory`` or None).

    Raises
    ------
    ValueError
        For a ``directory`` that is a file, a non-empty folder without the marker, or a
        folder holding a makefile of its own (before anything is built).

    Examples
    --------
    >>> with StandaloneSimulator(spec, n_steps=500, n_trials=64) as sim:   # doctest: +SKIP
    ...     outputs, states = sim.run(inputs, seed=1)     # compiles, or finds it compiled
    ...     outputs2, states2 = sim.run(inputs2, seed=2)  # reruns the binary
    """

    def __init__(self, spec, n_steps, n_trials, noise=None, *, method="euler",
                 recurrence="auto", directory=None):
        check_spec(spec, forms=FORMS)
        self.n_steps = check_int(n_steps, "n_steps")
        self.n_trials = check_int(n_trials, "n_trials")
        noise = spec.noise if noise is None else spec.check_noise(noise)
        check_method(method)
        check_choice(recurrence, "recurrence", RECURRENCES)
        self.spec, self.noise, self.method = spec, noise, method
        # sigma = 0 runs the project of the same placement with sigma 0 (exactly no noise:
        # f(a + 0*eta) = f(a)), so a sweep that includes 0 builds once
        self._compiled_noise = noise.with_sigma(1.0) if noise.placement != "none" \
            and not noise.is_active else noise
        self.recurrence = "dense" if recurrence == "auto" else recurrence
        self.kernel = default_kernel() if self.recurrence == "dense" else None
        self.directory = None if directory is None else check_build_folder(directory)
        self._chosen_directory = self.directory
        self.n_builds, self._project, self._open = 0, None, True

    # --- the structure and its build --------------------------------------------------
    @property
    def key(self):
        """Everything compiled into the project (a JSON-serialisable dict): the cache key."""
        spec, noise = self.spec, self._compiled_noise
        prefs = {k: repr(brian2.prefs[k]) for k in sorted(brian2.prefs)
                 if k.startswith(("codegen.cpp.", "devices.cpp_standalone."))
                 and "run_" not in k}
        return {"sizes": [spec.n_in, spec.n_hidden, spec.n_out, self.n_steps, self.n_trials],
                "activation": spec.activation, "form": spec.form,
                "dt": float(spec.dt_seconds).hex(),
                "noise": [noise.placement, noise.process, bool(noise.is_active)],
                "method": self.method, "recurrence": self.recurrence, "kernel": self.kernel,
                "brian2": brian2.__version__, "python": list(sys.version_info[:2]),
                "prefs": prefs, "code": _code_digest()}

    def _project_folder(self):
        """(folder, manifest content) of the compiled project, compiling it if needed."""
        if self._project is not None:
            return self._project
        key = self.key
        if self._chosen_directory is None:
            folder, content, built = cache_entry(key, functools.partial(self._build, strip=True))
        else:
            folder = claim_build_folder(self._chosen_directory)
            content = read_manifest(folder, key)
            built = content is None
            if built:
                with contextlib.suppress(FileNotFoundError):  # another structure's build
                    os.remove(os.path.join(folder, MANIFEST))
                content = self._build(folder, strip=False)
                write_manifest(folder, key, content)
        self.n_builds += int(built)
        self.directory, self._project = folder, (folder, content)
        return self._project

    def _build(self, folder, strip):
        """Generate and compile the project in ``folder``; return what a run needs to know.

        Brian2's cpp_standalone device is active during the build only: the runtime device
        is restored afterwards, whether the build succeeded or not.
        """
        from brian2.devices.device import device, get_device, reset_device, set_device

        if is_standalone_device():
            raise RuntimeError("StandaloneSimulator needs Brian2's runtime device to be active "
                               "when it builds (it switches to cpp_standalone itself)")
        gc.collect()  # free objects of earlier builds (names, hence generated files, repeat)
        set_device("cpp_standalone", directory=folder, build_on_run=False)
        try:
            spec, T, B = self.spec, self.n_steps, self.n_trials
            rnn = RateCTRNN(spec, B, self._compiled_noise, recurrence=self.recurrence, method=self.method,
                            name=_NAME)
            rnn.set_inputs(np.zeros((T, B, spec.n_in)), start=0 * brian2.second)
            states = brian2.StateMonitor(rnn.hidden, "h", record=True, when="end",
                                         name=f"{_NAME}_states")
            outputs = brian2.StateMonitor(rnn.readout, "z", record=True, when="end",
                                          name=f"{_NAME}_outputs")
            # after every initial value (those are main.cpp statements before this point)
            rng = brian2.NeuronGroup(1, "seed_value : 1 (shared, constant)", name=f"{_NAME}_rng")
            rng.seed_value = -1
            device.apply_run_args()  # main.cpp: set_from_command_line(args) here,
            device.insert_code(      # then reseed from the (overridden) seed value
                "main",
                f"{{ const double _s = brian::_array_{rng.name}_seed_value[0];\n"
                "  if (_s >= 0) for (size_t _t = 0; _t < brian::_random_generators.size(); _t++)\n"
                "      brian::_random_generators[_t].seed((unsigned long)_s + _t); }")
            net = brian2.Network(rnn, states, outputs, rng)
            net.run(T * spec.dt, namespace={})
            device.build(directory=folder, compile=True, run=False, with_output=False)
            dev = get_device()
            groups = {"hidden": rnn.hidden, "readout": rnn.readout}
            args = {}
            for key in parameter_values(spec, self._compiled_noise, B):
                group, var = key.split(".")
                args[key] = f"{groups[group].name}.{var}"
            args["w_in"] = f"{rnn.input_synapses.name}.w"
            args["w_out"] = f"{rnn.readout_synapses.name}.w"
            args["w_rec"] = (f"{rnn.recurrent_synapses.name}.w" if rnn.recurrent_synapses
                             is not None else f"{rnn.hidden.name}_w_rec.values")
            args["inputs"] = f"{rnn.input_timed_array.name}.values"
            args["seed"] = f"{rng.name}.seed_value"
            content = {"args": args,
                       "input_shape": list(rnn.input_timed_array.values.shape),
                       "results": {"states": dev.get_array_filename(states.variables["h"]),
                                   "outputs": dev.get_array_filename(outputs.variables["z"])}}
        finally:
            device.reinit()
            reset_device()
        if strip:  # a run needs the binary and its static arrays only
            for name in os.listdir(folder):
                if name not in ("main", "static_arrays", MARKER):
                    path = os.path.join(folder, name)
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return content

    # --- runs -----------------------------------------------------------------------------
    def run(self, inputs, seed=None):
        """Run the network on ``inputs`` with ``seed`` (compiling the project if needed).

        Parameters
        ----------
        inputs : float array (T, B, n_in)
            T = ``n_steps``, B = ``n_trials``; dimensionless.
        seed : int in [0, 2**32) or None
            Seed of Brian2's generator for this run; the noise then equals
            :func:`~brian_noisy_rnn.core.dynamics.standard_normal` with the same seed, as in
            ``simulate``. None: unseeded (differs from run to run).

        Returns
        -------
        outputs : float64 array (T, B, n_out)
        states : float64 array (T, B, N)
            ``states[t]`` = h after consuming ``inputs[t]``;
            ``outputs[t] = w_out states[t] + b_out``.
        """
        if not self._open:
            raise RuntimeError("this StandaloneSimulator is closed")
        arr = self._check_inputs(inputs)
        seed = check_seed(seed)
        if self._project is not None and not os.path.isdir(self._project[0]):
            self._project = None  # evicted from the cache or cleared meanwhile: build again
        folder, content = self._project_folder()
        spec, T, B = self.spec, self.n_steps, self.n_trials
        values = parameter_values(spec, self._compiled_noise, B)
        if self._compiled_noise is not self.noise:
            values["hidden.sigma"] = np.zeros_like(values["hidden.sigma"])
        values["w_in"] = np.tile(spec.w_in.ravel(), B)
        values["w_out"] = np.tile(spec.w_out.ravel(), B)
        if self.recurrence == "synapses":
            values["w_rec"] = np.tile(spec.w_rec.ravel(), B)
        else:  # the dense kernel's layout (see .dense): W^T ("cached") or W row-major
            w = spec.w_rec.T if self.kernel == "cached" else spec.w_rec
            values["w_rec"] = np.ascontiguousarray(w, dtype=np.float64).reshape(1, -1)
        padded = padded_rows(arr.reshape(T, -1))
        if list(padded.shape) != content["input_shape"]:
            raise RuntimeError(f"the project in {folder!r} expects inputs of shape "
                               f"{content['input_shape']}, got {padded.shape}: rebuild it")
        values["inputs"] = padded
        values["seed"] = -1.0 if seed is None else float(seed)
        results = _run_binary(folder, {content["args"][k]: v for k, v in values.items()},
                              content["results"])
        states = results["states"].reshape(T, B, -1)
        outputs = results["outputs"].reshape(T, B, -1)
        return outputs, states

    def _check_inputs(self, inputs):
        arr = np.asarray(inputs)
        expected = (self.n_steps, self.n_trials, self.spec.n_in)
        if arr.dtype.kind not in "fiu" or arr.shape != expected:
            raise ValueError(f"inputs must be a real array of shape (n_steps, n_trials, n_in) = "
                             f"{expected}, got {getattr(arr, 'shape', None)} of {arr.dtype}")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("inputs must be finite")
        return arr

    def close(self):
        """Stop accepting runs (idempotent). Builds stay for later use (see
        :func:`clear_build_cache`)."""
        self._open = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return (f"StandaloneSimulator({self.spec!r}, n_steps={self.n_steps}, "
                f"n_trials={self.n_trials}, directory={self.directory!r})")


@functools.lru_cache(maxsize=1)
def _code_digest():
    """SHA-256 of this backend's sources: a change of the generated model rebuilds."""
    digest = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()


def _run_binary(folder, values, results):
    """Run ``folder``'s binary with ``values`` (command-line name -> value); read ``results``.

    Array values go to files in a temporary folder of the run, scalars on the command line;
    the binary writes its results to another temporary folder. Returns name -> float64 array.
    """
    prefs = brian2.prefs.devices.cpp_standalone
    command = prefs.run_cmd_unix
    command = [command] if isinstance(command, str) else list(command)
    env = dict(os.environ, **prefs.run_environment_variables)
    with tempfile.TemporaryDirectory(prefix="brian_noisy_rnn_run_") as tmp:
        args = []
        for name, value in values.items():
            arr = np.asarray(value, dtype=np.float64)
            if arr.size == 1 and arr.ndim <= 1:
                args.append(f"{name}={arr.item()!r}")
            else:
                path = os.path.join(tmp, name + ".dat")
                np.ascontiguousarray(arr).tofile(path)
                args.append(f"{name}={path}")
        out = os.path.join(tmp, "results", "")
        os.makedirs(out)
        proc = subprocess.run(command + ["--results_dir", out] + args, cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or "error" in proc.stderr.lower():  # e.g. a size mismatch
            raise RuntimeError(f"the standalone binary in {folder!r} failed (exit code "
                               f"{proc.returncode}): {proc.stderr.strip()[-500:]}")
        return {k: np.fromfile(os.path.join(out, f), dtype=np.float64)
                for k, f in results.items()}
