"""Membrane-noise sigma in biologists' units: ISI CV, Fano factor and membrane std (mV).
=====================================================================================

Runs :func:`brian_noisy_rnn.analysis.calibrate_membrane_noise` for Poisson and LIF
realizations (isolated units at activity 0.5, rate_max 50 Hz, dt 10 ms, 10 units x 20
neurons, 3 s per sigma), prints the table, the sigmas that give "cortical" variability
(ISI CV 1 for Poisson neurons; membrane std 2, 4 mV for LIF neurons with 20 mV from reset
to threshold) and draws ``docs/figures/membrane_noise_calibration.png``.

Usage::

    python examples/membrane_noise_calibration.py [--out FIGURE] [--target cython]

About two minutes on the numpy target of one core. The figure this script drew (committed;
``docs/gallery.toml`` records the code that drew it, and the docs build does not rerun it):

.. image:: /figures/membrane_noise_calibration.png
   :alt: ISI CV, Fano factor and free membrane std against the membrane noise sigma
"""

# sphinx_gallery_thumbnail_path = "figures/membrane_noise_calibration.png"

import argparse

import numpy as np

from brian_noisy_rnn.analysis import calibrate_membrane_noise

SIGMAS = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]


def main():
    """Calibrate, print, draw."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/figures/membrane_noise_calibration.png")
    parser.add_argument("--target", default="numpy")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cals = {model: calibrate_membrane_noise(SIGMAS, neuron_model=model, n_steps=300,
                                            target=args.target)
            for model in ("poisson", "lif")}
    for model, cal in cals.items():
        print(f"{model} neurons ({cal.settings})")
        print(f"{'sigma':>6} {'ISI CV':>7} {'Fano':>6} {'pop Fano':>8} {'Vm std mV':>9} {'rate Hz':>8}")
        for r in cal.rows():
            vm = "-" if r["membrane_std_mv"] is None else f"{r['membrane_std_mv']:.2f}"
            print(f"{r['sigma']:>6.2f} {r['cv']:>7.3f} {r['fano']:>6.3f} "
                  f"{r['population_fano']:>8.3f} {vm:>9} {r['rate_hz']:>8.1f}")
    try:
        print("Poisson neurons, ISI CV 1.0 at sigma =", round(cals["poisson"].sigma_for(cv=1.0), 3))
    except ValueError as err:
        print("Poisson neurons, ISI CV 1.0:", err)
    print("LIF neurons, membrane std 2 and 4 mV at sigma =",
          np.round(cals["lif"].sigmas_for(membrane_std_mv=[2.0, 4.0]), 3).tolist())

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), layout="constrained")
    style = {"poisson": dict(color="C0", marker="o"), "lif": dict(color="C3", marker="s")}
    for model, cal in cals.items():
        axes[0].plot(cal.sigmas, cal.cv, label=f"{model}", **style[model])
        axes[1].plot(cal.sigmas, cal.fano, label=f"{model}, single neuron", **style[model])
        axes[1].plot(cal.sigmas, cal.population_fano, linestyle="--",
                     label=f"{model}, population of 20", **style[model])
    lif = cals["lif"]
    axes[2].plot(lif.sigmas, lif.membrane_std_mv, label="lif (20 mV reset to threshold)",
                 **style["lif"])
    for ax, ref, label in ((axes[0], 1.0, "ISI CV"), (axes[1], 1.0, "Fano factor (100 ms)"),
                           (axes[2], None, "free membrane std (mV)")):
        if ref is not None:
            ax.axhline(ref, color="0.5", linestyle=":", linewidth=1)
        ax.set_xlabel("membrane noise sigma (units of the drive a)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    axes[2].axhspan(2, 6, color="0.9", zorder=0)
    axes[0].set_title("dotted: Poisson process", fontsize=8)
    axes[2].set_title("grey: a few mV, as in vivo", fontsize=8)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
