"""Compliance prediction: the probability that a building delivers at least COMPLY_SHARE of the
kW asked in an event. Pure numpy / scipy.

A logistic regression with an L2 penalty over standardised features, learnt from verified
outcomes only. A building's own record enters as its past compliance rate shrunk towards its
building type's rate (a Beta prior per type, fitted to the outcomes seen), so a building with no
history starts from its type. Metrics: AUC, Brier score and a calibration table.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

BUILDING_TYPES = (
    "residential",
    "office",
    "retail",
    "school",
    "hospital",
    "warehouse",
    "restaurant",
    "hotel",
)
NUMERIC = (
    "log_curtailable_kw",
    "past_rate",
    "events_30d",
    "notice_h",
    "temperature_c",
    "start_hour",
    "duration_h",
    "depth_pct",
    "incentive_usd_per_kwh",
)
# Before any outcome is seen: a weak prior (mean 2/3, worth three events) for every type.
PRIOR_A, PRIOR_B = 2.0, 1.0
PRIOR_WEIGHT = 3.0


@dataclass
class Events:
    """One row per building and event; arrays of equal length."""

    building_type: np.ndarray  # str
    curtailable_kw: np.ndarray
    past_asked: np.ndarray  # verified events before this one
    past_complied: np.ndarray
    events_30d: np.ndarray
    notice_h: np.ndarray
    temperature_c: np.ndarray
    start_hour: np.ndarray
    duration_h: np.ndarray
    depth_pct: np.ndarray
    incentive_usd_per_kwh: np.ndarray
    complied: np.ndarray | None = None  # bool outcome, for training


@dataclass
class ComplianceModel:
    coef: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    type_prior: dict[str, tuple[float, float]]  # type -> (a, b)
    metrics: dict = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer, coef=self.coef, mean=self.mean, scale=self.scale,
            types=np.array(list(self.type_prior)), prior=np.array(list(self.type_prior.values())),
        )  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, metrics: dict | None = None) -> ComplianceModel:
        saved = np.load(io.BytesIO(blob))
        prior = {
            str(t): (float(a), float(b))
            for t, (a, b) in zip(saved["types"], saved["prior"], strict=True)
        }
        return cls(saved["coef"], saved["mean"], saved["scale"], prior, metrics or {})


def type_priors(events: Events) -> dict[str, tuple[float, float]]:
    """Beta(a, b) per building type from the outcomes seen, worth PRIOR_WEIGHT events."""
    priors = {}
    for kind in BUILDING_TYPES:
        mask = events.building_type == kind
        if events.complied is not None and mask.sum() >= 5:
            rate = float(events.complied[mask].mean())
            rate = min(max(rate, 0.02), 0.98)
            priors[kind] = (PRIOR_WEIGHT * rate, PRIOR_WEIGHT * (1 - rate))
        else:
            priors[kind] = (PRIOR_A, PRIOR_B)
    return priors


def features(events: Events, priors: dict[str, tuple[float, float]]) -> np.ndarray:
    a = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[0] for t in events.building_type])
    b = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[1] for t in events.building_type])
    past_rate = (events.past_complied + a) / (events.past_asked + a + b)
    numeric = np.column_stack(
        [
            np.log1p(events.curtailable_kw), past_rate, events.events_30d, events.notice_h,
            events.temperature_c, events.start_hour, events.duration_h, events.depth_pct,
            events.incentive_usd_per_kwh,
        ]
    )  # fmt: skip
    types = (events.building_type[:, None] == np.array(BUILDING_TYPES)[None, :]).astype(float)
    return np.column_stack([numeric, types])


def fit(events: Events, *, l2: float = 1.0) -> ComplianceModel:
    """Fit on verified outcomes (events.complied) by penalised maximum likelihood."""
    if events.complied is None or len(np.unique(events.complied)) < 2:
        raise ValueError("compliance needs verified outcomes of both kinds to learn from")
    priors = type_priors(events)
    x = features(events, priors)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    y = events.complied.astype(float)

    def loss(w):
        logits = z @ w
        value = np.sum(np.logaddexp(0, logits) - y * logits) + 0.5 * l2 * np.sum(w[1:] ** 2)
        grad = z.T @ (special.expit(logits) - y) + l2 * np.concatenate([[0.0], w[1:]])
        return value, grad

    result = optimize.minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B")
    return ComplianceModel(coef=result.x, mean=mean, scale=scale, type_prior=priors)


def priors_only(events: Events) -> ComplianceModel:
    """The type priors fitted to outcomes and nothing else: each building's own record shrunk
    towards its type's rate."""
    return ComplianceModel(
        coef=np.empty(0), mean=np.empty(0), scale=np.empty(0), type_prior=type_priors(events)
    )


def predict(model: ComplianceModel | None, events: Events) -> np.ndarray:
    """P(complies) per row. Without a model: the weak default prior and the building's own
    record; with a priors-only model: its type's prior and the record."""
    if model is None or model.coef.size == 0:
        priors = model.type_prior if model is not None else {}
        a = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[0] for t in events.building_type])
        b = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[1] for t in events.building_type])
        return ((events.past_complied + a) / (events.past_asked + a + b)).astype(float)
    x = features(events, model.type_prior)
    # Beyond three spreads of what it learnt from, a feature counts as three: no wild extrapolation.
    z = np.column_stack([np.ones(len(x)), np.clip((x - model.mean) / model.scale, -3, 3)])
    return special.expit(z @ model.coef)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) statistic; ties share ranks."""
    y = np.asarray(y, bool)
    positives, negatives = y.sum(), (~y).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both outcomes")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = np.asarray(p)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Predicted against observed rate in equal-width probability bins (non-empty bins only)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "count": int(mask.sum()),
                    "predicted": round(float(p[mask].mean()), 3),
                    "observed": round(float(y[mask].mean()), 3),
                }
            )
    return table


def take(events: Events, index: np.ndarray) -> Events:
    return Events(
        **{
            name: None if getattr(events, name) is None else getattr(events, name)[index]
            for name in events.__dataclass_fields__
        }
    )


def fit_if_better(events: Events, *, held_out_share: float = 0.25) -> tuple[ComplianceModel, dict]:
    """Fit on the earlier outcomes, score on the latest `held_out_share` against the type priors
    alone, and keep the regression only if it predicts better (lower Brier); otherwise the
    priors-only model. Either is refitted on everything. Noisy verification (single homes
    against a meter baseline) can leave a regression worse than the priors."""
    n = len(events.building_type)
    cut = int(n * (1 - held_out_share))
    train, test = take(events, np.arange(cut)), take(events, np.arange(cut, n))
    metrics: dict = {"outcomes": n, "held_out": n - cut}
    try:
        scored = fit(train)
    except ValueError as exc:
        return priors_only(events), {**metrics, "kept": "priors", "reason": str(exc)}
    predicted, prior = predict(scored, test), predict(priors_only(train), test)
    metrics.update(
        brier=round(brier(test.complied, predicted), 4),
        prior_brier=round(brier(test.complied, prior), 4),
    )
    if len(np.unique(test.complied)) == 2:
        metrics.update(
            auc=round(auc(test.complied, predicted), 4),
            prior_auc=round(auc(test.complied, prior), 4),
        )
    metrics["calibration"] = calibration_table(test.complied, predicted)
    if metrics["brier"] >= metrics["prior_brier"]:
        reason = "the regression predicted no better than the priors"
        return priors_only(events), {**metrics, "kept": "priors", "reason": reason}
    return fit(events), {**metrics, "kept": "model"}
