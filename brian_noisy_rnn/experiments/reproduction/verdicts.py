"""The verdict rules of the reproduction report: plain functions of the measured numbers.

Every verdict is one of :data:`LABELS`, computed here from data (never written by hand):
"reproduced" when the rule holds for every network (seed), "partly" when it holds for some,
"not" when for none; "not run" when there is no data for the cell of the report.

Rules (``SE`` = :data:`SE_RULE` paired standard errors; the paired difference
``metric(0) - metric(sigma_train)`` is over the same trials and noise draws):

- noise inside f (:func:`noise_in_effect`): the preferred test sigma is > 0 *and* the metric
  at sigma 0 is worse than at sigma_train by more than 2 SE;
- noise outside f (:func:`noise_out_as_expected`): the preferred test sigma is at most
  :data:`NEAR_ZERO` times sigma_train;
- C1 and C3 (:func:`c1_verdict`): labelled by the claim, the noise-inside networks'
  verdict (reproduced / partly / not, k/n); the noise-outside networks are its control, whose
  count is given beside it (a claim that holds in 0 of 3 networks is "not", never "partly");
- C2 (:func:`c2_onset`, :func:`c2_verdict`): the onset is the smallest training level from
  which on every level shows the noise-inside effect in every seed; reproduced if the onset
  is at most the default sigma_train, partly if some level shows it in some seed;
- C4 (:func:`c4_network_ok`): the loss change at sigma 0 predicted at the mean field's fixed
  points is within :data:`PREDICTION_TOLERANCE` (relative) of the measured one, for both
  placements (the original rule used the mean-field trajectory, which for noise outside f
  reuses the noisy mean: the report gives it first, as a consistency check);
- C5 (:func:`c5_network_ok`): the preferred sigma of the training process is within
  +-25 % of sigma_train, and the gain (metric(0) - best metric) from noise outside f is less
  than half the gain from the training noise;
- compensation (:func:`compensation_ok`): the compensated deterministic network, run without
  noise, is not worse than the original network at its training noise by more than 2 paired
  SE (it reproduces the noisy network's performance); the fraction of the zero-noise gap
  ``metric(0) - metric(sigma_train)`` it closes (:func:`gap_closed`) is reported beside it,
  and the rule fixed before the data (at least :data:`GAP_CLOSED_RULE` of the gap, on the
  networks with one) is reported first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GAP_CLOSED_RULE", "LABELS", "NEAR_ZERO", "PREDICTION_TOLERANCE", "SE_RULE", "Verdict",
           "c1_verdict", "c2_onset", "c2_verdict", "c4_network_ok", "c5_network_ok",
           "compensation_ok", "count_verdict", "gap_closed", "noise_in_effect",
           "noise_out_as_expected"]

#: the verdict labels
LABELS = ("reproduced", "partly", "not", "not run", "n/a")
#: "clearly worse at 0": the paired difference exceeds this many standard errors
SE_RULE = 2.0
#: "preferred ~0": preferred sigma <= NEAR_ZERO * sigma_train
NEAR_ZERO = 0.25
#: C4: abs(predicted - measured) <= this * abs(measured)
PREDICTION_TOLERANCE = 0.5
#: compensation, the rule fixed before the data: the compensated network closes at least this
#: fraction of the gap metric(0) - metric(sigma_train) (:func:`gap_closed`)
GAP_CLOSED_RULE = 0.5


@dataclass(frozen=True)
class Verdict:
    """A verdict and the counts it came from.

    Attributes
    ----------
    label : str
        One of :data:`LABELS`.
    passed : int
        Networks (or levels) for which the rule holds.
    total : int
        Networks (or levels) tested.
    detail : str
        One line: the rule's outcome in numbers.
    """

    label: str
    passed: int = 0
    total: int = 0
    detail: str = ""

    def __str__(self):
        return self.label if not self.detail else f"{self.label} ({self.detail})"


def _worse(diff, higher_is_better):
    """How much worse the first point is than the second, from their difference."""
    return -diff if higher_is_better else diff


def noise_in_effect(preferred: float, diff: float, diff_sem: float,
                    higher_is_better: bool = False) -> bool:
    """Whether one noise-inside network shows the paradoxical preference.

    Parameters
    ----------
    preferred : float
        Its preferred test sigma.
    diff : float
        The paired difference metric(0) - metric(sigma_train).
    diff_sem : float
        Its standard error (NaN or None: the difference must just be worse).
    higher_is_better : bool
        Whether a larger metric is better.

    Returns
    -------
    bool
        preferred > 0 and the metric at 0 is worse by more than :data:`SE_RULE` SE.
    """
    if preferred is None or diff is None or not math.isfinite(preferred) or not math.isfinite(diff):
        return False
    worse = _worse(diff, higher_is_better)
    if diff_sem is None or not math.isfinite(diff_sem):
        return bool(preferred > 0 and worse > 0)
    return bool(preferred > 0 and worse > SE_RULE * diff_sem)


def noise_out_as_expected(preferred: float, sigma_train: float) -> bool:
    """Whether a noise-outside network prefers (about) no test noise.

    Parameters
    ----------
    preferred : float
        Its preferred test sigma.
    sigma_train : float
        Its training sigma.

    Returns
    -------
    bool
        preferred <= :data:`NEAR_ZERO` * sigma_train.
    """
    if preferred is None or not math.isfinite(preferred):
        return False
    return bool(preferred <= NEAR_ZERO * sigma_train + 1e-12)


def count_verdict(flags: Sequence[bool], what: str) -> Verdict:
    """reproduced / partly / not from per-network outcomes ("not run" if there are none).

    Parameters
    ----------
    flags : sequence of bool
        Whether the rule holds, per network.
    what : str
        What the rule checks, for the detail line (e.g. "prefer sigma > 0, worse at 0 by > 2 SE").

    Returns
    -------
    Verdict
        "reproduced" if all hold, "partly" if some, "not" if none.
    """
    flags = [bool(f) for f in flags]
    n, k = len(flags), sum(flags)
    if n == 0:
        return Verdict("not run", 0, 0, "no data")
    label = "reproduced" if k == n else "partly" if k else "not"
    return Verdict(label, k, n, f"{what}: {k}/{n}")


def c1_verdict(pre: Verdict, post: Verdict) -> Verdict:
    """The verdict of C1 (or C3): the noise-inside claim, with noise outside f as its control.

    Parameters
    ----------
    pre : Verdict
        Of the noise-inside networks (the claim: they prefer their training noise).
    post : Verdict
        Of the noise-outside networks (the control: they prefer ~0).

    Returns
    -------
    Verdict
        ``pre``'s label and counts (reproduced: every network, partly: some, not: none, not
        run: no data); the detail gives both counts, e.g. "inside f 0/3; control (outside f
        ~0) 3/3".
    """
    control = "not run" if post.label == "not run" else f"{post.passed}/{post.total}"
    if pre.label == "not run":
        return Verdict("not run", 0, 0, f"no noise-inside data; control (outside f ~0) {control}")
    return Verdict(pre.label, pre.passed, pre.total,
                   f"inside f {pre.passed}/{pre.total}; control (outside f ~0) {control}")


def c2_onset(levels: Sequence[float], passed: Sequence[int], totals: Sequence[int]) -> float | None:
    """The smallest training level from which on every level shows the effect in every seed.

    Parameters
    ----------
    levels : sequence of float
        Training sigmas, increasing.
    passed : sequence of int
        Seeds showing the noise-inside effect, per level.
    totals : sequence of int
        Seeds measured, per level.

    Returns
    -------
    float or None
        The onset level; None if the largest level does not show it in every seed.
    """
    onset = None
    for level, k, n in sorted(zip(levels, passed, totals), reverse=True):
        if n > 0 and k == n:
            onset = level
        else:
            break
    return onset


def c2_verdict(levels: Sequence[float], passed: Sequence[int], totals: Sequence[int],
               default_sigma: float = 1.0) -> Verdict:
    """C2: the preference arises for large enough training noise.

    Parameters
    ----------
    levels : sequence of float
        Training sigmas.
    passed : sequence of int
        Seeds showing the effect, per level.
    totals : sequence of int
        Seeds measured, per level.
    default_sigma : float
        The family's default training sigma: the onset must not be above it.

    Returns
    -------
    Verdict
        "reproduced" if the onset exists and is <= ``default_sigma``, "partly" if some
        level shows the effect in some seed, "not" otherwise ("not run" without data).
    """
    measured = [(lv, k, n) for lv, k, n in zip(levels, passed, totals) if n > 0]
    if not measured:
        return Verdict("not run", 0, 0, "no data")
    onset = c2_onset(*zip(*measured))
    full = sum(k == n for _, k, n in measured)
    where = f"effect in every seed from sigma_train = {onset:g} up" if onset is not None else \
        "no onset (the largest level lacks the effect in some seed)"
    if onset is not None and onset <= default_sigma + 1e-12:
        label = "reproduced"
    elif any(k for _, k, _ in measured):
        label = "partly"
    else:
        label = "not"
    return Verdict(label, full, len(measured), where)


def c4_network_ok(measured: float, predicted: float) -> bool:
    """C4 for one network: does the mean field explain the loss change at sigma 0?

    Parameters
    ----------
    measured : float
        Measured loss(sigma 0) - loss(with the training noise).
    predicted : float
        Predicted loss change.

    Returns
    -------
    bool
        ``abs(predicted - measured) <= PREDICTION_TOLERANCE * abs(measured)`` (both finite).
    """
    if measured is None or predicted is None or not (math.isfinite(measured)
                                                     and math.isfinite(predicted)):
        return False
    return bool(abs(predicted - measured) <= PREDICTION_TOLERANCE * abs(measured))


def c5_network_ok(preferred_same: float, sigma_train: float, gain_same: float,
                  gain_outside: float) -> bool:
    """C5 for one network: is it tuned to its training noise?

    Parameters
    ----------
    preferred_same : float
        Preferred test sigma of the training noise process and placement.
    sigma_train : float
        The training sigma.
    gain_same : float
        metric(0) - best metric of the training noise (improvement, >= 0; for a metric where
        higher is better pass the improvement, not the difference).
    gain_outside : float
        The same for the best noise process outside f.

    Returns
    -------
    bool
        The preferred sigma is within +-25 % of sigma_train and ``gain_outside`` <
        ``gain_same`` / 2.
    """
    values = (preferred_same, gain_same, gain_outside)
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    size_ok = abs(preferred_same - sigma_train) <= 0.25 * sigma_train + 1e-12
    return bool(size_ok and gain_same > 0 and gain_outside < 0.5 * gain_same)


def gap_closed(at_zero: float, at_train: float, compensated: float,
               higher_is_better: bool = False) -> float:
    """Fraction of the zero-noise gap the compensated network closes.

    Parameters
    ----------
    at_zero : float
        Original network's metric at sigma 0.
    at_train : float
        Its metric at sigma_train.
    compensated : float
        The compensated network's metric at sigma 0.
    higher_is_better : bool
        Whether a larger metric is better.

    Returns
    -------
    float
        ``(at_zero - compensated) / (at_zero - at_train)`` (sign-adjusted); NaN if there is
        no gap (the original is not worse at 0).
    """
    gap = _worse(at_zero - at_train, higher_is_better)
    if not gap > 0:
        return float("nan")
    return float(_worse(at_zero - compensated, higher_is_better) / gap)


def compensation_ok(comp_minus_train: float, sem: float, higher_is_better: bool = False) -> bool:
    """Whether a compensated network does as well without noise as the original with it.

    Parameters
    ----------
    comp_minus_train : float
        Paired difference: compensated network's metric at sigma 0 minus the original's at
        sigma_train.
    sem : float
        Its standard error (NaN or None: the difference must just not be worse).
    higher_is_better : bool
        Whether a larger metric is better.

    Returns
    -------
    bool
        The compensated network is not worse by more than :data:`SE_RULE` SE.
    """
    if comp_minus_train is None or not math.isfinite(comp_minus_train):
        return False
    worse = _worse(comp_minus_train, higher_is_better)
    if sem is None or not math.isfinite(sem):
        return bool(worse <= 0)
    return bool(worse <= SE_RULE * sem)
