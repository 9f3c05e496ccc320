"""The package's layout: import layers, no cycles, a light top-level import, lazy subpackages."""

import os
import shutil
import subprocess
import sys

import pytest

import brian_noisy_rnn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: seconds before a subprocess counts as hung: a guard against hangs, not a time limit (the
#: Brian2 subprocess took over 120 s once on a machine at load 10)
HANG = 600


def _python(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=HANG, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts: layers point one way, no cycles between
    sibling modules, private modules stay private."""
    out = subprocess.run(["lint-imports", "--config", os.path.join(ROOT, "pyproject.toml")],
                         capture_output=True, text=True, timeout=HANG, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") == 3


def test_top_level_import_loads_neither_torch_nor_brian2():
    loaded = _python("import sys, brian_noisy_rnn; "
                     "print(sorted(m for m in ('torch', 'brian2', 'neurogym', 'matplotlib') "
                     "if m in sys.modules))")
    assert loaded == "[]"


def test_subpackages_and_public_names_resolve_lazily():
    out = _python("import brian_noisy_rnn as b; b.tasks.make; b.bridges.train; "
                  "b.analysis.compensate; b.experiments.run_grid; b.plotting.save_figure; "
                  "b.evaluation.evaluate; b.backends.simulate; print('ok')")
    assert out == "ok"
    for name in brian_noisy_rnn.__all__:
        assert getattr(brian_noisy_rnn, name) is not None, name
    assert set(brian_noisy_rnn.__all__) <= set(dir(brian_noisy_rnn))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        brian_noisy_rnn.nonexistent  # noqa: B018


def test_functions_are_not_shadowed_by_modules():
    """``simulate``, ``evaluate`` and ``noise_preference`` stay functions whatever was imported."""
    import brian_noisy_rnn.backends.simulation  # noqa: F401
    import brian_noisy_rnn.evaluation.curves  # noqa: F401

    for name in ("simulate", "evaluate", "noise_preference"):
        assert callable(getattr(brian_noisy_rnn, name)), name
        assert not hasattr(getattr(brian_noisy_rnn, name), "__path__")


def test_brian2_side_works_without_neurogym_and_tasks_say_what_to_install():
    """Where NeuroGym cannot be installed (its numpy pin vs Brian2 >= 2.11), spec, simulate,
    RateCTRNN, SpikingRealization and the torch module still work; the task layer names the
    install command."""
    out = _python(
        "import sys; sys.modules['neurogym'] = None\n"
        "import numpy as np\n"
        "from brian_noisy_rnn import Noise, RateCTRNN, SpikingRealization, simulate\n"
        "from brian_noisy_rnn.backends import TorchCTRNN\n"
        "from brian_noisy_rnn.core import example_spec\n"
        "spec = example_spec(4, noise=Noise('none'))\n"
        "u = np.ones((3, 2, 1))\n"
        "a = simulate(spec, u, backend='numpy').outputs\n"
        "b = simulate(spec, u, backend='brian2').outputs\n"
        "c = simulate(spec, u, backend='torch').outputs\n"
        "assert np.allclose(a, b) and np.allclose(a, c)\n"
        "RateCTRNN(spec); SpikingRealization(spec, neurons_per_unit=2); TorchCTRNN.from_spec(spec)\n"
        "try:\n"
        "    import brian_noisy_rnn.tasks\n"
        "except ImportError as err:\n"
        "    print(err)\n")
    assert "needs NeuroGym" in out and "pip install" in out


def test_the_names_the_readme_uses_are_top_level():
    """``brian_noisy_rnn.train`` and ``brian_noisy_rnn.StandaloneSimulator`` (used in the README)
    resolve lazily to the bridges' and the Brian2 backend's objects."""
    from brian_noisy_rnn.backends.brian2.standalone import StandaloneSimulator
    from brian_noisy_rnn.bridges.training import train

    assert {"train", "StandaloneSimulator"} <= set(brian_noisy_rnn.__all__)
    assert brian_noisy_rnn.train is train
    assert brian_noisy_rnn.StandaloneSimulator is StandaloneSimulator
