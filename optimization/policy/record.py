"""What the program learns from verified outcomes: each building's record, everyone's
verified share of the ask, how past plans fared, and when the compliance model may be
trained. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting import compliance

from .. import mv
from ..portfolio import DELIVERY_SHARE, TrackRecord, track_record

PRIOR_SHARE = DELIVERY_SHARE * compliance.PRIOR_A / (compliance.PRIOR_A + compliance.PRIOR_B)


@dataclass(frozen=True)
class Outcomes:
    """Verified asks, elementwise: the building (an index into the adapter's buildings), the
    P(complies) the plan gave it, and what verification read."""

    building: np.ndarray  # (m,) int
    probability: np.ndarray
    complied: np.ndarray  # bool, as verified
    requested_kw: np.ndarray
    delivered_kw: np.ndarray
    baseline_sd_kw: np.ndarray  # how far each baseline is likely off (0 where not known)

    @property
    def label_noise(self) -> tuple[np.ndarray, np.ndarray]:
        """(q0, q1): P(verified as complied | did not, | did), from the baseline's error."""
        return compliance.label_noise(
            self.requested_kw, self.baseline_sd_kw, comply_share=mv.COMPLY_SHARE,
            delivery_share=DELIVERY_SHARE,
        )  # fmt: skip

    @property
    def share(self) -> np.ndarray:
        return self.delivered_kw / self.requested_kw

    @property
    def share_sd(self) -> np.ndarray:
        return self.baseline_sd_kw / self.requested_kw


def posterior(p, verified, q0, q1) -> np.ndarray:
    """P(complied | what was verified), from the prediction and the verification's noise."""
    yes = p * q1 / np.maximum(p * q1 + (1 - p) * q0, 1e-12)
    no = p * (1 - q1) / np.maximum(p * (1 - q1) + (1 - p) * (1 - q0), 1e-12)
    return np.where(verified, yes, no)


@dataclass(frozen=True)
class BuildingRecord:
    """Per building (n,): verified asks, how many it complied with (a posterior sum: a noisy
    verification counts for less), and its precision-weighted verified share of the ask."""

    past_asked: np.ndarray
    past_complied: np.ndarray
    share_sum: np.ndarray
    share_weight: np.ndarray
    population_share: float  # everyone's verified share (the prior's before any)

    def past_share(self) -> np.ndarray:
        """Each building's verified share, shrunk towards everyone's (compliance.shrunk_share)."""
        return compliance.shrunk_share(self.share_sum, self.share_weight, self.population_share)


def building_record(outcomes: Outcomes | None, n: int) -> BuildingRecord:
    """The record of n buildings after `outcomes` (all verified asks so far)."""
    zeros = np.zeros(n)
    if outcomes is None or not outcomes.building.size:
        return BuildingRecord(zeros, zeros.copy(), zeros.copy(), zeros.copy(), PRIOR_SHARE)
    q0, q1 = outcomes.label_noise
    weight = compliance.share_weight(outcomes.share_sd)
    at = outcomes.building
    return BuildingRecord(
        past_asked=np.bincount(at, minlength=n).astype(float),
        past_complied=np.bincount(
            at, weights=posterior(outcomes.probability, outcomes.complied, q0, q1), minlength=n
        ),
        share_sum=np.bincount(at, weights=weight * outcomes.share, minlength=n),
        share_weight=np.bincount(at, weights=weight, minlength=n),
        population_share=float(np.average(outcomes.share, weights=weight)),
    )


def plans_record(model_expected_kw, verified_kw, own_sd_kw) -> TrackRecord:
    """How past plans made by a trained model compared with what was verified (a plan made
    from the priors alone says nothing of what the model has learnt since)."""
    return track_record(model_expected_kw, verified_kw, own_sd_kw)


def may_train(complied: np.ndarray | None) -> bool:
    """Whether the compliance model may be (re)trained on these verified outcomes."""
    return (
        complied is not None
        and len(complied) >= compliance.MIN_OUTCOMES
        and len(np.unique(complied)) == 2
    )


def training_rows(features: compliance.Events, outcomes: Outcomes) -> compliance.Events:
    """The model's training rows: each verified ask's features (as planned) with its outcome
    and how noisy that is."""
    q0, q1 = outcomes.label_noise
    return compliance.Events(
        **{name: getattr(features, name) for name in compliance.FEATURE_FIELDS},
        complied=np.asarray(outcomes.complied, bool),
        label_q0=q0,
        label_q1=q1,
        delivered_share=outcomes.share,
        delivered_share_sd=outcomes.share_sd,
    )
