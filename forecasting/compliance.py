"""Compliance prediction: the probability that a building delivers at least COMPLY_SHARE of the
kW asked in an event. Pure numpy / scipy.

A logistic regression with an L2 penalty over standardised features, learnt from verified
outcomes only. A building's own record enters as its past compliance rate shrunk towards its
building type's rate (a Beta prior per type, fitted to the outcomes seen), so a building with no
history starts from its type. Metrics: AUC, Brier score and a calibration table.

Verified outcomes are noisy: a single building's delivered kW is measured against a baseline
whose error is often as large as the ask. Where the verification knows its own noise, each
outcome carries it as two rates, q1 = P(verified as complied | complied) and q0 = P(verified as
complied | did not), and the regression learns the probability of complying itself through
P(verified) = q0 + (q1 - q0) p (the known-noise-rate correction of Natarajan et al., NeurIPS
2013). Without them, verified outcomes are taken as the truth.
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
    "past_record",
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
# The model is trained once there are this many verified outcomes (of both kinds).
MIN_OUTCOMES = 30
# The program's working assumption: a building that complies delivers this share of its ask.
DELIVERY_SHARE = 0.9


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
    # The verified share of the ask the building delivered in its past events, shrunk towards
    # the population's (see shrunk_share); where None, its past compliance rate stands in.
    past_share: np.ndarray | None = None
    label_q0: np.ndarray | None = None  # P(verified as complied | did not comply)
    label_q1: np.ndarray | None = None  # P(verified as complied | complied)
    delivered_share: np.ndarray | None = None  # verified kW / requested kW
    delivered_share_sd: np.ndarray | None = None  # the measurement error of that share


OUTCOME_FIELDS = ("complied", "label_q0", "label_q1", "delivered_share", "delivered_share_sd")
# The columns that describe an ask (what the model reads), as opposed to its outcome.
FEATURE_FIELDS = tuple(name for name in Events.__dataclass_fields__ if name not in OUTCOME_FIELDS)
# The spread of what buildings deliver around their expectation (a share of the ask), besides
# the measurement's own error: it keeps the noisiest measurements from counting for nothing
# and the cleanest from counting for everything.
RESPONSE_SPREAD = 0.4


def label_noise(
    requested_kw: np.ndarray,
    noise_sd_kw: np.ndarray,
    *,
    comply_share: float,
    delivery_share: float = 0.9,
) -> tuple[np.ndarray, np.ndarray]:
    """(q0, q1) of a verification whose baseline has an error of noise_sd_kw (normal): a
    building that complies delivers about delivery_share of the ask, one that does not delivers
    nothing, and either is verified as complied when the measured kW reaches comply_share."""
    scale = np.maximum(np.asarray(noise_sd_kw, float), 1e-9)
    requested = np.asarray(requested_kw, float)
    q1 = special.ndtr((delivery_share - comply_share) * requested / scale)
    q0 = special.ndtr(-comply_share * requested / scale)
    return q0, q1


def _noisy(events: Events) -> bool:
    return events.label_q0 is not None and events.label_q1 is not None


def verified_probability(events: Events, p: np.ndarray) -> np.ndarray:
    """P(verified as complied) from P(complies), through the outcomes' known noise."""
    if not _noisy(events):
        return p
    return events.label_q0 + (events.label_q1 - events.label_q0) * p


def corrected_rate(events: Events) -> float:
    """The share that complied, corrected for the verification's noise (method of moments)."""
    y = events.complied.astype(float)
    if not _noisy(events):
        return float(y.mean())
    spread = float(np.mean(events.label_q1 - events.label_q0))
    if spread <= 1e-6:
        return float(y.mean())
    return float((y.mean() - np.mean(events.label_q0)) / spread)


@dataclass
class ComplianceModel:
    coef: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    type_prior: dict[str, tuple[float, float]]  # type -> (a, b)
    metrics: dict = field(default_factory=dict)
    # The response model (see fit_response): (coef, mean, scale); None until verified kW.
    response: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer, coef=self.coef, mean=self.mean, scale=self.scale,
            types=np.array(list(self.type_prior)), prior=np.array(list(self.type_prior.values())),
            **{
                f"response_{part}": values
                for part, values in zip(
                    ("coef", "mean", "scale"), self.response or (np.empty(0),) * 3, strict=True
                )
            },
        )  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, metrics: dict | None = None) -> ComplianceModel:
        saved = np.load(io.BytesIO(blob))
        prior = {
            str(t): (float(a), float(b))
            for t, (a, b) in zip(saved["types"], saved["prior"], strict=True)
        }
        response = tuple(
            saved[f"response_{part}"] if f"response_{part}" in saved else np.empty(0)
            for part in ("coef", "mean", "scale")
        )
        return cls(
            saved["coef"], saved["mean"], saved["scale"], prior, metrics or {},
            response if response[0].size else None,
        )  # fmt: skip


# What the response model reads besides P(complies): the columns of features() that differ
# between the asks of one event and that bear on kW directly: the building's verified record,
# its recent events and the depth asked.
RESPONSE_COLUMNS = (
    NUMERIC.index("past_record"),
    NUMERIC.index("events_30d"),
    NUMERIC.index("depth_pct"),
)


def _response_design(model: ComplianceModel, events: Events, p: np.ndarray) -> np.ndarray:
    x = features(events, model.type_prior)
    return np.column_stack([p, x[:, RESPONSE_COLUMNS], x[:, len(NUMERIC) :]])


def _conditions(events: Events) -> np.ndarray:
    """What tells one event's rows from another's: its conditions, one row per ask."""
    return np.column_stack(
        [
            events.start_hour, events.duration_h, events.temperature_c, events.notice_h,
            events.incentive_usd_per_kwh,
        ]
    )  # fmt: skip


def event_count(events: Events) -> int:
    """How many events the rows come from, told apart by their conditions."""
    conditions = _conditions(events)
    return len(np.unique(conditions, axis=0)) if len(conditions) else 0


def fit_response(
    model: ComplianceModel, events: Events, *, prior_events: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """What asks deliver: a ridge regression of each ask's verified share of the kW asked
    (noisy but unbiased, weighted by its precision) on the model's P(complies), the building's
    verified record, its recent events and the depth. The classifier ranks who complies from
    noisy yes/no outcomes; this puts the plan on the scale of kW actually delivered. Returns
    (coef, mean, scale) over standardised inputs; None without verified kW.

    The asks of one event are not independent evidence: they share the event's conditions and
    its errors, and which building got which depth was the plan's choice. So the slopes are
    held towards none by a prior worth `prior_events` average events' data: after one event
    they are halved, after many they speak for themselves. So is the level (the intercept),
    towards DELIVERY_SHARE x P(complies): one event's shares all carry its baseline's shared
    error, and one event read low (a verification that under-read a whole plan) would
    otherwise predict that nobody delivers, so that no later plan asks anyone and nothing is
    learnt again. (Left at the rows' own weight, a
    single event's slopes extrapolated to the next event's deeper asks put plans 17 % off,
    one standard deviation, against 4 % with the prior; bench/season.py, eight seasons.)"""
    if events.delivered_share is None or len(events.delivered_share) < 2:
        return None
    x = _response_design(model, events, predict(model, events))
    mean, scale = _standardisation(x)
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    sd = events.delivered_share_sd if events.delivered_share_sd is not None else 0.0
    weight = share_weight(sd) * np.ones(len(x))
    l2 = prior_events * weight.sum() / max(event_count(events), 1)
    penalty = l2 * np.eye(z.shape[1])
    # Held towards: no slopes, and at the mean inputs what a complying building is assumed
    # to deliver (DELIVERY_SHARE x the mean P(complies)).
    prior = np.r_[DELIVERY_SHARE * mean[0], np.zeros(z.shape[1] - 1)]
    coef = np.linalg.solve(
        z.T @ (weight[:, None] * z) + penalty,
        z.T @ (weight * events.delivered_share) + penalty @ prior,
    )
    return coef, mean, scale


def expected_share(
    model: ComplianceModel | None, events: Events, p: np.ndarray, default: float
) -> np.ndarray:
    """The share of its ask each ask is expected to deliver: the model's response model where
    it has one (inputs held within three spreads of what it learnt from), else
    `default` x P(complies)."""
    if model is None or model.response is None:
        return default * np.asarray(p, float)
    coef, mean, scale = model.response
    x = _response_design(model, events, np.asarray(p, float))
    z = np.column_stack([np.ones(len(x)), np.clip((x - mean) / scale, -3, 3)])
    return np.clip(z @ coef, 0.0, 1.2)


def share_weight(share_sd: np.ndarray) -> np.ndarray:
    """How much one verified share counts: its precision, its own error and RESPONSE_SPREAD."""
    return 1.0 / (np.asarray(share_sd, float) ** 2 + RESPONSE_SPREAD**2)


def shrunk_share(weighted_sum, weight_sum, population_share: float) -> np.ndarray:
    """A building's verified share of the ask, precision-weighted over its past events and
    shrunk towards the population's with the weight of two exact measurements: a building seen
    in one noisy event stays near everyone's figure, one seen often speaks for itself."""
    prior = 2.0 / RESPONSE_SPREAD**2
    return (np.asarray(weighted_sum) + prior * population_share) / (np.asarray(weight_sum) + prior)


def mean_share(events: Events) -> float:
    """The verified share of the ask delivered, over all asks (weighted by precision)."""
    sd = events.delivered_share_sd if events.delivered_share_sd is not None else 0.0
    weight = share_weight(sd) * np.ones(len(events.delivered_share))
    return float(np.average(events.delivered_share, weights=weight))


def type_priors(events: Events) -> dict[str, tuple[float, float]]:
    """Beta(a, b) per building type from the outcomes seen, worth PRIOR_WEIGHT events."""
    priors = {}
    for kind in BUILDING_TYPES:
        mask = events.building_type == kind
        if events.complied is not None and mask.sum() >= 5:
            rate = corrected_rate(take(events, np.flatnonzero(mask)))
            rate = min(max(rate, 0.02), 0.98)
            priors[kind] = (PRIOR_WEIGHT * rate, PRIOR_WEIGHT * (1 - rate))
        else:
            priors[kind] = (PRIOR_A, PRIOR_B)
    return priors


def features(events: Events, priors: dict[str, tuple[float, float]]) -> np.ndarray:
    a = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[0] for t in events.building_type])
    b = np.array([priors.get(t, (PRIOR_A, PRIOR_B))[1] for t in events.building_type])
    past_rate = (events.past_complied + a) / (events.past_asked + a + b)
    past_record = past_rate if events.past_share is None else events.past_share
    numeric = np.column_stack(
        [
            np.log1p(events.curtailable_kw), past_record, events.events_30d, events.notice_h,
            events.temperature_c, events.start_hour, events.duration_h, events.depth_pct,
            events.incentive_usd_per_kwh,
        ]
    )  # fmt: skip
    types = (events.building_type[:, None] == np.array(BUILDING_TYPES)[None, :]).astype(float)
    return np.column_stack([numeric, types])


def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and spread. A column that does not vary (one event's temperature,
    everyone's record before any verification) keeps a spread of 1, also where rounding leaves
    it a spread of 1e-15: standardised by that, its rounding noise would be fitted, and a real
    difference at the next event read as thousands of spreads."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale <= 1e-9 * np.maximum(np.abs(mean), 1.0)] = 1.0
    return mean, scale


def fit(events: Events, *, l2: float = 1.0) -> ComplianceModel:
    """Fit on verified outcomes (events.complied) by penalised maximum likelihood."""
    if events.complied is None or len(np.unique(events.complied)) < 2:
        raise ValueError("compliance needs verified outcomes of both kinds to learn from")
    priors = type_priors(events)
    x = features(events, priors)
    mean, scale = _standardisation(x)
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    y = events.complied.astype(float)
    noisy = _noisy(events)
    q0 = events.label_q0 if noisy else None
    spread = events.label_q1 - events.label_q0 if noisy else None

    def loss(w):
        if not noisy:
            logits = z @ w
            value = np.sum(np.logaddexp(0, logits) - y * logits) + 0.5 * l2 * np.sum(w[1:] ** 2)
            grad = z.T @ (special.expit(logits) - y) + l2 * np.concatenate([[0.0], w[1:]])
            return value, grad
        p = special.expit(z @ w)
        # P(verified as complied), kept off 0 and 1 so that the log stays finite.
        seen = np.clip(q0 + spread * p, 1e-9, 1 - 1e-9)
        penalty = 0.5 * l2 * np.sum(w[1:] ** 2)
        value = -np.sum(y * np.log(seen) + (1 - y) * np.log1p(-seen)) + penalty
        d_seen = (seen - y) / (seen * (1 - seen))  # d(-log likelihood) / d(seen)
        grad = z.T @ (d_seen * spread * p * (1 - p)) + l2 * np.concatenate([[0.0], w[1:]])
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
    cut = _held_out_start(events, held_out_share)
    train, test = take(events, np.arange(cut)), take(events, np.arange(cut, n))
    metrics: dict = {"outcomes": n, "held_out": n - cut}
    try:
        scored = fit(train)
    except ValueError as exc:
        model = _with_response(priors_only(events), events)
        return model, {**metrics, "kept": "priors", "reason": str(exc)}
    # Scored on what can be observed: the probability of being verified as complied.
    predicted = verified_probability(test, predict(scored, test))
    prior = verified_probability(test, predict(priors_only(train), test))
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
        return _with_response(priors_only(events), events), {
            **metrics, "kept": "priors", "reason": reason,
        }  # fmt: skip
    intercept, slope = platt(scored, test)
    metrics.update(calibration_intercept=round(intercept, 4), calibration_slope=round(slope, 4))
    return _with_response(recalibrated(fit(events), intercept, slope), events), {
        **metrics, "kept": "model",
    }  # fmt: skip


def _held_out_start(events: Events, share: float) -> int:
    """Where the held-out rows start: at the start of an event, the one nearest to leaving
    `share` of the rows out (rows come oldest first), so that the score is that of a model on
    events it has not seen; within the rows when there is one event only."""
    n = len(events.building_type)
    cut = int(n * (1 - share))
    conditions = _conditions(events)
    starts = np.flatnonzero(np.any(conditions[1:] != conditions[:-1], axis=1)) + 1
    if starts.size == 0:
        return cut
    return int(starts[np.argmin(np.abs(starts - cut))])


def platt(model: ComplianceModel, events: Events) -> tuple[float, float]:
    """Platt scaling on outcomes the model did not learn from: (a, b) such that
    sigmoid(a + b logit(p)) fits them best, through their noise where known. A slope below 1
    says the model is too sure of itself (typically: what it learnt from a few events' own
    conditions does not carry to the next); the fit is held near (0, 1) by a weak prior."""
    logit = special.logit(np.clip(predict(model, events), 1e-6, 1 - 1e-6))
    y = events.complied.astype(float)
    q0 = events.label_q0 if _noisy(events) else np.zeros(len(y))
    spread = events.label_q1 - events.label_q0 if _noisy(events) else np.ones(len(y))

    def loss(w):
        p = special.expit(w[0] + w[1] * logit)
        seen = np.clip(q0 + spread * p, 1e-9, 1 - 1e-9)
        value = -np.sum(y * np.log(seen) + (1 - y) * np.log1p(-seen))
        d = (seen - y) / (seen * (1 - seen)) * spread * p * (1 - p)
        prior = w - np.array([0.0, 1.0])
        return value + 0.5 * prior @ prior, np.array([d.sum(), d @ logit]) + prior

    result = optimize.minimize(loss, np.array([0.0, 1.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def recalibrated(model: ComplianceModel, intercept: float, slope: float) -> ComplianceModel:
    """The model with Platt's (a, b) folded into its coefficients: logit' = a + b logit."""
    coef = model.coef * slope
    coef[0] += intercept
    model.coef = coef
    return model


def _with_response(model: ComplianceModel, events: Events) -> ComplianceModel:
    model.response = fit_response(model, events)
    return model
