"""A DR season on a synthetic utility built from real load profiles. Pure numpy / scipy.

The behaviour model decides what each building really delivers, from parameters of its own
(a hidden reliability per building, fatigue, depth, heat, incentive and notice effects). The
strategies never read those parameters: the compliance predictor learns only from verified
outcomes, as it would in the field.

Each day: a day-ahead forecast (the simulated truth with a forecast error: a shared daily error
of FORECAST_DAY_SD and an independent one of FORECAST_HOUR_SD per building-hour, about what the
LSTM shows on aggregates and single homes), grid status from its
peak against capacity, an event when strain is HIGH or CRITICAL (window = the hours above the
HIGH threshold around the peak, target = kW that brings the forecast under it), selection by the
strategy, dispatch, the simulated response, verification against a 10-of-10 baseline with day-of
adjustment, and a weekly retraining of the compliance model.

Everything here is synthetic and labelled so by the callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from scipy import special

from forecasting import compliance

from . import mv
from .portfolio import DEPTH_LEVELS_PCT, Candidates, build_problem
from .solver import solve_fast

FLEXIBLE_SHARE = 0.75
FORECAST_DAY_SD = 0.03
FORECAST_HOUR_SD = 0.25

RELIABILITY = {  # Beta(a, b) of each type's hidden per-building reliability
    "residential": (8.0, 2.0),
    "office": (9.0, 1.5),
    "retail": (7.0, 2.5),
    "school": (8.0, 2.0),
    "warehouse": (8.0, 1.5),
}


@dataclass(frozen=True)
class BehaviorParams:
    fatigue_per_recent_event: float = 0.35
    depth_penalty_per_10pct: float = 0.3
    heat_penalty_per_5c_above_30: float = 0.2
    incentive_elasticity: float = 0.5
    notice_bonus_per_day: float = 0.4
    delivery_if_complying: tuple[float, float] = (0.85, 1.10)
    delivery_if_not: tuple[float, float] = (0.0, 0.4)


def true_compliance(
    reliability, events_30d, depth_pct, temperature_c, incentive, notice_h, params: BehaviorParams
) -> np.ndarray:
    logit = (
        special.logit(np.clip(reliability, 1e-3, 1 - 1e-3))
        - params.fatigue_per_recent_event * events_30d
        - params.depth_penalty_per_10pct * (depth_pct - 10.0) / 10.0
        - params.heat_penalty_per_5c_above_30 * np.maximum(temperature_c - 30.0, 0.0) / 5.0
        + params.incentive_elasticity * np.log(incentive / 0.5)
        + params.notice_bonus_per_day * np.minimum(notice_h, 48.0) / 24.0
    )
    return special.expit(logit)


@dataclass(frozen=True)
class SeasonConfig:
    eps: float = 0.05
    incentive_usd_per_kwh: float = 0.5
    reservation_share: float = 0.2  # paid per kWh asked, as a share of the incentive rate
    high_pct: float = 90.0
    critical_pct: float = 97.0
    notice_h: float = 18.0
    max_window_h: int = 6
    max_events_per_month: int = 8
    retrain_every_days: int = 7
    warmup_days: int = 14


@dataclass
class SeasonResult:
    strategy: str
    events: int
    targets_met: int
    peak_without_kw: float
    peak_with_kw: float
    cost_usd: float
    delivered_kwh: float
    true_met: int = 0  # what the simulator knows and the program cannot: the true reduction
    predictions: list[np.ndarray] = field(default_factory=list)
    outcomes: list[np.ndarray] = field(default_factory=list)
    predictor_trained: list[bool] = field(default_factory=list)

    @property
    def peak_reduction_pct(self) -> float:
        return 100.0 * (self.peak_without_kw - self.peak_with_kw) / self.peak_without_kw

    @property
    def target_met_share(self) -> float:
        """Share of events whose verified reduction met the target (as the program sees it)."""
        return self.targets_met / self.events if self.events else float("nan")

    @property
    def true_met_share(self) -> float:
        return self.true_met / self.events if self.events else float("nan")


class Season:
    """load: (n, days, 24) true kW of n buildings; temperature: (days, 24); first days warm up."""

    def __init__(
        self,
        load: np.ndarray,
        temperature: np.ndarray,
        building_type: np.ndarray,
        feeder: np.ndarray,
        *,
        capacity_kw: float,
        weekend: np.ndarray | None = None,
        config: SeasonConfig = SeasonConfig(),
        behavior: BehaviorParams = BehaviorParams(),
        seed: int = 0,
    ) -> None:
        self.load, self.temperature = load, temperature
        self.weekend = np.zeros(load.shape[1], dtype=bool) if weekend is None else weekend
        self.building_type, self.feeder = building_type, feeder
        self.capacity_kw, self.config, self.behavior = capacity_kw, config, behavior
        self.seed = seed
        rng = np.random.default_rng(seed)
        a = np.array([RELIABILITY[t][0] for t in building_type])
        b = np.array([RELIABILITY[t][1] for t in building_type])
        self.reliability = rng.beta(a, b)  # hidden: only the behaviour model reads it
        # The flexible share of each building's afternoon load (cooling, pumps, EVs, lighting).
        # Enrolment sizes it from the summer afternoons (when cooling is the flexible load).
        afternoon = load[:, :, 14:20].reshape(len(load), -1).mean(axis=1)
        self.curtailable_kw = FLEXIBLE_SHARE * afternoon

    def run(self, strategy: str) -> SeasonResult:
        """strategy: "compliance" (ours), "blind" (one average compliance for everyone) or
        "largest" (largest buildings first, deepest level)."""
        cfg, n = self.config, self.load.shape[0]
        rng = np.random.default_rng(self.seed + 1)  # the same draws for every strategy
        forecast_rng = np.random.default_rng(self.seed + 2)
        days = self.load.shape[1]
        actual = self.load.copy()
        asked_days: list[list[int]] = [[] for _ in range(n)]
        past_asked = np.zeros(n)
        past_complied = np.zeros(n)
        history: dict[str, list] = {key: [] for key in ("rows", "outcome")}
        model = None
        was_asked = np.zeros((n, days), dtype=bool)
        daily_max_temp = self.temperature.max(axis=1)
        result = SeasonResult(strategy, 0, 0, float(self.load.sum(axis=0).max()), 0.0, 0.0, 0.0)
        for day in range(cfg.warmup_days, days):
            if strategy == "compliance" and (day - cfg.warmup_days) % cfg.retrain_every_days == 0:
                model = self._retrain(history)
            truth = self.load[:, day]
            forecast = (
                truth
                * (1 + forecast_rng.normal(0, FORECAST_DAY_SD))
                * np.clip(1 + forecast_rng.normal(0, FORECAST_HOUR_SD, size=truth.shape), 0.2, None)
            )
            system = forecast.sum(axis=0)
            threshold = self.capacity_kw * cfg.high_pct / 100.0
            # Risk-aware trigger: the day's shared forecast error is known to be about
            # FORECAST_DAY_SD, so the event is called on the P90 of the system forecast.
            system = system * (1 + 1.2815515655446004 * FORECAST_DAY_SD)
            if system.max() < threshold:
                continue
            start, end = self._window(system, threshold)
            target = float((system[start:end] - threshold).max())
            temperature = float(self.temperature[day, start:end].max())
            recent = np.array([sum(1 for d in asked if day - d <= 30) for asked in asked_days])
            available = recent < cfg.max_events_per_month
            depths = np.array(DEPTH_LEVELS_PCT)
            rows = compliance.Events(
                building_type=np.repeat(self.building_type, depths.size),
                curtailable_kw=np.repeat(self.curtailable_kw, depths.size),
                past_asked=np.repeat(past_asked, depths.size),
                past_complied=np.repeat(past_complied, depths.size),
                events_30d=np.repeat(recent, depths.size).astype(float),
                notice_h=np.full(n * depths.size, cfg.notice_h),
                temperature_c=np.full(n * depths.size, temperature),
                start_hour=np.full(n * depths.size, float(start)),
                duration_h=np.full(n * depths.size, float(end - start)),
                depth_pct=np.tile(depths, n),
                incentive_usd_per_kwh=np.full(n * depths.size, cfg.incentive_usd_per_kwh),
            )
            if strategy == "compliance":
                believed = compliance.predict(model, rows).reshape(n, depths.size)
            else:
                seen = past_asked.sum()
                rate = (past_complied.sum() + compliance.PRIOR_A) / (
                    seen + compliance.PRIOR_A + compliance.PRIOR_B
                )
                believed = np.full((n, depths.size), rate)
            level = self._select(
                strategy, believed, available, target, end - start, forecast[:, start:end]
            )
            asked = np.flatnonzero(level)
            if asked.size == 0:
                continue
            requested = self.curtailable_kw[asked] * depths[level[asked] - 1] / 100.0
            p_true = true_compliance(
                self.reliability[asked], recent[asked], depths[level[asked] - 1], temperature,
                cfg.incentive_usd_per_kwh, cfg.notice_h, self.behavior,
            )  # fmt: skip
            complies = rng.random(asked.size) < p_true
            low, high = (
                np.where(
                    complies,
                    self.behavior.delivery_if_complying[0],
                    self.behavior.delivery_if_not[0],
                ),
                np.where(
                    complies,
                    self.behavior.delivery_if_complying[1],
                    self.behavior.delivery_if_not[1],
                ),
            )
            delivered = requested * rng.uniform(low, high)
            delivered = np.minimum(delivered, actual[asked, day, start:end].min(axis=1))
            actual[asked, day, start:end] -= delivered[:, None]
            # Verification, both ways the program has: the event's reduction against the forecast
            # counterfactual (unbiased over many buildings; on heat-wave days the meter baselines
            # sit far below what buildings would have drawn), and each building's compliance
            # against its weather-matched 10-of-10 baseline (noisy and low on hot days, but it
            # ranks buildings by what they did, which is what the predictor needs).
            verified = np.zeros(asked.size, dtype=bool)
            verified_kw = 0.0
            same_kind = self.weekend[:day] == self.weekend[day]
            for position, building in enumerate(asked):
                window = actual[building, day, start:end]
                verified_kw += mv.verify(
                    baseline=forecast[building, start:end],
                    actual=window,
                    requested_kw=requested[position],
                ).delivered_kw
                baseline = mv.x_of_y_baseline(
                    actual[building, :day], same_kind & ~was_asked[building, :day], actual[building, day],
                    start, end, day_temperature=daily_max_temp[:day], event_temperature=daily_max_temp[day],
                )  # fmt: skip
                verified[position] = mv.verify(
                    baseline=baseline, actual=window, requested_kw=requested[position]
                ).complied
            history["rows"].append(self._rows(rows, asked, level, depths))
            history["outcome"].append(verified)
            result.predictions.append(believed[asked, level[asked] - 1])
            result.outcomes.append(verified)
            result.predictor_trained.append(model is not None)
            past_asked[asked] += 1
            past_complied[asked] += verified
            for building in asked:
                asked_days[building].append(day)
            was_asked[asked, day] = True
            hours = end - start
            paid = np.minimum(delivered, requested) * hours * cfg.incentive_usd_per_kwh
            reservation = requested * hours * cfg.incentive_usd_per_kwh * cfg.reservation_share
            result.cost_usd += float(paid.sum() + reservation.sum())
            result.delivered_kwh += float(delivered.sum() * hours)
            result.events += 1
            # As the program judges it: the verified reduction, from the weather-matched baselines.
            result.targets_met += int(verified_kw >= target)
            result.true_met += int(delivered.sum() >= target)
        result.peak_with_kw = float(actual.sum(axis=0).max())
        return result

    def _window(self, system: np.ndarray, threshold: float) -> tuple[int, int]:
        peak = int(system.argmax())
        start, end = peak, peak + 1
        while end - start < self.config.max_window_h:
            left = system[start - 1] if start > 0 else -np.inf
            right = system[end] if end < 24 else -np.inf
            if max(left, right) < threshold:
                break
            if left >= right:
                start -= 1
            else:
                end += 1
        return start, end

    def _select(self, strategy, believed, available, target, hours, forecast_window) -> np.ndarray:
        cfg = self.config
        n = believed.shape[0]
        candidates = Candidates(
            curtailable_kw=self.curtailable_kw,
            compliance=believed,
            forecast_sd_kw=0.1 * forecast_window.mean(axis=1),
            feeder=self.feeder,
            max_depth_pct=np.full(n, 30.0),
            available=available,
        )
        problem = build_problem(
            candidates, target_kw=target, eps=cfg.eps, duration_h=hours,
            incentive_usd_per_kwh=cfg.incentive_usd_per_kwh,
            feeder_target_kw=np.zeros(int(self.feeder.max()) + 1),
        )  # fmt: skip
        if strategy in ("compliance", "blind"):
            return solve_fast(problem).level
        # Largest first: the biggest buildings at the deepest level until the (average-based)
        # chance constraint holds.
        level = np.zeros(n, dtype=np.int64)
        deepest = problem.mean_kw.shape[1]
        order = np.argsort(-self.curtailable_kw)
        order = order[available[order]]
        mean = np.cumsum(problem.mean_kw[order, deepest - 1])
        std = np.sqrt(np.cumsum(problem.var_kw2[order, deepest - 1]))
        enough = np.flatnonzero(mean - problem.z * std >= target)
        count = int(enough[0]) + 1 if enough.size else order.size
        level[order[:count]] = deepest
        return level

    @staticmethod
    def _rows(rows: compliance.Events, asked, level, depths) -> compliance.Events:
        pick = asked * depths.size + level[asked] - 1
        return compliance.Events(
            **{
                name: getattr(rows, name)[pick]
                for name in rows.__dataclass_fields__
                if name != "complied"
            }
        )

    @staticmethod
    def _retrain(history) -> compliance.ComplianceModel | None:
        if not history["rows"]:
            return None
        names = [name for name in compliance.Events.__dataclass_fields__ if name != "complied"]
        rows = compliance.Events(
            **{
                name: np.concatenate([getattr(part, name) for part in history["rows"]])
                for name in names
            },
            complied=np.concatenate(history["outcome"]),
        )
        if len(np.unique(rows.complied)) < 2:
            return None
        return compliance.fit_if_better(rows)[0]


SEASON_FIRST_DAY = 242  # the last 122 days of the CityLearn year: April to July 2017
SEASON_FEEDERS = 20
WORST_DAY_CUT = 0.06
STRATEGIES = ("compliance", "blind", "largest")


def citylearn_season(data, *, buildings: int, seed: int = 3) -> tuple[Season, dict]:
    """A synthetic utility of `buildings` built from the CityLearn homes' real load shapes
    (forecasting.synthetic), over the last 122 days of their year, with its capacity set so
    that the HIGH threshold (90 %) sits WORST_DAY_CUT below the season's highest peak."""
    from forecasting import citylearn
    from forecasting.synthetic import synthetic_loads, synthetic_spec

    spec = synthetic_spec(buildings, profiles=citylearn.HOMES, seed=seed)
    types = np.array([t if t in RELIABILITY else "office" for t in spec.building_type])
    warmup = SeasonConfig().warmup_days
    first_hour = 1 + 24 * (SEASON_FIRST_DAY - warmup)
    days = 122 + warmup - 1
    parts = synthetic_loads(
        data.load_kwh, spec, first_hour=first_hour, hours=days * 24, seed=seed, blend_large=True
    )
    loads = (
        np.concatenate([part for _, part in parts]).reshape(buildings, days, 24).astype(np.float64)
    )
    temperature = data.temperature_c[first_hour : first_hour + days * 24].reshape(days, 24)
    first = citylearn.START.date() + timedelta(days=1 + SEASON_FIRST_DAY - warmup)
    weekend = np.array([(first + timedelta(days=d)).weekday() >= 5 for d in range(days)])
    capacity = float(loads.sum(axis=0).max(axis=1)[warmup:].max()) / (1 + WORST_DAY_CUT) / 0.90
    rng = np.random.default_rng(seed)
    season = Season(
        loads, temperature, types, rng.integers(0, SEASON_FEEDERS, size=buildings),
        capacity_kw=capacity, weekend=weekend, seed=seed,
    )  # fmt: skip
    return season, {
        "capacity_kw": capacity,
        "days": days - warmup,
        "first_day": str(first + timedelta(days=warmup)),
    }


def season_figures(results: dict[str, SeasonResult]) -> dict:
    """The season's headline figures (bench/season.py's JSON), ours against the baselines."""
    ours = results["compliance"]
    trained = np.concatenate(
        [np.full(len(o), flag) for flag, o in zip(ours.predictor_trained, ours.outcomes, strict=True)]
    ) if ours.outcomes else np.zeros(0, bool)  # fmt: skip
    predicted = np.concatenate(ours.predictions)[trained] if ours.outcomes else np.zeros(0)
    observed = np.concatenate(ours.outcomes)[trained] if ours.outcomes else np.zeros(0, bool)
    scored = predicted.size and len(np.unique(observed)) == 2
    return {
        "events": ours.events,
        "peak_reduction_pct": round(ours.peak_reduction_pct, 2),
        "target_met_share": round(ours.target_met_share, 3),
        "true_target_met_share": round(ours.true_met_share, 3),
        "cost": round(ours.cost_usd, 2),
        "cost_largest_first": round(results["largest"].cost_usd, 2),
        "cost_compliance_blind": round(results["blind"].cost_usd, 2),
        "compliance_auc": round(compliance.auc(observed, predicted), 3) if scored else None,
        "compliance_brier": round(compliance.brier(observed, predicted), 3)
        if predicted.size
        else None,
        "calibration": compliance.calibration_table(observed, predicted) if predicted.size else [],
    }
