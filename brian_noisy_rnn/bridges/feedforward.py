"""``train_feedforward``: fit a feedforward network (noise inside or outside each hidden
activation) to a function-approximation task and return a
:class:`~brian_noisy_rnn.core.feedforward.FeedforwardSpec`.

The conventions of :func:`~brian_noisy_rnn.bridges.train`: Adam, gradient-norm clipping, a
tqdm progress bar, one torch thread by default, and every random number of a step derived from
``(seed, step)`` with :func:`~brian_noisy_rnn.bridges.draws.derive_seed` (the samples of
step k from ``derive_seed(seed, BATCH, k)``, the training noise from a ``torch.Generator``
seeded with ``derive_seed(seed, NOISE, k)``), so a seed gives the same network. The task
supplies input-target pairs without time through its ``samples(n, seed)`` method
(:meth:`brian_noisy_rnn.tasks.FunctionApproximation.samples`). Training takes about a second
per network: there is no checkpoint.

Width and depth matter for the noise preference: without the temporal averaging of a CTRNN,
the output variance from hidden noise falls only with the number of units sharing the
signal. Measured on FunctionApproximation-v0 (sigma_train 1, 5000 steps, lr 3e-3, 2000 test
samples, ``examples/feedforward_study.py``): with 32 units per layer (seed 0) noise-in networks prefer
test sigma 0 (variance dominates); with 256 units per layer, two hidden layers, noise in f:
preferred sigma 1 in 3 of 3 seeds, MSE 0.10-0.13 at sigma 0 against 0.015-0.016 at 1; noise
outside f: preferred 0 in 3 of 3 (0.002-0.008 against 0.021-0.027). One hidden layer of 256
noise-in units: preferred 0, 0, 0.5 (MSE 0.005-0.032 at 0, 0.043-0.048 at 1): no preference.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from .. import tasks as tasks_module
from ..backends.random_state import keeps_random_state
from ..backends.torch_feedforward import TorchFeedforward
from ..core.activations import get_activation
from ..core.feedforward import FeedforwardSpec, check_feedforward_noise
from ..core.noise import Noise
from ..core.validation import check_int
from .draws import BATCH, NOISE, derive_seed
from .training_config import _BuildableSettings, _check_device, _check_positive
from .training_loop import _torch_threads

__all__ = ["FeedforwardConfig", "FeedforwardTrainingResult", "train_feedforward"]


@dataclass(frozen=True, kw_only=True)
class FeedforwardConfig(_BuildableSettings):
    """The settings of a feedforward training run (checked on construction).

    Parameters
    ----------
    hidden_sizes : tuple of int
        Units per hidden layer, e.g. ``(32,)`` or ``(32, 32)``.
    noise : Noise
        The training noise: ``Noise("pre" | "post" | "none", sigma)``, white, scalar sigma, in
        every hidden layer; it becomes ``spec.noise``.
    seed : int in [0, 2**32)
        Seeds the initial weights, every batch and the training noise.
    activation : str
        A registered activation name.
    steps : int >= 1
        Optimisation steps.
    batch_size : int >= 1
        Samples per step.
    lr : float > 0
        Adam learning rate.
    grad_clip : float > 0 or None
        Maximal gradient norm (None: no clipping).
    log_every : int >= 1
        Steps between entries of the loss history.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``; the spec is float64 either way.
    """

    hidden_sizes: tuple
    noise: Noise
    seed: int
    activation: str = "relu"
    steps: int = 5000
    batch_size: int = 64
    lr: float = 3e-3
    grad_clip: float | None = 1.0
    log_every: int = 50
    dtype: torch.dtype = torch.float32

    def __post_init__(self):
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen)
        sizes = self.hidden_sizes
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(check_int(n, "hidden_sizes", 1) for n in sizes)
        except TypeError as err:
            raise TypeError(f"hidden_sizes must be a sequence of ints >= 1, got "
                            f"{self.hidden_sizes!r}") from err
        if not sizes:
            raise ValueError("hidden_sizes must name at least one hidden layer, got ()")
        put("hidden_sizes", sizes)
        check_feedforward_noise(self.noise)
        put("seed", check_int(self.seed, "seed", 0, 2 ** 32))
        put("activation", get_activation(self.activation).name)
        put("steps", check_int(self.steps, "steps", 1))
        put("batch_size", check_int(self.batch_size, "batch_size", 1))
        put("lr", _check_positive(self.lr, "lr"))
        put("grad_clip", _check_positive(self.grad_clip, "grad_clip", allow_none=True))
        put("log_every", check_int(self.log_every, "log_every", 1))
        if self.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {self.dtype!r}")

    def as_dict(self):
        """A JSON-compatible summary (stored in ``spec.metadata["training"]``).

        Returns
        -------
        dict
            Every setting; the noise as :meth:`Noise.to_dict`, the dtype as its name.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["hidden_sizes"] = list(self.hidden_sizes)
        out["noise"] = self.noise.to_dict()
        out["noise"]["sigma"] = self.noise.scalar_sigma()
        out["dtype"] = str(self.dtype).replace("torch.", "")
        return out


@dataclass
class FeedforwardTrainingResult:
    """What :func:`train_feedforward` returns.

    Attributes
    ----------
    spec : FeedforwardSpec
        The trained network; ``spec.noise`` is the training noise and
        ``spec.metadata["training"]`` the settings, task and final loss.
    model : TorchFeedforward
        The trained module (training dtype).
    steps : list of int
        Completed steps at each history entry.
    loss : list of float
        Mean training loss (MSE with the training noise) since the previous entry.
    elapsed : float
        Wall-clock training time in seconds.
    config : FeedforwardConfig
        The settings.
    """

    spec: FeedforwardSpec
    model: Any
    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    elapsed: float = 0.0
    config: FeedforwardConfig | None = None


@keeps_random_state
def train_feedforward(env="FunctionApproximation-v0", config=None, *, progress=True,
                      num_threads=1, device=None, **settings):
    """Train a feedforward network with Adam on a task's input-target pairs.

    Parameters
    ----------
    env : str or TrialEnv
        The task (see :func:`brian_noisy_rnn.tasks.sample_task`); default the paper's FunctionApproximation-v0
        (x ~ U[-1, 1], y = sin(pi x)).
    config : FeedforwardConfig or None
        The settings; keyword arguments (fields of :class:`FeedforwardConfig`) give or replace
        them.
    progress : bool
        Show a tqdm progress bar.
    num_threads : int >= 1 or None
        Torch threads while training (restored afterwards; None: leave torch's setting).
    device : str or torch.device or None
        The training device, e.g. ``"cuda"``; None: the CPU. As for
        :func:`~brian_noisy_rnn.bridges.train`: samples and noise are drawn on the CPU, so
        the results do not depend on the device beyond rounding.
    **settings : keyword arguments
        Fields of :class:`FeedforwardConfig`.

    Returns
    -------
    FeedforwardTrainingResult
        With ``.spec`` (a :class:`FeedforwardSpec`), the loss history and timing.

    Raises
    ------
    TypeError, ValueError
        For invalid settings or a task without samples, before the first step.
    FloatingPointError
        If the loss becomes NaN or infinite.

    Examples
    --------
    >>> from brian_noisy_rnn import Noise
    >>> res = train_feedforward(hidden_sizes=(8,), noise=Noise("pre", 0.5), seed=0, steps=20,
    ...                         progress=False)
    >>> res.spec.hidden_sizes, res.spec.noise
    ((8,), Noise('pre', sigma=0.5))
    """
    config = FeedforwardConfig.build(config, **settings)
    if num_threads is not None:
        check_int(num_threads, "num_threads", 1)
    device = _check_device(device)
    task = tasks_module.sample_task(env)
    x0, y0 = task.samples(2, 0)
    n_in, n_out = x0.shape[1], y0.shape[1]
    noise = config.noise
    with _torch_threads(num_threads):
        model = TorchFeedforward(n_in, config.hidden_sizes, n_out, activation=config.activation,
                                 noise=noise, seed=config.seed, dtype=config.dtype).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        gen = torch.Generator()
        steps_log, loss_log, acc, n_acc = [], [], 0.0, 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=config.steps, desc="train feedforward", unit="step")
        start = time.perf_counter()
        try:
            for step in range(config.steps):
                x, y = task.samples(config.batch_size, derive_seed(config.seed, BATCH, step))
                gen.manual_seed(derive_seed(config.seed, NOISE, step))
                out, _ = model(torch.as_tensor(x, dtype=config.dtype).to(device), generator=gen)
                loss = ((out - torch.as_tensor(y, dtype=config.dtype).to(device)) ** 2).mean()
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss.item()} at step {step}")
                opt.zero_grad()
                loss.backward()
                if config.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                opt.step()
                acc += float(loss.item())
                n_acc += 1
                if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                    steps_log.append(step + 1)
                    loss_log.append(acc / n_acc)
                    acc, n_acc = 0.0, 0
                    if bar is not None:
                        bar.set_postfix(loss=f"{loss_log[-1]:.4g}")
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        elapsed = time.perf_counter() - start
    meta = {"training": {**config.as_dict(), "task": tasks_module.task_name(task),
                         "final_loss": loss_log[-1], "elapsed_s": elapsed}}
    spec = model.to_spec(metadata=meta)
    return FeedforwardTrainingResult(spec=spec, model=model, steps=steps_log, loss=loss_log,
                                     elapsed=elapsed, config=config)
