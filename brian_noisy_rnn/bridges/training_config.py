"""``TrainConfig``: the settings of a training run, checked on construction, and the checks of
the run options (checkpointing, threads, device) that ``train`` takes beside them."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import torch

from ..tasks import metrics as task_metrics_module
from ..core.activations import get_activation
from ..core.noise import Noise, as_noise
from ..core.settings import setting
from ..core.spec import CTRNNSpec, check_spec
from ..core.units import to_seconds
from ..core.validation import check_choice, check_int

if TYPE_CHECKING:
    from brian2 import Quantity

__all__ = ["TrainConfig"]


# --- argument checks -------------------------------------------------------------------
def _check_positive(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_real(value, name, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)



# --- settings -----------------------------------------------------------------------------
class _BuildableSettings:
    """``build``: a settings dataclass from a base instance and/or keyword arguments (shared by
    :class:`TrainConfig` and :class:`~brian_noisy_rnn.bridges.feedforward.FeedforwardConfig`)."""

    @classmethod
    def build(cls, config=None, **settings: Any):
        """``config`` with ``settings`` replaced, or a new config from ``settings``.

        Parameters
        ----------
        config : instance of this class or None
            The base settings; None: build a new config from ``settings`` alone.
        **settings : keyword arguments
            Fields of this class (checked again on construction).

        Returns
        -------
        instance of this class
            ``config`` itself if there are no ``settings``.

        Raises
        ------
        TypeError
            For an unknown setting or a ``config`` that is not an instance of this class.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise TypeError(f"unknown training settings {unknown}; {cls.__name__} has "
                            f"{sorted(names)}")
        if config is None:
            return cls(**settings)
        if not isinstance(config, cls):
            raise TypeError(f"config must be a {cls.__name__} or None, got "
                            f"{type(config).__name__}")
        return replace(config, **settings) if settings else config


@dataclass(frozen=True, kw_only=True)
class TrainConfig(_BuildableSettings):
    """The settings that define a training run (checked on construction).

    ``train(env, TrainConfig(...))`` and ``train(env, n_hidden=..., ...)`` are the same call;
    an ensemble takes one config per member (:func:`train_ensemble`). Every check raises a
    ValueError or TypeError naming the field.

    Parameters
    ----------
    n_hidden : int >= 1
        Number of hidden units.
    noise : Noise
        The training noise (:class:`~brian_noisy_rnn.Noise`); it becomes ``spec.noise`` of
        the result. Default ``Noise("none")``, as the command line's ``train``.
    seed : int in [0, 2**32)
        Seeds the initial weights, every batch and the training noise.
    activation : str
        A registered activation name.
    tau : Brian2 time quantity or None
        Membrane time constant; None: ``100*ms`` (stored as such). Must exceed the task's dt.
    steps : int >= 1
        Total number of optimisation steps (a resumed run continues up to it).
    batch_size : int >= 1
        Trials per step.
    lr : float > 0
        Adam learning rate.
    grad_clip : float > 0 or None
        Maximal gradient norm (None: no clipping).
    log_every : int >= 1
        Steps between history entries.
    rec_gain : float >= 0
        Initial recurrent weights ~ N(0, rec_gain**2 / n_hidden).
    bias_init : float
        Initial hidden bias b (all units). A positive value (e.g. 0.5) keeps relu units from
        starting silent: with ``n_hidden=1`` a unit whose initial input weight is negative
        never receives a gradient (about half of the seeds at bias_init=0).
    init_spec : CTRNNSpec or None
        Start from these weights instead of a random init (its n_in, n_hidden, n_out and
        activation must fit).
    val_trials : int >= 0
        Size of a fixed validation batch scored at every log entry (0: none).
    trial_pool : int >= batch_size or None
        None: fresh trials every step. An int: generate that many trials once and sample each
        batch from them (much faster for tasks whose trial generation is slow).
    dtype : torch.dtype
        Floating dtype of the training, ``torch.float32`` (default) or ``torch.float64``; the
        spec is float64 either way.
    loss : str or None
        The training loss (:func:`brian_noisy_rnn.tasks.metrics.check_loss`): None, the task
        kind's default (masked cross-entropy for classification, masked MSE for regression);
        ``"mse_onehot"`` for classification: the squared error of the outputs against one-hot
        targets (Yang et al. 2019's least-squares loss). Checked against the task's kind
        when training starts.

    Attributes
    ----------
    PER_MEMBER : tuple of str
        The settings that may differ between the members of an ensemble.
    """

    # each setting declared once: the command line derives its flag, default and help from here
    n_hidden: int = setting(help="hidden units", kind="int1")
    noise: Noise = field(default_factory=lambda: Noise("none"))
    seed: int = setting(help="seed of weights, trials and noise", kind="seed")
    activation: str = setting("relu", help="activation function")
    tau: Quantity | None = setting(None, help="time constant in ms, or with a unit (e.g. 0.1second)",
                                   kind="pos_ms", unit="ms", flag="--tau-ms")
    steps: int = setting(2000, help="optimisation steps", kind="int1")
    batch_size: int = setting(64, help="trials per step", kind="int1")
    lr: float = setting(1e-2, help="Adam learning rate", kind="float32_pos")
    grad_clip: float | None = setting(1.0, help="gradient norm limit", kind="nonneg_float")
    log_every: int = setting(50, help="steps between log entries", kind="int1")
    rec_gain: float = setting(0.5, help="initial recurrent weights ~ N(0, rec_gain**2 / n_hidden)",
                              kind="nonneg_float")
    bias_init: float = setting(0.0, help="initial hidden bias (e.g. 0.5 for a single relu unit)",
                               kind="float32")
    init_spec: CTRNNSpec | None = None
    val_trials: int = setting(0, help="size of a fixed validation batch scored at every log "
                                      "entry (0: none)", kind="int0")
    trial_pool: int | None = setting(None, help="sample batches from a fixed pool of this many "
                                                "trials (fast for slow task generators)",
                                     kind="int1")
    dtype: torch.dtype = torch.float32
    loss: str | None = setting(None, help="training loss (default: the task kind's)")

    # settings that may differ between the members of an ensemble
    PER_MEMBER = ("noise", "seed", "grad_clip", "rec_gain", "bias_init", "init_spec")

    def __post_init__(self):
        from brian2 import ms

        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen)
        put("n_hidden", check_int(self.n_hidden, "n_hidden", 1))
        as_noise(self.noise)
        self.noise.sigma_vector(self.n_hidden)  # a per-neuron sigma must fit n_hidden
        put("seed", check_int(self.seed, "seed", 0, 2 ** 32))
        put("activation", get_activation(self.activation).name)
        put("tau", 100 * ms if self.tau is None else self.tau)
        to_seconds(self.tau, "tau")
        put("steps", check_int(self.steps, "steps", 1))
        put("batch_size", check_int(self.batch_size, "batch_size", 1))
        put("lr", _check_positive(self.lr, "lr"))
        put("grad_clip", _check_positive(self.grad_clip, "grad_clip", allow_none=True))
        put("log_every", check_int(self.log_every, "log_every", 1))
        put("rec_gain", _check_real(self.rec_gain, "rec_gain", minimum=0.0))
        put("bias_init", _check_real(self.bias_init, "bias_init"))
        if self.init_spec is not None:
            check_spec(self.init_spec, "init_spec")
        put("val_trials", check_int(self.val_trials, "val_trials", 0))
        if self.trial_pool is not None:
            put("trial_pool", check_int(self.trial_pool, "trial_pool", self.batch_size))
        if self.loss is not None:
            check_choice(self.loss, "loss", sorted(set().union(*task_metrics_module.LOSSES.values())))
        if self.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {self.dtype!r}")
        for name in ("lr", "bias_init"):
            value = getattr(self, name)
            if abs(value) > torch.finfo(self.dtype).max:
                raise ValueError(f"{name} must be representable in {self.dtype} (|{name}| <= "
                                 f"{torch.finfo(self.dtype).max:.3g}), got {value!r}")


def _check_run_options(checkpoint_every, callback, num_threads, device):
    check_int(checkpoint_every, "checkpoint_every", 1)
    if num_threads is not None:
        check_int(num_threads, "num_threads", 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(step, loss) or None, got {callback!r}")
    return _check_device(device)


def _check_device(device):
    """``device`` as a torch.device (None: the CPU); ValueError naming ``device`` otherwise."""
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device or None, got {device!r} ({err})") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but CUDA is not available here")
    return device


def _shared_settings(configs):
    """configs[0], after checking that the others differ only in per-member settings."""
    first = configs[0]
    for i, c in enumerate(configs[1:], 1):
        for f in fields(TrainConfig):
            if f.name in TrainConfig.PER_MEMBER:
                continue
            a, b = getattr(first, f.name), getattr(c, f.name)
            if not (a == b):
                raise ValueError(f"configs[{i}].{f.name} = {b!r} differs from configs[0].{f.name} "
                                 f"= {a!r}; the members of an ensemble may differ only in "
                                 f"{TrainConfig.PER_MEMBER}")
    return first
