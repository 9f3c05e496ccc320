"""What training records: the logged history, the results ``train`` and ``train_ensemble``
return, and the settings and summaries written to checkpoints and to ``spec.metadata``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..backends.torch_backend import TorchCTRNN
from ..core.spec import CTRNNSpec
from .ensemble import StackedCTRNN

__all__ = ["EnsembleResult", "TrainingHistory", "TrainingResult"]


@dataclass
class TrainingHistory:
    """What was logged during training, one entry per logging step.

    Attributes
    ----------
    metric_name : str
        The task's primary metric (``metrics.primary_metric(kind)``).
    higher_is_better : bool
        Whether a larger value of the primary metric is better.
    step : list of int
        Number of completed optimisation steps at the entry.
    loss : list of float
        Mean training loss over the steps since the previous entry.
    metrics : dict of str to list of float
        :func:`~brian_noisy_rnn.tasks.metrics.task_metrics` on that step's training batch
        (with the training noise), per metric name.
    val_metrics : dict of str to list of float
        The same on the fixed validation batch (empty unless ``val_trials > 0``).
    elapsed : list of float
        Wall-clock training time in seconds up to the entry.
    """

    metric_name: str
    higher_is_better: bool
    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    val_metrics: dict = field(default_factory=dict)
    elapsed: list = field(default_factory=list)

    def __len__(self):
        return len(self.step)

    @property
    def metric(self) -> list:
        """The primary metric per entry (list of float)."""
        return self.metrics.get(self.metric_name, [])

    def final(self) -> dict:
        """The last entry as a flat dict.

        Returns
        -------
        dict
            ``step``, ``loss``, ``elapsed_s`` (seconds), the metrics by name and the
            validation metrics as ``val_<name>``; {} if the history is empty.
        """
        if not self.step:
            return {}
        out = {"step": self.step[-1], "loss": self.loss[-1], "elapsed_s": self.elapsed[-1]}
        out.update({k: v[-1] for k, v in self.metrics.items()})
        out.update({f"val_{k}": v[-1] for k, v in self.val_metrics.items()})
        return out

    def append(self, step: int, loss: float, metrics: Mapping[str, float],
               val_metrics: Mapping[str, float], elapsed: float) -> None:
        """Add one entry.

        Parameters
        ----------
        step : int
            Number of completed optimisation steps.
        loss : float
            Mean training loss since the previous entry.
        metrics : dict of str to float
            The training-batch metrics of this entry.
        val_metrics : dict of str to float
            The validation metrics of this entry (may be empty).
        elapsed : float
            Wall-clock training time up to this entry, in seconds.
        """
        self.step.append(int(step))
        self.loss.append(float(loss))
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(float(v))
        for k, v in val_metrics.items():
            self.val_metrics.setdefault(k, []).append(float(v))
        self.elapsed.append(float(elapsed))

    def as_dict(self) -> dict:
        """A JSON-compatible dict of plain lists (inverse: :meth:`from_dict`).

        Returns
        -------
        dict
            The attributes by name (copies of the lists).
        """
        return {"metric_name": self.metric_name, "higher_is_better": self.higher_is_better,
                "step": list(self.step), "loss": list(self.loss),
                "metrics": {k: list(v) for k, v in self.metrics.items()},
                "val_metrics": {k: list(v) for k, v in self.val_metrics.items()},
                "elapsed": list(self.elapsed)}

    @classmethod
    def from_dict(cls, d: Mapping) -> TrainingHistory:
        """Inverse of :meth:`as_dict`.

        Parameters
        ----------
        d : dict
            As returned by :meth:`as_dict` (e.g. read back from a checkpoint).

        Returns
        -------
        TrainingHistory
            With copies of the lists in ``d``.
        """
        return cls(metric_name=d["metric_name"], higher_is_better=bool(d["higher_is_better"]),
                   step=list(d["step"]), loss=list(d["loss"]),
                   metrics={k: list(v) for k, v in d["metrics"].items()},
                   val_metrics={k: list(v) for k, v in d["val_metrics"].items()},
                   elapsed=list(d["elapsed"]))


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    spec : CTRNNSpec
        The trained network; ``spec.noise`` is the training noise and
        ``spec.metadata["training"]`` a JSON summary (task, steps, seed, lr, final
        metrics, ...).
    history : TrainingHistory
        What was logged during training.
    model : TorchCTRNN
        The trained module (training dtype).
    steps : int
        Completed optimisation steps.
    elapsed : float
        Wall-clock training time in seconds (summed over resumed runs).
    config : dict
        The settings a checkpoint must match to be resumed.
    checkpoint : str or None
        Path of the checkpoint file (None: no checkpoint).
    """

    spec: CTRNNSpec
    history: TrainingHistory
    model: TorchCTRNN
    steps: int
    elapsed: float
    config: dict
    checkpoint: str | None = None


@dataclass
class EnsembleResult:
    """What :func:`train_ensemble` returns.

    Attributes
    ----------
    specs : list of CTRNNSpec
        The trained networks in the order of the configs.
    histories : list of TrainingHistory
        What was logged for each member.
    model : StackedCTRNN
        The trained stack (training dtype and device).
    steps : int
        Completed optimisation steps.
    elapsed : float
        Wall-clock training time of the ensemble in seconds.
    configs : list of dict
        Each member's settings as :attr:`TrainingResult.config`.
    checkpoint : str or None
        Path of the ensemble's checkpoint file (None: no checkpoint).
    """

    specs: list
    histories: list
    model: StackedCTRNN
    steps: int
    elapsed: float
    configs: list
    checkpoint: str | None = None

    def __len__(self):
        return len(self.specs)

    @property
    def members(self) -> list[TrainingResult]:
        """Each member as a :class:`TrainingResult` (as ``train`` would have returned it)."""
        return [TrainingResult(spec=self.specs[s], history=self.histories[s],
                               model=self.model.member(s), steps=self.steps,
                               elapsed=self.elapsed, config=self.configs[s],
                               checkpoint=self.checkpoint) for s in range(len(self))]


def _stack_single_state(state):
    """Give a one-network checkpoint's weights and Adam moments the ensemble's leading axis."""
    state["model"] = {k: v.unsqueeze(0) for k, v in state["model"].items()}
    for moments in state["optimizer"]["state"].values():
        for k, v in moments.items():
            if k != "step":
                moments[k] = v.unsqueeze(0)


def _config_dict(name, fingerprint, dt_ms, probe, tau_s, c):
    """The settings a checkpoint must match (JSON-able)."""
    return {
        "task": name, "task_fingerprint": fingerprint, "dt_ms": dt_ms, "n_in": probe.n_in,
        "n_out": probe.n_out, "kind": probe.kind, "n_hidden": c.n_hidden,
        "activation": c.activation, "tau_s": tau_s, "noise": c.noise.to_dict(), "seed": c.seed,
        "batch_size": c.batch_size, "lr": c.lr, "grad_clip": c.grad_clip,
        "rec_gain": c.rec_gain, "bias_init": c.bias_init, "trial_pool": c.trial_pool,
        "val_trials": c.val_trials, "dtype": str(c.dtype),
        "init_spec": None if c.init_spec is None else c.init_spec.content_hash(),
        # only when set: configs (and checkpoints) of the default loss stay as they were
        **({} if c.loss is None else {"loss": c.loss}),
    }


def _ensemble_config(configs):
    """An ensemble checkpoint's config: the members' settings flattened as ``member<i>.<key>``."""
    out = {"members": len(configs)}
    for i, c in enumerate(configs):
        out.update({f"member{i}.{k}": v for k, v in c.items()})
    return out


def _summary(config, completed, elapsed, history, noise):
    """JSON-able training summary stored in ``spec.metadata["training"]``."""
    from .. import __version__

    final = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in history.final().items()}
    return {
        "task": config["task"], "steps": completed, "seed": config["seed"],
        "lr": config["lr"], "batch_size": config["batch_size"], "grad_clip": config["grad_clip"],
        "trial_pool": config["trial_pool"], "noise": noise.to_dict(),
        "metric": history.metric_name, "final": final, "elapsed_s": elapsed,
        "brian_noisy_rnn_version": __version__,
        **({"loss": config["loss"]} if "loss" in config else {}),  # only when not the default
    }
