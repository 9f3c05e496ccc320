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
    """Per-sub-task scores of Yang19 networks as a Markdown table, one row per condition.

    Parameters
    ----------
    networks : list of (str, list of dict)
        A label per network condition (e.g. "inside f, σ_train 1, cross_entropy") and its
        :func:`score_yang19` rows (one per sub-task, in the same order for every network);
        networks with the same label (seeds) are averaged.
    notes : dict of str to (dict of str to str), or None
        Extra columns after the sub-tasks: column title -> label -> text (e.g. networks
        learned, or each network's noise-dependence diagnostic); a label missing from a
        column reads "-".

    Returns
    -------
    str
        One row per label: its number of networks, then per sub-task the decision-step
        accuracy at sigma 0 → at sigma_train (mean over the networks) and, where the
        sub-task's NeuroGym scorer can be trusted (:func:`~.chance.scorer_check`), NeuroGym
        performance at sigma_train ("p ..."; a flagged sub-task's column title says
        "accuracy only"); then the columns of ``notes``.
    """
    if not networks:
        return "No Yang19Multitask-v0 network is recorded."
    labels = list(dict.fromkeys(label for label, _ in networks))
    subtasks = networks[0][1]
    notes = notes or {}
    header = (["network", "n"]
              + [f"{r['task']} (scorer flagged: accuracy only)" if r["flagged"] else r["task"]
                 for r in subtasks] + list(notes))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in labels:
        group = [rs for lab, rs in networks if lab == label]
        cells = [label, str(len(group))]
        for i, first in enumerate(subtasks):
            acc = np.mean([rs[i]["accuracy"] for rs in group], axis=0)
            text = f"{acc[0]:.2f} → {acc[-1]:.2f}"
            if not first["flagged"]:
                text += f" (p {np.mean([rs[i]['performance'][-1] for rs in group]):.2f})"
            cells.append(text)
        cells += [by_label.get(label, "-") for by_label in notes.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
