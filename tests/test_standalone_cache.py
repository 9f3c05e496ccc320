"""The standalone build cache and build folders (issue 22 and issue 20, item 2).

Fast tests use a stand-in build function or stop Brian2 before it compiles; the tests that
compile (seconds each) are marked slow.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from brian2 import ms

from brian_noisy_rnn import Noise, StandaloneSimulator, clear_build_cache, simulate
from brian_noisy_rnn.backends.brian2 import build_folders as bf


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(bf.CACHE_ENV, str(root))
    return root


def _fake_build(calls, text="binary"):
    def build(folder):
        calls.append(folder)
        with open(os.path.join(folder, "main"), "w") as f:
            f.write(text)
        os.makedirs(os.path.join(folder, "static_arrays"))
        with open(os.path.join(folder, "static_arrays", "w"), "w") as f:
            f.write("weights")
        return {"built": len(calls)}
    return build


# --- the cache ------------------------------------------------------------------------------

def test_a_cached_entry_is_built_once_and_found_afterwards(cache):
    calls = []
    key = {"sizes": [1, 2]}
    folder, content, built = bf.cache_entry(key, _fake_build(calls))
    assert built and content == {"built": 1} and len(calls) == 1
    assert os.path.dirname(folder) == str(cache) and not calls[0] == folder  # renamed
    again = bf.cache_entry(key, _fake_build(calls))
    assert again == (folder, {"built": 1}, False) and len(calls) == 1
    other = bf.cache_entry({"sizes": [1, 3]}, _fake_build(calls))
    assert other[2] and other[0] != folder


@pytest.mark.parametrize("damage", ["binary", "static array", "manifest", "extra file",
                                    "missing file"])
def test_a_corrupted_cache_entry_is_rebuilt_not_used(cache, damage):
    calls = []
    key = {"sizes": [4]}
    folder, _, _ = bf.cache_entry(key, _fake_build(calls))
    target = {"binary": "main", "static array": os.path.join("static_arrays", "w"),
              "manifest": bf.MANIFEST, "extra file": "planted", "missing file": "main"}[damage]
    path = os.path.join(folder, target)
    if damage == "missing file":
        os.remove(path)
    else:
        with open(path, "a") as f:
            f.write("garbage")
    folder2, content, built = bf.cache_entry(key, _fake_build(calls))
    assert built and len(calls) == 2 and content == {"built": 2} and folder2 == folder
    with open(os.path.join(folder, "main")) as f:
        assert f.read() == "binary"
    assert not os.path.exists(os.path.join(folder, "planted"))


def test_a_failed_build_leaves_no_entry(cache):
    def broken(folder):
        with open(os.path.join(folder, "main"), "w") as f:
            f.write("half")
        raise RuntimeError("compiler failed")

    with pytest.raises(RuntimeError, match="compiler failed"):
        bf.cache_entry({"k": 1}, broken)
    assert [p for p in os.listdir(cache) if not p.endswith(".lock")] == []
    calls = []
    assert bf.cache_entry({"k": 1}, _fake_build(calls))[2] and len(calls) == 1


def test_the_cache_keeps_at_most_its_number_of_entries_least_recently_used_go(cache,
                                                                              monkeypatch):
    monkeypatch.setenv(bf.ENTRIES_ENV, "2")
    calls = []
    first = bf.cache_entry({"k": 1}, _fake_build(calls))[0]
    second = bf.cache_entry({"k": 2}, _fake_build(calls))[0]
    os.utime(first, (1, 1))
    os.utime(second, (2, 2))
    bf.cache_entry({"k": 1}, _fake_build(calls))  # a hit makes it recent again
    third = bf.cache_entry({"k": 3}, _fake_build(calls))[0]
    assert os.path.isdir(first) and os.path.isdir(third) and not os.path.exists(second)
    monkeypatch.setenv(bf.ENTRIES_ENV, "0")
    with pytest.raises(ValueError, match=bf.ENTRIES_ENV):
        bf.cache_entry({"k": 4}, _fake_build(calls))


def test_clear_build_cache_deletes_every_entry(cache):
    calls = []
    for k in range(3):
        bf.cache_entry({"k": k}, _fake_build(calls))
    assert clear_build_cache() == 3
    assert [p for p in os.listdir(cache) if not p.startswith(".")] == []
    assert bf.cache_entry({"k": 0}, _fake_build(calls))[2]  # built again


def test_two_processes_build_one_entry_once(cache, tmp_path):
    """Both wait for one build: the stand-in build sleeps and counts its calls in a file."""
    script = textwrap.dedent(f"""
        import os, time
        from brian_noisy_rnn.backends.brian2 import build_folders as bf
        def build(folder):
            with open({str(tmp_path / "count")!r}, "a") as f:
                f.write("x")
            time.sleep(1.0)
            open(os.path.join(folder, "main"), "w").close()
            return {{}}
        print(bf.cache_entry({{"k": "shared"}}, build)[0])
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and (tmp_path / "count").read_text() == "x"


# --- build folders --------------------------------------------------------------------------

def test_a_new_or_empty_folder_is_claimed_with_a_marker(tmp_path):
    new = bf.claim_build_folder(tmp_path / "a" / "b")
    assert os.path.exists(os.path.join(new, bf.MARKER))
    (tmp_path / "empty").mkdir()
    bf.claim_build_folder(tmp_path / "empty")
    assert (tmp_path / "empty" / bf.MARKER).exists()
    (tmp_path / "a" / "b" / "main.cpp").write_text("ours")
    assert bf.claim_build_folder(tmp_path / "a" / "b") == new  # marked: used as it is


def test_a_users_non_empty_folder_is_refused_and_left_alone(make_spec, tmp_path):
    mine = tmp_path / "myproj"
    mine.mkdir()
    (mine / "main.cpp").write_text("int main() { return 0; }  // the user's")
    with pytest.raises(ValueError, match="directory.*myproj.*not empty.*main.cpp"):
        StandaloneSimulator(make_spec(3, 1, 1), 4, 2, directory=mine)
    with pytest.raises(ValueError, match="directory.*not empty"):
        simulate(make_spec(3, 1, 1), np.zeros((4, 2, 1)), backend="brian2",
                 target="cpp_standalone", directory=str(mine))
    assert (mine / "main.cpp").read_text() == "int main() { return 0; }  // the user's"
    assert sorted(os.listdir(mine)) == ["main.cpp"]


@pytest.mark.parametrize("makefile", ["GNUmakefile", "Makefile"])
@pytest.mark.parametrize("marked", [False, True], ids=["plain", "marked-as-ours"])
def test_a_gnumakefile_in_a_chosen_folder_is_not_run(make_spec, tmp_path, makefile, marked):
    """A planted makefile (that ``make`` would prefer to Brian2's) is refused before any build,
    even in a folder with the package's marker (someone else may write to it)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    if marked:
        (folder / bf.MARKER).write_text("")
    proof = tmp_path / "pwned"
    (folder / makefile).write_text(f"all:\n\ttouch {proof}\n")
    spec = make_spec(3, 1, 1)
    with pytest.raises(ValueError, match=f"directory.*{makefile}.*make"):
        StandaloneSimulator(spec, 4, 2, directory=folder)
    with pytest.raises(ValueError, match=makefile):
        simulate(spec, np.zeros((4, 2, 1)), backend="brian2", target="cpp_standalone",
                 directory=str(folder))
    # planted after the simulator was created: refused at the build
    clean = tmp_path / "clean"
    sim = StandaloneSimulator(spec, 4, 2, directory=clean)
    (clean).mkdir()
    (clean / makefile).write_text(f"all:\n\ttouch {proof}\n")
    with pytest.raises(ValueError, match=makefile):
        sim.run(np.zeros((4, 2, 1)))
    assert not proof.exists()


def test_a_directory_that_is_a_file_is_refused_and_brian2_keeps_working(make_spec, tmp_path):
    from brian2.devices.device import RuntimeDevice, get_device

    path = tmp_path / "file"
    path.write_text("data")
    spec = make_spec(3, 1, 1)
    with pytest.raises(ValueError, match="directory.*is a file"):
        simulate(spec, np.zeros((4, 2, 1)), backend="brian2", target="cpp_standalone",
                 directory=str(path))
    assert isinstance(get_device(), RuntimeDevice) and path.read_text() == "data"
    assert simulate(spec, np.zeros((4, 2, 1)), backend="brian2").states.shape == (4, 2, 3)


def test_a_failed_build_restores_the_runtime_device(make_spec, tmp_path, monkeypatch):
    """Brian2 fails inside the build (here: its ``build`` raises, as a compiler error would):
    the runtime device is active again and later Brian2 runs work."""
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
    from brian2.devices.device import RuntimeDevice, get_device

    def broken(self, *args, **kwargs):
        raise RuntimeError("Project compilation failed")

    monkeypatch.setattr(CPPStandaloneDevice, "build", broken)
    spec = make_spec(3, 1, 1, noise=Noise("pre", 0.3))
    with pytest.raises(RuntimeError, match="compilation failed"):
        StandaloneSimulator(spec, 4, 2, directory=tmp_path / "p").run(np.zeros((4, 2, 1)))
    assert isinstance(get_device(), RuntimeDevice)
    res = simulate(spec, np.ones((4, 2, 1)), backend="brian2", seed=1)
    ref = simulate(spec, np.ones((4, 2, 1)), backend="numpy", seed=1)
    assert np.max(np.abs(res.states - ref.states)) <= 1e-12


# --- compiled (slow) ------------------------------------------------------------------------

@pytest.mark.slow
def test_a_cache_hit_equals_a_fresh_build_bit_for_bit(make_spec, cache, tmp_path):
    """Network A builds the cache entry; network B (other weights, biases, h0, sigma, tau)
    then hits it, and its results with noise on equal B's own fresh build in another folder
    bit for bit, and the reference to 1e-12. A corrupted binary in the entry is rebuilt."""
    noise_a, noise_b = Noise("pre", 0.5), Noise("pre", 0.8)
    spec_a = make_spec(9, 2, 2, noise=noise_a, seed=1)
    spec_b = make_spec(9, 2, 2, noise=noise_b, seed=2, tau=150 * ms)
    u = np.random.default_rng(3).normal(size=(12, 3, 2))
    with StandaloneSimulator(spec_a, 12, 3) as sim:
        sim.run(u, seed=5)
        assert sim.n_builds == 1
        entry = sim.directory
    with StandaloneSimulator(spec_b, 12, 3) as hit:
        hit_out, hit_states = hit.run(u, seed=5)
        assert hit.n_builds == 0 and hit.directory == entry
    with StandaloneSimulator(spec_b, 12, 3, Noise("pre", 0.0)) as silent:  # a sweep's 0
        zero = silent.run(u, seed=5)
        assert silent.n_builds == 0
    ref0 = simulate(spec_b, u, backend="numpy", noise=Noise("pre", 0.0))
    assert np.max(np.abs(zero[1] - ref0.states)) <= 1e-12
    with StandaloneSimulator(spec_b, 12, 3, directory=tmp_path / "fresh") as fresh:
        out, states = fresh.run(u, seed=5)
        assert fresh.n_builds == 1
    assert np.array_equal(hit_states, states) and np.array_equal(hit_out, out)
    ref = simulate(spec_b, u, backend="numpy", seed=5)
    assert np.max(np.abs(states - ref.states)) <= 1e-12
    assert np.max(np.abs(out - ref.outputs)) <= 1e-12
    with open(os.path.join(entry, "main"), "ab") as f:
        f.write(b"\0corrupted")
    with StandaloneSimulator(spec_b, 12, 3) as rebuilt:
        again = rebuilt.run(u, seed=5)
        assert rebuilt.n_builds == 1
    assert np.array_equal(again[1], states)
