"""Do spiking populations with membrane noise restore what a noise-trained network learned?
========================================================================================

Trains networks with white noise inside f ("pre") and outside f ("post"), sigma_train = 1,
3 seeds each, on two task families (``FunctionApproximation-v0`` and
``SingleNeuronRegulator-v0``), all of a task in one ``bridges.train_ensemble``. Then, on the
same trials, for every network:

* the rate network's own curve: task MSE against the training noise's sigma (torch, noise
  at the training placement);
* the compensated network (``analysis.compensate``: the deterministic network with f
  replaced by its noise average ``E f(a + sigma_train xi)``), one point;
* the spiking realization (``SpikingRealization`` in Brian2, Poisson neurons at
  ``rate_max`` = 25 Hz per unit of f) with M neurons per unit, each neuron with its own white
  membrane noise of size sigma_m inside its transfer (a fresh draw per network step):
  ``noise_preference(..., backend="brian2-spiking", placement="pre",
  noise_as="membrane", neurons_per_unit=M)`` over sigma_m.

It prints the table of docs/biological_noise.md and writes its figures.

Usage::

    python examples/membrane_noise_experiment.py [--out DIR] [--quick] [--target cython]

Every curve is cached as a JSON file in ``--out`` (with its per-trial values, for paired
comparisons), and training resumes from its checkpoint, so an interrupted run continues where
it stopped; a finished run only redraws the figures and the table. ``--quick`` is a smoke test
(tiny training, few trials and sigmas, small populations).

The figures this script drew for docs/biological_noise.md (committed; ``docs/gallery.toml``
records the code that drew them, and the docs build does not rerun it: 16.6 CPU-minutes):

.. image:: /figures/membrane_FunctionApproximation.png
   :alt: FunctionApproximation-v0: MSE against the membrane noise sigma

.. image:: /figures/membrane_SingleNeuronRegulator.png
   :alt: SingleNeuronRegulator-v0: MSE against the membrane noise sigma
"""

# sphinx_gallery_thumbnail_path = "figures/membrane_FunctionApproximation.png"

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass

import numpy as np
from brian2 import ms

from brian_noisy_rnn import CTRNNSpec, Noise
from brian_noisy_rnn.analysis import compensate
from brian_noisy_rnn.core.atomic import atomic_write
from brian_noisy_rnn.evaluation import evaluate_per_trial, noise_preference
from brian_noisy_rnn.evaluation.curves import NoisePreferenceCurve
from brian_noisy_rnn.evaluation.scoring import finite_mean_sem
from brian_noisy_rnn.tasks import batch, make, task_name

TASKS = ("FunctionApproximation-v0", "SingleNeuronRegulator-v0")
PLACEMENTS = ("pre", "post")
SIGMA_TRAIN = 1.0
RATE_MAX_HZ = 25.0
EVAL_SEED = 1234


@dataclass(frozen=True)
class Setting:
    """The sizes of one run of the experiment (full or ``--quick``).

    Attributes
    ----------
    seeds : tuple of int
        Training seeds (one network per seed and placement).
    steps : int
        Adam steps of training.
    n_hidden : int
        Hidden units.
    sigmas : tuple of float
        Test sigmas (rate curve and sigma_m), absolute.
    populations : dict of int to int
        Neurons per unit M -> trials per sigma_m point.
    rate_trials : int
        Trials of the rate network's curve and of the compensated network.
    """

    seeds: tuple
    steps: int
    n_hidden: int
    sigmas: tuple
    populations: dict
    rate_trials: int


FULL = Setting(seeds=(0, 1, 2), steps=1500, n_hidden=32,
               sigmas=tuple(i / 4 for i in range(9)),
               populations={10: 200, 100: 64, 1000: 16}, rate_trials=1000)
QUICK = Setting(seeds=(0,), steps=20, n_hidden=4, sigmas=(0.0, 1.0, 2.0),
                populations={2: 4, 5: 3}, rate_trials=20)


def _write_json(path, obj):
    with atomic_write(path, prefix=".tmp-", suffix=".json") as f:
        f.write(json.dumps(obj, indent=1).encode())


def _spec_path(out, task, placement, seed):
    return os.path.join(out, "specs", f"{task}_{placement}_seed{seed}.npz")


def trained_specs(out, task, setting, progress=True):
    """The task's networks {(placement, seed): CTRNNSpec}, trained together once and cached.

    Parameters
    ----------
    out : str
        The results folder (specs in ``out/specs``, the ensemble's checkpoint beside them).
    task : str
        Task id.
    setting : Setting
        The run's sizes.
    progress : bool
        Show the training progress bar.

    Returns
    -------
    dict of (str, int) to CTRNNSpec
    """
    from brian_noisy_rnn.bridges import train_ensemble

    keys = [(p, s) for p in PLACEMENTS for s in setting.seeds]
    paths = {k: _spec_path(out, task, *k) for k in keys}
    if all(os.path.exists(p) for p in paths.values()):
        return {k: CTRNNSpec.load(p) for k, p in paths.items()}
    os.makedirs(os.path.join(out, "specs"), exist_ok=True)
    result = train_ensemble(
        make(task, dt=20), members=[dict(noise=Noise(p, SIGMA_TRAIN), seed=s) for p, s in keys],
        n_hidden=setting.n_hidden, activation="relu", tau=100 * ms, steps=setting.steps,
        batch_size=64, lr=0.01, checkpoint=os.path.join(out, "specs", f"{task}.ckpt"),
        progress=progress)
    for k, spec in zip(keys, result.specs):
        spec.save(paths[k])
    return dict(zip(keys, result.specs))


# --- curves, cached one JSON file per (task, placement, seed, kind) ---------------------------
def _curve_path(out, task, placement, seed, kind):
    return os.path.join(out, "curves", f"{task}_{placement}_seed{seed}_{kind}.json")


def cached_curve(path, compute):
    """``compute()`` (a NoisePreferenceCurve) once; later calls read ``path``.

    Parameters
    ----------
    path : str
        The JSON file (``NoisePreferenceCurve.to_dict`` plus the per-trial values).
    compute : callable() -> NoisePreferenceCurve
        Measures the curve (must keep ``trial_values``).

    Returns
    -------
    NoisePreferenceCurve
        With ``trial_values`` (S, B) and, in ``cell``, the seconds it took to measure.
    """
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    else:
        t0 = time.process_time()
        curve = compute()
        data = {**curve.to_dict(), "trial_values": curve.trial_values.tolist(),
                "cpu_seconds": time.process_time() - t0}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_json(path, data)
    curve = NoisePreferenceCurve.from_dict(data)
    curve.trial_values = np.array(data["trial_values"], dtype=float)
    curve.cell = {"cpu_seconds": data["cpu_seconds"]}
    return curve


def compensated_point(spec, env, n_trials):
    """The compensated network's MSE on the curves' trials, as a one-point curve.

    ``analysis.compensate(spec)``: f replaced by ``E f(a + sigma_train xi)``, run without
    noise (for a network trained with noise outside f: the network itself without noise).

    Parameters
    ----------
    spec : CTRNNSpec
        A trained network.
    env : TrialEnv
        The task.
    n_trials : int
        Trials (the first ``n_trials`` of the evaluation batch, as for every curve).

    Returns
    -------
    NoisePreferenceCurve
        One point at sigma 0, with per-trial values; ``backend`` "torch".
    """
    comp = compensate(spec)
    res = evaluate_per_trial(comp, env, backend="torch", noise=Noise("none"), n_trials=n_trials,
                             seed=EVAL_SEED)
    mean, sem = finite_mean_sem(res.per_trial["mse"])
    return NoisePreferenceCurve(
        sigmas=np.zeros(1), metric="mse", higher_is_better=False, mean=np.array([mean]),
        sem=np.array([sem]), n_trials=n_trials, placement="none", process="white",
        sigma_train=0.0, train_placement=spec.noise.placement, backend="torch",
        seed=EVAL_SEED, task=task_name(env),
        trial_values=res.per_trial["mse"][None], spec_hash=comp.content_hash())


def measure(out, task, setting, target, progress=True):
    """All curves of one task: {(placement, seed, kind): NoisePreferenceCurve}.

    ``kind``: ``"rate"`` (torch, training placement), ``"rate_pre"`` (torch, noise inside f;
    networks trained with noise outside f only), ``"compensated"``, ``"M<m>"`` (spiking,
    membrane noise).

    Parameters
    ----------
    out : str
        Results folder.
    task : str
        Task id.
    setting : Setting
        The run's sizes.
    target : str
        Brian2 target of the spiking runs ("cython" or "numpy").
    progress : bool
        Print one line per curve.

    Returns
    -------
    dict
    """
    specs = trained_specs(out, task, setting, progress=progress)
    env = make(task, dt=20)
    curves = {}
    for (placement, seed), spec in specs.items():
        jobs = {
            "rate": lambda: noise_preference(spec, env, setting.sigmas, backend="torch",
                                             n_trials=setting.rate_trials, seed=EVAL_SEED),
            "compensated": lambda: compensated_point(spec, env, setting.rate_trials),
        }
        if placement != "pre":  # control: the rate network with noise inside f
            jobs["rate_pre"] = lambda: noise_preference(
                spec, env, setting.sigmas, placement="pre", backend="torch",
                n_trials=setting.rate_trials, seed=EVAL_SEED)
        for m, n in setting.populations.items():
            jobs[f"M{m}"] = (lambda m=m, n=n: noise_preference(
                spec, env, setting.sigmas, backend="brian2-spiking", placement="pre",
                noise_as="membrane", neurons_per_unit=m, rate_max_hz=RATE_MAX_HZ,
                target=target, n_trials=n, seed=EVAL_SEED))
        for kind, compute in jobs.items():
            path = _curve_path(out, task, placement, seed, kind)
            fresh = not os.path.exists(path)
            curves[placement, seed, kind] = c = cached_curve(path, compute)
            if progress:
                print(f"  {task} {placement} seed {seed} {kind:>11s}: best sigma "
                      f"{c.preferred_sigma:g}, MSE {np.nanmin(c.mean):.4g} "
                      f"({c.cell['cpu_seconds']:.1f} s CPU{'' if fresh else ', cached'})",
                      flush=True)
    return curves


# --- summary: seed-averaged curves, paired comparisons, table, figures ------------------------
def _combine(means, sems):
    """Mean over networks of per-network means, and its standard error (independent SEs)."""
    means, sems = np.asarray(means, dtype=float), np.asarray(sems, dtype=float)
    return means.mean(axis=0), np.sqrt((sems ** 2).sum(axis=0)) / len(means)


def _paired(a, b):
    """Per-trial ``a - b`` on the trials both have (the first ones: same seed, same batch)."""
    n = min(a.size, b.size)
    return finite_mean_sem(a[:n] - b[:n])


def summarize(curves, seeds):
    """Seed-averaged curves and the headline comparisons of one task.

    Parameters
    ----------
    curves : dict
        From :func:`measure`.
    seeds : sequence of int
        The training seeds.

    Returns
    -------
    dict
        ``(placement, kind)`` -> dict with ``sigmas``, ``mean``, ``sem`` (seed-averaged,
        standard error over trials with the networks fixed), ``best_sigma`` (of the averaged
        curve), ``best_per_seed``, ``n_trials`` and, for the spiking kinds, the paired
        differences ``vs_zero``, ``vs_rate_train``, ``vs_compensated`` (mean, se) of the MSE
        at ``best_sigma`` against sigma_m = 0, the rate network at sigma_train and the
        compensated network, each on the same trials.
    """
    out = {}
    kinds = sorted({k for (_, _, k) in curves}, key=lambda k: (k[0] == "M", len(k), k))
    for placement in PLACEMENTS:
        for kind in kinds:
            if (placement, seeds[0], kind) not in curves:
                continue
            cs = [curves[placement, s, kind] for s in seeds]
            mean, sem = _combine([c.mean for c in cs], [c.sem for c in cs])
            best = int(np.nanargmin(mean))
            row = {"sigmas": cs[0].sigmas, "mean": mean, "sem": sem,
                   "best_sigma": float(cs[0].sigmas[best]), "n_trials": cs[0].n_trials,
                   "best_per_seed": [c.preferred_sigma for c in cs]}
            if kind.startswith("M"):
                for name, other in (("vs_zero", None), ("vs_rate_train", "rate"),
                                    ("vs_compensated", "compensated")):
                    diffs = []
                    for s, c in zip(seeds, cs):
                        x = c.trial_values[best]
                        if other is None:
                            y = c.trial_values[c.index_of(0.0)]
                        else:
                            ref = curves[placement, s, other]
                            y = ref.trial_values[ref.index_of(SIGMA_TRAIN) if other == "rate" else 0]
                        diffs.append(_paired(x, y))
                    d = np.array(diffs)
                    row[name] = _combine(d[:, :1], d[:, 1:])
            out[placement, kind] = row
    return out


def _fmt(mean, se, sign="+"):
    return f"{float(np.ravel(mean)[0]):{sign}.3g} ± {float(np.ravel(se)[0]):.2g}"


def table(task, summary):
    """The markdown table of one task (the rows of docs/biological_noise.md).

    Parameters
    ----------
    task : str
        Task id.
    summary : dict
        From :func:`summarize`.

    Returns
    -------
    list of str
        Markdown lines.
    """
    lines = [f"**{task}** (sigma_train = {SIGMA_TRAIN:g}; MSE mean ± SE over trials, averaged "
             "over the seeds)", "",
             "| trained | test noise | trials | best sigma (mean curve; per seed) | MSE at 0 | "
             f"MSE at {SIGMA_TRAIN:g} | MSE at best | best - sigma_m 0 | "
             "best - rate at sigma_train | best - compensated |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for placement in PLACEMENTS:
        for (p, kind), r in summary.items():
            if p != placement:
                continue
            i0, ib = 0, int(np.flatnonzero(r["sigmas"] == r["best_sigma"])[0])
            name = {"rate": f"rate network, {placement} (torch)",
                    "rate_pre": "rate network, pre (torch)",
                    "compensated": "compensated network"}.get(
                kind, f"spiking, M = {kind[1:]}, membrane sigma_m")
            per_seed = ", ".join(f"{s:g}" for s in r["best_per_seed"])
            best = "—" if kind == "compensated" else f"{r['best_sigma']:g} ({per_seed})"
            at0 = _fmt(r["mean"][i0], r["sem"][i0], "")
            it = np.flatnonzero(np.isclose(r["sigmas"], SIGMA_TRAIN))
            att = _fmt(r["mean"][it[0]], r["sem"][it[0]], "") if it.size else "—"
            atb = "—" if kind == "compensated" else _fmt(r["mean"][ib], r["sem"][ib], "")
            vz = _fmt(*r["vs_zero"]) if "vs_zero" in r else ""
            vr = _fmt(*r["vs_rate_train"]) if "vs_rate_train" in r else ""
            vc = _fmt(*r["vs_compensated"]) if "vs_compensated" in r else ""
            lines.append(f"| {placement} | {name} | {r['n_trials']} | {best} | {at0} | {att} | {atb} | {vz} | "
                         f"{vr} | {vc} |")
    return lines


def figure(task, summary, path):
    """MSE against the test sigma: one panel per training placement (PNG).

    Parameters
    ----------
    task : str
        Task id.
    summary : dict
        From :func:`summarize`.
    path : str
        The image file.

    Returns
    -------
    str
        The path written.
    """
    from brian_noisy_rnn.plotting import new_figure, save_figure

    fig = new_figure((9.0, 3.6))
    axes = fig.subplots(1, len(PLACEMENTS), sharey=True)
    colors = {}
    for ax, placement in zip(np.atleast_1d(axes), PLACEMENTS):
        for (p, kind), r in summary.items():
            if p != placement:
                continue
            if kind == "compensated":
                m, e = r["mean"][0], r["sem"][0]
                ax.axhline(m, color="0.4", ls="--", lw=1, label="compensated (no noise)")
                ax.axhspan(m - e, m + e, color="0.85", lw=0)
                continue
            if kind == "rate":
                style = dict(color="k", lw=2, label=f"rate, {placement} noise (torch)")
            elif kind == "rate_pre":
                style = dict(color="0.55", lw=2, label="rate, pre noise (torch)")
            else:
                c = colors.setdefault(kind, f"C{len(colors)}")
                style = dict(color=c, lw=1.2, label=f"spiking M = {kind[1:]}, membrane")
            ax.errorbar(r["sigmas"], r["mean"], yerr=r["sem"], marker="o", ms=3, capsize=2,
                        **style)
            ib = int(np.flatnonzero(r["sigmas"] == r["best_sigma"])[0])
            ax.plot(r["sigmas"][ib], r["mean"][ib], marker="*", ms=11, color=style["color"],
                    ls="none")
        ax.axvline(SIGMA_TRAIN, color="0.6", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("test sigma (rate) / sigma_m (spiking)")
        ax.set_title(f"trained with noise {'inside' if placement == 'pre' else 'outside'} f")
    np.atleast_1d(axes)[0].set_ylabel("task MSE")
    np.atleast_1d(axes)[-1].legend(fontsize=7, loc="upper left")
    fig.suptitle(task, fontsize=10)
    return save_figure(fig, path, dpi=100, close=True)


def main(argv=None):
    """Run (or resume) the experiment, print the tables, write the figures.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    dict
        task -> summary (:func:`summarize`).
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="membrane_noise_experiment",
                   help="results folder (resumes what is cached there)")
    p.add_argument("--target", default="cython", choices=["numpy", "cython"],
                   help="Brian2 target of the spiking runs")
    p.add_argument("--quick", action="store_true", help="smoke test: tiny training and sweeps")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    setting = QUICK if args.quick else FULL
    os.makedirs(args.out, exist_ok=True)
    results, lines, cpu = {}, [], 0.0
    for task in TASKS:
        curves = measure(args.out, task, setting, args.target)
        cpu += sum(c.cell["cpu_seconds"] for c in curves.values())
        results[task] = summary = summarize(curves, setting.seeds)
        lines += table(task, summary) + [""]
        path = figure(task, summary, os.path.join(args.out, f"membrane_{task.split('-')[0]}.png"))
        print(f"wrote {path}")
    text = "\n".join(lines)
    with atomic_write(os.path.join(args.out, "table.md"), suffix=".md") as f:
        f.write(text.encode())
    print(text)
    print(f"CPU time of the curves (as measured when they were computed): {cpu / 60:.1f} min")
    return results


if __name__ == "__main__":
    main()
