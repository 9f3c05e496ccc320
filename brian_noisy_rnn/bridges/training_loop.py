"""The training loop: :class:`_Run` trains S >= 1 stacked networks (set-up, resume, steps,
logs, checkpoints); ``train`` is an ensemble of one. Ctrl-C is deferred to the end of a step
and torch's thread count restored afterwards."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time

import numpy as np
import torch

from ..tasks import metrics as task_metrics_module
from .. import tasks as tasks_module
from ..backends.torch_backend import TorchCTRNN
from ..core.units import from_seconds, to_seconds
from .checkpoint import config_differences, load_checkpoint, save_checkpoint
from .draws import (NOISE, VALIDATION, VALIDATION_NOISE, _fingerprint, _noise_draws,
                    _stack_batches, _TrialSource, derive_seed)
from .ensemble import StackedCTRNN, clip_per_member, member_losses
from .training_config import TrainConfig, _check_run_options, _shared_settings
from .training_history import (TrainingHistory, TrainingResult, _config_dict, _ensemble_config,
                               _stack_single_state, _summary)

__all__: list[str] = []

# a loss that is not finite at step 0 with a noise sigma above this is blamed on the sigma
_SIGMA_OVERFLOW = 1e6


# --- Ctrl-C handling -----------------------------------------------------------------------
class _InterruptFlag:
    requested = False


@contextlib.contextmanager
def _deferred_sigint():
    """Defer the first Ctrl-C to the end of the current step (a second one interrupts at once).

    Only in the main thread (signal handlers cannot be set elsewhere); the previous handler
    (Python's default, or Brian2's, which only acts during ``Network.run``) is restored on exit.
    The yielded flag's ``requested`` turns True when Ctrl-C was pressed.
    """
    flag = _InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # Ctrl-C is ignored or handled outside Python
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _torch_threads(n):
    """Run the block with ``n`` torch intra-op threads (None: unchanged), then restore."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Run:
    """One training run of S >= 1 stacked networks: set-up, resume, steps, logs, checkpoints."""

    def __init__(self, env, configs, *, single, checkpoint, checkpoint_every, progress,
                 callback, num_threads, device):
        # ---- validate everything before any work ----
        if not configs:
            raise ValueError("configs must hold at least one TrainConfig, got none")
        for i, c in enumerate(configs):
            if not isinstance(c, TrainConfig):
                raise TypeError(f"configs[{i}] must be a TrainConfig, got {type(c).__name__}")
        self.device = _check_run_options(checkpoint_every, callback, num_threads, device)
        self.env = env = tasks_module.as_task(env)
        shared = _shared_settings(configs)
        self.shared, self.members = shared, configs
        tau_s = to_seconds(shared.tau, "tau")
        self.dt_ms = dt_ms = float(env.unwrapped.dt)
        if dt_ms * 1e-3 >= tau_s:
            from brian2 import ms

            raise ValueError(f"tau ({shared.tau}) must be larger than the task's dt ({dt_ms * ms})")
        fingerprint, probe = _fingerprint(env)
        self.kind = probe.kind
        self.loss = task_metrics_module.check_loss(shared.loss, probe.kind)
        self.name = tasks_module.task_name(env)
        self.construction = tasks_module.task_construction(env)
        modules = [_initial_module(c, probe, tau_s, dt_ms) for c in configs]
        self.model = StackedCTRNN(modules).to(self.device)
        self.configs = [_config_dict(self.name, fingerprint, dt_ms, probe, tau_s, c)
                        for c in configs]
        self.checkpoint_config = self.configs[0] if single else _ensemble_config(self.configs)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=shared.lr)
        self.max_norms = torch.tensor([math.inf if c.grad_clip is None else c.grad_clip
                                       for c in configs], dtype=shared.dtype, device=self.device)
        primary = task_metrics_module.primary_metric(self.kind)
        self.primary = primary
        self.histories = [TrainingHistory(primary.name, primary.higher_is_better) for _ in configs]
        self.single, self.progress, self.callback = single, progress, callback
        self.num_threads, self.checkpoint_every = num_threads, checkpoint_every
        self.completed, self.elapsed = 0, 0.0
        self.run_loss, self.run_count = [0.0] * len(configs), 0
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        if self.checkpoint is not None and os.path.exists(self.checkpoint):
            self._resume()

    # ---- resume and checkpoints ----
    def _resume(self):
        path, steps = self.checkpoint, self.shared.steps
        state = load_checkpoint(path)
        diff = config_differences(state["config"], self.checkpoint_config)
        if diff:
            lines = "; ".join(f"{k}: checkpoint has {a!r}, this call {b!r}" for k, a, b in diff)
            raise ValueError(f"checkpoint {path!r} was written by training with other "
                             f"settings ({lines}); use another checkpoint path or the "
                             "same settings")
        if state["step"] > steps:
            raise ValueError(f"checkpoint {path!r} already holds {state['step']} steps, "
                             f"more than steps={steps}")
        if self.single and state["model"]["w_rec"].ndim == 2:
            _stack_single_state(state)  # written by train before ensembles existed
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint {path!r} holds weights or optimizer state that do not "
                             f"fit this network ({err})") from err
        histories = state["history"] if not self.single else [state["history"]]
        self.histories = [TrainingHistory.from_dict(h) for h in histories]
        self.completed = int(state["step"])
        extra = state["extra"]
        self.elapsed, self.run_count = float(extra["elapsed"]), int(extra["run_count"])
        run_loss = extra["run_loss"]
        self.run_loss = [float(run_loss)] if self.single else [float(x) for x in run_loss]

    def _snapshot(self):
        histories = [h.as_dict() for h in self.histories]
        return {"config": self.checkpoint_config, "step": self.completed,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "history": histories[0] if self.single else histories,
                "extra": {"elapsed": self.elapsed, "run_count": self.run_count,
                          "run_loss": self.run_loss[0] if self.single else list(self.run_loss)}}

    # ---- the training loop ----
    def fit(self):
        steps = self.shared.steps
        if self.completed >= steps:
            return
        cfg = self.shared
        self.sources = {c.seed: _TrialSource(self.env, c.seed, cfg.batch_size, cfg.trial_pool)
                        for c in self.members}
        self.validation = _Validation(self) if cfg.val_trials else None
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            desc = self.name if self.single else f"{self.name} x{len(self.members)}"
            bar = tqdm(total=steps, initial=self.completed, desc=desc, unit="step",
                       dynamic_ncols=True)
        in_update = False
        t_resume, elapsed_at_resume = time.perf_counter(), self.elapsed
        try:
            with _deferred_sigint() as interrupt, _torch_threads(self.num_threads):
                for step in range(self.completed, steps):
                    batches, outputs, losses = self._forward(step)
                    self._check_finite(losses)
                    in_update = True
                    self._update(losses)
                    self.completed = step + 1
                    values = losses.detach().tolist()
                    self.run_loss = [a + b for a, b in zip(self.run_loss, values)]
                    self.run_count += 1
                    self.elapsed = elapsed_at_resume + time.perf_counter() - t_resume
                    in_update = False
                    if self.completed % cfg.log_every == 0 or self.completed == steps:
                        self._log(batches, outputs, bar)
                    if bar is not None:
                        bar.update(1)
                    if self.checkpoint is not None and (
                            self.completed % self.checkpoint_every == 0 or self.completed == steps):
                        save_checkpoint(self.checkpoint, self._snapshot())
                    if self.callback is not None:
                        self.callback(self.completed, values)
                    if interrupt.requested:
                        raise KeyboardInterrupt
        except BaseException:
            # keep finished work: the state after the last completed step is consistent unless
            # the exception hit inside the update (then the previous checkpoint stays)
            if self.checkpoint is not None and not in_update:
                save_checkpoint(self.checkpoint, self._snapshot())
            raise
        finally:
            if bar is not None:
                bar.close()

    def _forward(self, step):
        """Trials, noise, outputs and the members' losses (S,) of one step."""
        by_seed = {}
        for seed, source in self.sources.items():
            batch = source(step)
            by_seed[seed] = (batch, _noise_draws(self.model, seed, NOISE, step,
                                                 batch.n_steps, batch.n_trials,
                                                 self.shared.dtype))
        batches = [by_seed[c.seed][0] for c in self.members]
        xis = [by_seed[c.seed][1] if c.noise.is_active else None for c in self.members]
        inputs, targets, mask = _stack_batches(batches, self.shared.dtype, self.device)
        terms = self.model.noise_terms(xis, inputs.shape[0], inputs.shape[2])
        outputs, _ = self.model(inputs, terms)
        losses = member_losses(outputs, targets, mask, self.kind, self.loss)
        return batches, outputs, losses

    def _check_finite(self, losses):
        values = losses.detach()
        if not bool(torch.isfinite(values).all()):
            bad = [s for s, v in enumerate(values.tolist()) if not math.isfinite(v)]
            which = "" if self.single else f" of member {bad[0]}"
            member = self.members[bad[0]]
            sigma = float(np.max(member.noise.sigma_array)) if member.noise.is_active else 0.0
            if self.completed == 0:
                # before any update the learning rate cannot be the cause
                cause = (f"the noise (sigma={sigma:g}) drives the activity out of floating-point "
                         "range; use a smaller sigma" if sigma > _SIGMA_OVERFLOW else
                         "the initial network (rec_gain, init_spec) or the task's inputs "
                         "overflow before any update")
            else:
                cause = (f"try a smaller lr (now {self.shared.lr}) or grad_clip "
                         f"(now {member.grad_clip})")
            raise FloatingPointError(
                f"training loss{which} became {values[bad[0]].item()} at step "
                f"{self.completed}; {cause}")

    def _update(self, losses):
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        clip_per_member(list(self.model.parameters()), self.max_norms)
        self.optimizer.step()

    def _log(self, batches, outputs, bar):
        vms = self.validation.metrics() if self.validation is not None else None
        outputs = outputs.detach()
        for s, (h, batch) in enumerate(zip(self.histories, batches)):
            m = task_metrics_module.task_metrics(outputs[: batch.n_steps, s], batch)
            h.append(self.completed, self.run_loss[s] / self.run_count, m,
                     vms[s] if vms is not None else {}, self.elapsed)
        self.run_loss, self.run_count = [0.0] * len(self.members), 0
        if bar is not None:
            name = self.primary.name
            loss = [h.loss[-1] for h in self.histories]
            metric = [h.metrics[name][-1] for h in self.histories]
            if self.single:
                bar.set_postfix(loss=f"{loss[0]:.4g}", **{name: f"{metric[0]:.4g}"})
            else:
                bar.set_postfix(loss=f"{min(loss):.3g}..{max(loss):.3g}",
                                **{name: f"{min(metric):.3g}..{max(metric):.3g}"})

    # ---- results ----
    def spec(self, s):
        """Member ``s`` as a spec with its training summary."""
        config = self.configs[s]
        noise = self.members[s].noise
        summary = _summary(config, self.completed, self.elapsed, self.histories[s], noise)
        summary["task_construction"] = self.construction
        if not self.single:
            summary["ensemble"] = {"members": len(self.members), "index": s}
        return self.model.member_spec(s, noise=noise, metadata={"training": summary})

    def result(self, s):
        return TrainingResult(spec=self.spec(s), history=self.histories[s],
                              model=self.model.member(s), steps=self.completed,
                              elapsed=self.elapsed, config=self.configs[s],
                              checkpoint=self.checkpoint)


def _initial_module(config, probe, tau_s, dt_ms):
    """Member ``config``'s network before training (what ``train`` starts from)."""
    from brian2 import ms

    model = TorchCTRNN(probe.n_in, config.n_hidden, probe.n_out, tau=from_seconds(tau_s),
                       dt=dt_ms * ms, activation=config.activation, noise=config.noise,
                       rec_gain=config.rec_gain, seed=config.seed, dtype=config.dtype)
    with torch.no_grad():
        model.b.fill_(config.bias_init)
    if config.init_spec is not None:
        _load_init_spec(model, config.init_spec)
        init = config.init_spec
        if not (math.isclose(init.tau_seconds, tau_s, rel_tol=1e-12)
                and math.isclose(init.dt_seconds, dt_ms / 1000.0, rel_tol=1e-12)):
            raise ValueError(f"init_spec has tau={init.tau}, dt={init.dt}; this training uses "
                             f"tau={from_seconds(tau_s)} and the task's dt={dt_ms} ms: pass "
                             "tau=init_spec.tau and a task with dt=init_spec.dt")
    return model


class _Validation:
    """The fixed validation batch of each member, scored with its own fixed noise draws."""

    def __init__(self, run):
        cfg, self.run = run.shared, run
        by_seed = {}
        for c in run.members:
            if c.seed not in by_seed:
                batch = tasks_module.batch(run.env, cfg.val_trials,
                                           seed=derive_seed(c.seed, VALIDATION))
                xi = _noise_draws(run.model, c.seed, VALIDATION_NOISE, 0, batch.n_steps,
                                  batch.n_trials, cfg.dtype)
                by_seed[c.seed] = (batch, xi)
        self.batches = [by_seed[c.seed][0] for c in run.members]
        self.xis = [by_seed[c.seed][1] if c.noise.is_active else None for c in run.members]
        self.inputs = _stack_batches(self.batches, cfg.dtype, run.device)[0]

    def metrics(self):
        model = self.run.model
        with torch.no_grad():
            terms = model.noise_terms(self.xis, self.inputs.shape[0], self.inputs.shape[2])
            out, _ = model(self.inputs, terms)
        return [task_metrics_module.task_metrics(out[: b.n_steps, s], b)
                for s, b in enumerate(self.batches)]


def _load_init_spec(model, spec):
    # spec is TrainConfig.init_spec, checked when the config was made
    mine = (model.n_in, model.n_hidden, model.n_out, model.activation)
    theirs = (spec.n_in, spec.n_hidden, spec.n_out, spec.activation)
    if mine != theirs:
        raise ValueError(f"init_spec has (n_in, n_hidden, n_out, activation) = {theirs}, "
                         f"the task and arguments need {mine}")
    with torch.no_grad():
        for k in ("w_in", "w_rec", "b", "w_out", "b_out", "h0"):
            p = getattr(model, k)
            p.copy_(torch.tensor(np.array(getattr(spec, k)), dtype=p.dtype))
