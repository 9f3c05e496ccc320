"""The yang19 collection scored task by task from one multitask network (rule inputs).

A network trained on this package's ``Yang19Multitask-v0`` sees NeuroGym's yang19 sub-task
observations with a one-hot rule input appended. :func:`score_yang19` plays each sub-task on
its own: trials of NeuroGym's ``yang19.<task>-v0`` (so NeuroGym's own ``performance`` can be
replayed) with the rule of that task appended, exactly as the multitask env builds them, and
reports its decision-step accuracy and, where the sub-task's scorer agrees with its decision
steps (:func:`~.chance.scorer_check`), its performance."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...backends.random_state import keeps_random_state
from .chance import scorer_check

__all__ = ["format_yang19_table", "score_yang19", "yang19_batch"]


def yang19_batch(name: str, dt_ms: float, n_trials: int, seed: int):
    """Trials of one yang19 sub-task as the multitask network sees them.

    Parameters
    ----------
    name : str
        A sub-task among :data:`~brian_noisy_rnn.tasks.multitask.YANG19_TASKS` (e.g. "go").
    dt_ms : float
        Time step in ms.
    n_trials : int >= 1
        Trials.
    seed : int
        Seed of the trials.

    Returns
    -------
    TaskBatch
        ``tasks.batch(tasks.make("yang19.<name>-v0", dt=dt_ms), ...)`` with the rule one-hot
        of ``name`` appended to the inputs on every valid step: inputs (T, B, 33 + 20).

    Raises
    ------
    ValueError
        If ``name`` is not a yang19 sub-task.
    """
    from ... import tasks
    from ...core.validation import check_choice
    from ...tasks.multitask import YANG19_TASKS

    check_choice(name, "name", YANG19_TASKS)
    b = tasks.batch(tasks.make(f"yang19.{name}-v0", dt=dt_ms), n_trials, seed=seed)
    rule = np.zeros(b.inputs.shape[:2] + (len(YANG19_TASKS),))
    valid = np.arange(b.n_steps)[:, None] < b.lengths[None, :]
    rule[valid, YANG19_TASKS.index(name)] = 1.0
    return dataclasses.replace(b, inputs=np.concatenate([b.inputs, rule], axis=-1))


@keeps_random_state
def score_yang19(spec, n_trials: int = 200, seed: int = 1234, sigmas=None, *,
                 backend: str = "torch", scorers: dict | None = None) -> list[dict]:
    """Score a ``Yang19Multitask-v0`` network on each yang19 sub-task.

    Parameters
    ----------
    spec : CTRNNSpec
        A network trained on ``Yang19Multitask-v0`` (all 20 tasks, default order).
    n_trials : int >= 1
        Trials per sub-task.
    seed : int
        Seed of the trials and the test noise (the same at every sigma).
    sigmas : sequence of float or None
        Test sigmas (the network's own placement); None: 0 and the training sigma.
    backend : str
        Simulation backend.
    scorers : dict or None
        Sub-task name -> :func:`~.chance.scorer_check` result of ``yang19.<name>-v0``
        (missing ones are computed here).

    Returns
    -------
    list of dict
        One per sub-task, in :data:`~brian_noisy_rnn.tasks.multitask.YANG19_TASKS` order:
        ``task``, ``sigmas``, ``accuracy`` / ``accuracy_sem`` and ``performance`` /
        ``performance_sem`` (lists, one per sigma), ``flagged`` (bool: NeuroGym's
        performance disagrees with the decision steps, so it is not to be trusted) and
        ``reason``.
    """
    import torch

    from ...tasks.multitask import YANG19_TASKS


    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: more threads only spin on a shared machine
    try:
        return [_score_subtask(spec, name, n_trials, seed, sigmas, backend, (scorers or {}).get(name))
                for name in YANG19_TASKS]
    finally:
        torch.set_num_threads(previous)


def _score_subtask(spec, name, n_trials, seed, sigmas, backend, scorer):
    from ... import tasks
    from ...evaluation import evaluate_per_trial, swept_noise

    dt_ms = float(spec.dt_seconds * 1000.0)
    env = tasks.make("Yang19Multitask-v0", dt=dt_ms)
    placement, sigma_train = spec.noise.placement, spec.noise.scalar_sigma()
    sigmas = [0.0, sigma_train] if sigmas is None else [float(s) for s in sigmas]
    b = yang19_batch(name, dt_ms, n_trials, seed)
    if scorer is None:
        scorer = scorer_check(tasks.make(f"yang19.{name}-v0", dt=dt_ms), seed=seed)
    row = {"task": name, "sigmas": sigmas, "flagged": bool(scorer["flagged"]),
           "reason": scorer["reason"]}
    for metric in ("accuracy", "performance"):
        row[metric], row[f"{metric}_sem"] = [], []
    for sigma in sigmas:
        noise = swept_noise(spec, placement if placement != "none" else "pre", sigma)
        res = evaluate_per_trial(spec, env, backend=backend, noise=noise, n_trials=n_trials,
                                 seed=seed, batch=b)
        for metric in ("accuracy", "performance"):
            row[metric].append(float(res.mean(metric)))
            row[f"{metric}_sem"].append(float(res.sem(metric)))
    return row


def format_yang19_table(networks: list[tuple[str, list[dict]]],
                        notes: dict[str, dict[str, str]] | None = None) -> str:
    """Per-sub-task scores of Yang19 networks as a Markdown table.

    Parameters
    ----------
    networks : list of (str, list of dict)
        A label per network condition (e.g. "inside f, σ_train 1, cross_entropy") and its
        :func:`score_yang19` rows; networks with the same label (seeds) are averaged.
    notes : dict of str to (dict of str to str), or None
        Extra rows after the sub-tasks: row title -> label -> text (e.g. networks learned,
        or each network's noise-dependence diagnostic); a label missing from a row reads
        "-".

    Returns
    -------
    str
        One row per sub-task: whether its NeuroGym scorer can be trusted
        (:func:`~.chance.scorer_check`), then per label the decision-step accuracy at
        sigma 0 → at sigma_train (mean over networks) and, where the scorer is trusted,
        NeuroGym performance at sigma_train ("p ..."); then the rows of ``notes``.
    """
    if not networks:
        return "No Yang19Multitask-v0 network is recorded."
    labels = list(dict.fromkeys(label for label, _ in networks))
    header = ["sub-task", "scorer"] + [f"{label}: accuracy σ 0 → σ_train (performance)"
                                       for label in labels]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, first in enumerate(networks[0][1]):
        cells = [first["task"], "flagged: accuracy only" if first["flagged"] else "ok"]
        for label in labels:
            rows = [rs[i] for lab, rs in networks if lab == label]
            acc = np.mean([r["accuracy"] for r in rows], axis=0)
            text = f"{acc[0]:.2f} → {acc[-1]:.2f}"
            if not first["flagged"]:
                text += f" (p {np.mean([r['performance'][-1] for r in rows]):.2f})"
            cells.append(text + (f" [n={len(rows)}]" if len(rows) > 1 else ""))
        lines.append("| " + " | ".join(cells) + " |")
    for title, by_label in (notes or {}).items():
        cells = [title, ""] + [by_label.get(label, "-") for label in labels]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
