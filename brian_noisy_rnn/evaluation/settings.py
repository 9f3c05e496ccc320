"""``EvalConfig``: the settings an evaluation shares wherever it is made (``evaluate``,
``noise_preference``, the demo's and the benchmark's sweeps, the command line), declared once.

The command line derives the flags ``--n-trials``, ``--seed``, ``--backend``, ``--target``,
``--n-sigmas`` and ``--max-relative-sigma`` (names, defaults and help) from these fields
(:func:`~brian_noisy_rnn.core.settings.settings_of`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.settings import setting
from ..core.validation import check_int

__all__ = ["EvalConfig"]


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """The settings of an evaluation (checked on construction).

    Parameters
    ----------
    n_trials : int >= 1
        Test trials (per sigma in a sweep); the same trials at every sigma.
    seed : int in [0, 2**32)
        Seed of the test trials and noise draws.
    backend : str
        The simulation backend (``numpy``, ``torch``, ``brian2``, ``brian2-spiking``).
    target : str or None
        Brian2's code-generation target (brian2 backends only; None: numpy).
    n_sigmas : int >= 1
        Test sigmas of a sweep built from the training sigma.
    max_relative_sigma : float > 0
        The largest test sigma of such a sweep, in units of the training sigma.
    """

    n_trials: int = setting(1000, help="test trials (per sigma; the same trials at every sigma)",
                            kind="int1")
    seed: int = setting(0, help="seed of the test trials and noise draws", kind="seed")
    backend: str = setting("torch", help="numpy, torch, brian2 or brian2-spiking")
    target: str | None = setting(None, help="Brian2 code-generation target: numpy, cython or "
                                            "cpp_standalone")
    n_sigmas: int = setting(9, help="test sigmas in the sweep", kind="int1")
    max_relative_sigma: float = setting(2.0, help="largest test sigma, in units of the training "
                                                  "sigma", kind="pos_float")

    def __post_init__(self):
        check_int(self.n_trials, "n_trials", 1)
        check_int(self.seed, "seed", 0, 2 ** 32)
        check_int(self.n_sigmas, "n_sigmas", 1)
        if not self.max_relative_sigma > 0:
            raise ValueError(f"max_relative_sigma must be > 0, got {self.max_relative_sigma!r}")
