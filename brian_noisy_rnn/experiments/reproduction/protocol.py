"""The reproduction protocol: which networks are trained, how long, and which grids sweep them.

One :class:`Protocol` holds every setting of a run (``Protocol.full()`` or
``Protocol.quick()``). Its grids are ordinary experiment grids
(:func:`~brian_noisy_rnn.experiments.config.grid_from_dict`), so :func:`run_grid` trains,
resumes, parallelises and records them. Cells of different grids that train the same
network (same task, network, training settings, placement, training sigma and seed) share
it through the store's train keys: C1's networks at sigma_train = 1 are C2's level 1, C4's,
C5's and the compensation's networks, and the Brian2 grids re-sweep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Grid, grid_from_dict

__all__ = ["FAMILIES", "FamilySettings", "Protocol", "RELATIVE_SIGMAS"]

#: the five task families of the paper's claim C1, in the report's order
FAMILIES = ("FunctionApproximation-v0", "SingleNeuronRegulator-v0", "MazeNavigation-v0",
            "PathIntegration2D-v0", "Yang19Multitask-v0")

#: test sigmas of every sweep, as multiples of the training sigma
RELATIVE_SIGMAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


@dataclass(frozen=True)
class FamilySettings:
    """How one task family is trained and measured.

    Attributes
    ----------
    task : str
        Task id.
    n_hidden : int
        Hidden units.
    steps : int
        Adam steps per network.
    metric : str
        The metric of the curves and verdicts ("mse" for regression, "cross_entropy", the
        trained loss, for classification).
    report_metrics : tuple of str
        Further metrics reported beside it (e.g. "accuracy").
    n_trials : int
        Test trials per sigma.
    trial_pool : int or None
        Training trials drawn from a fixed pool of this size (None: fresh trials).
    lr : float
        Adam learning rate.
    batch_size : int
        Trials per step.
    """

    task: str
    n_hidden: int
    steps: int
    metric: str
    report_metrics: tuple = ()
    n_trials: int = 1000
    trial_pool: int | None = None
    lr: float = 0.01
    batch_size: int = 64

    @property
    def short(self):
        """The task id without ``-v0`` (used in grid names and file names)."""
        return self.task.rsplit("-v", 1)[0]


def _families(quick):
    """Per-family settings: (full, quick) steps and trials, chosen from measured costs
    (ms per Adam step on one core at batch 64: FA 32 units ~5, SNR 32 ~5, Maze 64 ~18,
    PathIntegration2D 64 ~9, Yang19 64 ~30, 128 ~57). Yang19 has 128 units and 3000 steps
    (64 units and 2000 steps reached a decision-step accuracy of only 0.61)."""
    def pick(full, short):
        return short if quick else full

    return {
        "FunctionApproximation-v0": FamilySettings(
            "FunctionApproximation-v0", 32, pick(1000, 300), "mse", ("nmse",),
            n_trials=pick(1000, 300)),
        "SingleNeuronRegulator-v0": FamilySettings(
            "SingleNeuronRegulator-v0", 32, pick(600, 300), "mse", ("nmse",),
            n_trials=pick(1000, 300)),
        "MazeNavigation-v0": FamilySettings(
            "MazeNavigation-v0", 64, pick(800, 150), "cross_entropy",
            ("accuracy", "trial_accuracy", "decision_cross_entropy"), n_trials=pick(500, 200),
            trial_pool=2048),
        "PathIntegration2D-v0": FamilySettings(
            "PathIntegration2D-v0", 64, pick(1500, 300), "mse", ("nmse",),
            n_trials=pick(1000, 300), trial_pool=4096),
        "Yang19Multitask-v0": FamilySettings(
            "Yang19Multitask-v0", pick(128, 64), pick(3000, 150), "cross_entropy",
            ("accuracy", "decision_cross_entropy"), n_trials=pick(500, 200), trial_pool=2048),
    }


@dataclass(frozen=True)
class Protocol:
    """Every setting of a reproduction run.

    Attributes
    ----------
    quick : bool
        The reduced smoke-test protocol (one seed, fewer steps and trials).
    seeds : tuple of int
        Training seeds of every cell.
    families : dict of str to FamilySettings
        Task id -> its settings, for the five families of :data:`FAMILIES`.
    sigma_train : float
        C1's training sigma (the FunctionApproximation default).
    c2_levels : tuple of float
        C2's training sigmas (from well below to above ``sigma_train``).
    c2_families : tuple of str
        Families of C2, C4 and C5.
    brian2_trials : int
        Trials per sigma of the Brian2-vs-torch sweeps.
    brian2_sigmas : tuple of float
        Their test sigmas, as multiples of the training sigma.
    shift_trials : int
        Trials of C4's shift reports.
    shift_repeats : int
        Noise draws per trial in C4.
    closed_loop_task : str
        Task id of the closed-loop maze (used when the installed version has it).
    closed_loop_metric : str
        Its metric.
    closed_loop_trials : int
        Trials per sigma of the closed-loop sweeps (played step by step: ~20 ms per trial).
    closed_loop_sigmas : tuple of float
        Their test sigmas, as multiples of the training sigma.
    ff_depths : tuple of int
        C3: numbers of hidden layers.
    ff_width : int
        C3: units per hidden layer.
    ff_steps : int
        C3: Adam steps per feedforward network.
    ff_trials : int
        C3: test samples per sigma.
    dt_ms : float
        Time step (ms) of every network and task.
    tau_ms : float
        Time constant (ms) of every network.
    eval_seed : int
        Seed of every test sweep (trials and noise draws, common random numbers).
    """

    quick: bool
    seeds: tuple
    families: dict = field(default_factory=dict)
    sigma_train: float = 1.0
    c2_levels: tuple = (0.1, 0.25, 0.5, 1.0, 2.0)
    c2_families: tuple = ("FunctionApproximation-v0", "SingleNeuronRegulator-v0")
    brian2_trials: int = 200
    brian2_sigmas: tuple = (0.0, 0.5, 1.0, 2.0)
    shift_trials: int = 200
    shift_repeats: int = 32
    closed_loop_task: str = "MazeNavigationClosedLoop-v0"
    closed_loop_metric: str = "goal_reached"
    closed_loop_trials: int = 200
    closed_loop_sigmas: tuple = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    ff_depths: tuple = (1, 2)
    ff_width: int = 256
    ff_steps: int = 5000
    ff_trials: int = 2000
    dt_ms: float = 20.0
    tau_ms: float = 100.0
    eval_seed: int = 1234

    @classmethod
    def full(cls):
        """The full protocol: 3 seeds per cell.

        Returns
        -------
        Protocol
            The settings of ``brian-noisy-rnn reproduce``.
        """
        return cls(quick=False, seeds=(0, 1, 2), families=_families(False))

    @classmethod
    def quick_protocol(cls):
        """The reduced protocol of ``reproduce --quick``: one seed, fewer steps and trials.

        Returns
        -------
        Protocol
            The same sections on less data.
        """
        return cls(quick=True, seeds=(0,), families=_families(True), brian2_trials=50,
                   shift_trials=60, shift_repeats=16, closed_loop_trials=60, ff_steps=1000,
                   ff_trials=500)

    # --- grids ------------------------------------------------------------------------------
    def _grid(self, name, family, placements, train_sigmas, seeds, backends, relative,
              n_trials, metric=None, task=None, *, sigmas=None, dt_ms=None, loss=None,
              steps=None):
        """An experiment grid of ``family``'s settings; ``sigmas`` (absolute test sigmas)
        replaces ``relative``; ``dt_ms``, ``loss`` and ``steps`` override the protocol's."""
        s = self.families[family]
        training = {"steps": steps or s.steps, "batch_size": s.batch_size, "lr": s.lr}
        if s.trial_pool is not None:
            training["trial_pool"] = max(s.trial_pool, s.batch_size)
        if loss is not None:
            training["loss"] = loss
        sweep = ({"sigmas": list(sigmas)} if sigmas is not None
                 else {"relative_sigmas": list(relative)})
        data = {
            "name": name,
            "grid": {"tasks": [task or s.task], "placements": list(placements),
                     "train_sigmas": list(train_sigmas), "seeds": list(seeds),
                     "backends": list(backends)},
            "sweep": {**sweep, "n_trials": n_trials, "seed": self.eval_seed,
                      "metric": metric or s.metric},
            "network": {"n_hidden": s.n_hidden, "activation": "relu", "tau_ms": self.tau_ms,
                        "dt_ms": dt_ms or self.dt_ms},
            "training": training,
        }
        if any(b.startswith("brian2") for b in backends):
            data["backend_options"] = {"brian2": {"target": "numpy"}}
        return grid_from_dict(data, source=f"reproduction protocol ({name})")

    def c1_grid(self, family: str) -> Grid:
        """C1: noise inside vs outside f at ``sigma_train``, every seed, swept in torch.

        Parameters
        ----------
        family : str
            A task id of :data:`FAMILIES`.

        Returns
        -------
        Grid
            Named ``c1-<family>``.
        """
        s = self.families[family]
        return self._grid(f"c1-{s.short}", family, ("pre", "post"), (self.sigma_train,),
                          self.seeds, ("torch",), RELATIVE_SIGMAS, s.n_trials)

    def c2_grid(self, family: str) -> Grid:
        """C2: noise inside f at every level of :attr:`c2_levels` (level ``sigma_train`` is C1's
        network, re-swept).

        Parameters
        ----------
        family : str
            A task id of :attr:`c2_families`.

        Returns
        -------
        Grid
            Named ``c2-<family>``.
        """
        s = self.families[family]
        return self._grid(f"c2-{s.short}", family, ("pre",), self.c2_levels, self.seeds,
                          ("torch",), RELATIVE_SIGMAS, s.n_trials)

    def brian2_grid(self, family: str) -> Grid:
        """The first seed's C1 networks (both placements) swept in torch and in Brian2 on the
        same trials and noise draws.

        Parameters
        ----------
        family : str
            A task id of :data:`FAMILIES`.

        Returns
        -------
        Grid
            Named ``brian2-<family>``.
        """
        s = self.families[family]
        return self._grid(f"brian2-{s.short}", family, ("pre", "post"), (self.sigma_train,),
                          self.seeds[:1], ("torch", "brian2"), self.brian2_sigmas,
                          self.brian2_trials)

    def describe(self) -> list[str]:
        """One Markdown line per family: units, steps, trials, metric.

        Returns
        -------
        list of str
            The protocol's settings, for the report.
        """
        out = []
        for fam in FAMILIES:
            s = self.families[fam]
            pool = f", training trials from a pool of {s.trial_pool}" if s.trial_pool else ""
            out.append(f"- {fam}: {s.n_hidden} relu units, {s.steps} Adam steps of batch "
                       f"{s.batch_size} (lr {s.lr:g}){pool}; {s.n_trials} test trials per "
                       f"sigma; metric {s.metric}"
                       + (f" (also {', '.join(s.report_metrics)})" if s.report_metrics else ""))
        out.append("- metrics: mse for regression; for classification the trained loss "
                   "(cross_entropy, the verdicts' metric) and accuracy; NeuroGym's own "
                   "`performance` is not available for these tasks' batches (they carry no "
                   "NeuroGym env states)")
        out.append(f"- {self.closed_loop_task}: C1's MazeNavigation-v0 networks played step by "
                   f"step (their own moves decide where they are next); {self.closed_loop_trials} "
                   f"trials per sigma; metric {self.closed_loop_metric}")
        out.append(f"- C2: noise inside f at training sigmas {list(self.c2_levels)} on "
                   f"{', '.join(self.c2_families)}")
        out.append(f"- C3: feedforward relu networks, {' and '.join(map(str, self.ff_depths))} "
                   f"hidden layers of {self.ff_width} units, {self.ff_steps} Adam steps "
                   f"(train_feedforward's defaults otherwise), {self.ff_trials} test samples "
                   "per sigma, numpy reference")
        out.append(f"- C4: {self.shift_trials} trials x {self.shift_repeats} noise draws per "
                   "network (numpy)")
        out.append(f"- Brian2: the first seed's C1 networks, {self.brian2_trials} trials per "
                   f"sigma, test sigmas {list(self.brian2_sigmas)} x sigma_train, numpy target")
        return out
