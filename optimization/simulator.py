"""A DR season on a synthetic utility built from real load profiles. Pure numpy / scipy.

The behaviour model decides what each building really delivers, from parameters of its own
(a hidden reliability per building, from two kinds of participant; fatigue, depth, heat,
incentive and notice effects). The strategies never read those parameters: the compliance
predictor learns only from verified outcomes, as it would in the field.

Each day: a day-ahead forecast (the simulated truth with a forecast error: a shared error of
FORECAST_DAY_SD over the afternoon, part of it already showing in the morning, and an
independent one per building-hour, larger for a home than for a large building), grid status
from its peak against capacity, an event when the forecast's trigger_quantile crosses the HIGH
threshold (window = the hours above it around the peak, target = kW that brings that quantile
under it), selection by the strategy, and, with day_of_hour set, the plan revisited on the day
with the morning's readings (Season._day_of). Then dispatch, the simulated response, and
verification as the program does it: each asked building against its forecast, corrected for
the day's shared error by buildings not asked and the hours before the event (the building's
error known from its own quiet afternoons). The compliance model is retrained once each event's
outcomes are verified, and every plan carries the record of how past plans' expectations
compared with what was verified (their bias and spread).

Everything here is synthetic and labelled so by the callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
from scipy import special

from forecasting import compliance

from . import mv
from .portfolio import (
    DELIVERY_SHARE,
    DEPTH_LEVELS_PCT,
    Candidates,
    build_problem,
    comfort_penalty_usd,
    expected_kw,
    track_record,
    with_comparison_group,
)
from .solver import own_sd_kw, solve_fast
from .windows import MAX_WINDOW_H, peak_window, runs_next_to

FLEXIBLE_SHARE = 0.75
# The day-ahead forecast's shared error over the afternoon, one sd (FORECAST_DAY_SD): a part
# that the morning's readings already show, and a part that arrives with the afternoon (an
# intraday update typically halves a day-ahead error).
ENROLMENT_PEAK_DAYS = 10
FORECAST_DAY_SD = 0.03
FORECAST_AFTERNOON_SD = 0.015
FORECAST_MORNING_SD = float(np.sqrt(FORECAST_DAY_SD**2 - FORECAST_AFTERNOON_SD**2))
# A building's own hourly forecast error: a single home is far noisier than a large building
# (BuildingsBench: residential 78-100 % CV(RMSE), commercial 13-19 %; see DATA.md).
FORECAST_HOUR_SD = {"residential": 0.25}
FORECAST_HOUR_SD_LARGE = 0.12

# Each building's hidden reliability: programs see two kinds of participant, those who respond
# to nearly every event and those who mostly do not (overrides, opted-out equipment, nobody on
# site). Per type: the share of the second kind, and Beta(a, b) of each kind's reliability.
PERFORMER = (9.0, 1.5)
NON_PERFORMER = (1.5, 4.0)
RELIABILITY = {
    "residential": 0.3,
    "office": 0.2,
    "retail": 0.3,
    "school": 0.25,
    "warehouse": 0.2,
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
    # Each event's plan may miss its target with this probability.
    eps: float = 0.05
    # The grid's side: events are called, and their targets set, on this quantile of the
    # system forecast (at 0.95 targets grow by another 1 % of load, and heat-wave events ask
    # for more than the fatigued fleet can deliver: 8 seasons met 94.3 % against 96.9 %).
    trigger_quantile: float = 0.90
    incentive_usd_per_kwh: float = 0.5
    reservation_share: float = 0.2  # paid per kWh asked, as a share of the incentive rate
    high_pct: float = 90.0
    critical_pct: float = 97.0
    notice_h: float = 18.0
    max_window_h: int = MAX_WINDOW_H
    max_events_per_month: int = 8
    warmup_days: int = 14
    # The plan is revisited at this hour with the morning's readings, as the product does at
    # settings.EVENT_REVISIT_HOUR (None: never; see Season._day_of).
    day_of_hour: int | None = 10
    # Also read ours' events with the 10-of-10 baseline, day-of adjusted (the product's
    # settlement where a day has no forecast), to show how it would have judged them (slower).
    x_of_y_check: bool = False


@dataclass
class SeasonResult:
    strategy: str
    events: int
    targets_met: int
    peak_without_kw: float
    peak_with_kw: float
    cost_usd: float
    delivered_kwh: float
    # What the asks cost in comfort (the optimizer weighs it with the incentive; nobody pays it).
    comfort_usd: float = 0.0
    true_met: int = 0  # what the simulator knows and the program cannot: the true reduction
    cancelled: int = 0  # events called the day before and released on the day
    cancelled_cost_usd: float = 0.0  # their reservations
    predictions: list[np.ndarray] = field(default_factory=list)
    outcomes: list[np.ndarray] = field(default_factory=list)
    predictor_trained: list[bool] = field(default_factory=list)
    # What only the simulator knows: P(complies) as predicted, and whether each really did.
    true_predictions: list[np.ndarray] = field(default_factory=list)
    true_outcomes: list[np.ndarray] = field(default_factory=list)
    event_log: list[dict] = field(default_factory=list)  # one row per event, for pages and checks
    # Each season day's system peak without and with the program (after the warm-up).
    daily_peak_without_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    daily_peak_with_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))

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
        config: SeasonConfig = SeasonConfig(),
        behavior: BehaviorParams = BehaviorParams(),
        seed: int = 0,
    ) -> None:
        self.load, self.temperature = load, temperature
        self.building_type, self.feeder = building_type, feeder
        self.capacity_kw, self.config, self.behavior = capacity_kw, config, behavior
        self.seed = seed
        rng = np.random.default_rng(seed)
        non_performer = rng.random(len(building_type)) < np.array(
            [RELIABILITY[t] for t in building_type]
        )
        self.reliability = np.where(  # hidden: only the behaviour model reads it
            non_performer, rng.beta(*NON_PERFORMER, size=non_performer.size),
            rng.beta(*PERFORMER, size=non_performer.size),
        )  # fmt: skip
        self.forecast_sd = np.array(
            [FORECAST_HOUR_SD.get(t, FORECAST_HOUR_SD_LARGE) for t in building_type]
        )
        # The flexible share of each building's afternoon load (cooling, pumps, EVs, lighting),
        # as an enrolment audit sizes it: at peak conditions, here the afternoons of the
        # ENROLMENT_PEAK_DAYS days of highest system load.
        peak_days = np.argsort(-load.sum(axis=0).max(axis=1))[:ENROLMENT_PEAK_DAYS]
        afternoon = load[:, peak_days, 14:20].reshape(len(load), -1).mean(axis=1)
        self.curtailable_kw = FLEXIBLE_SHARE * afternoon

    def run(self, strategy: str, *, eps: float | None = None) -> SeasonResult:
        """strategy: "compliance" (ours), "blind" (one average compliance for everyone),
        "largest" (largest buildings first, deepest level), or "oracle": not a strategy but
        the reference that plans with the hidden behaviour itself, to show what learning
        could gain at most. eps: each plan's allowed risk of a miss, if not the config's."""
        cfg, n = self.config, self.load.shape[0]
        eps = cfg.eps if eps is None else eps
        rng = np.random.default_rng(self.seed + 1)  # the same draws for every strategy
        forecast_rng = np.random.default_rng(self.seed + 2)
        actual = self.load.copy()
        learnt = _Learnt(n)
        depths = np.array(DEPTH_LEVELS_PCT)
        result = SeasonResult(strategy, 0, 0, float(self.load.sum(axis=0).max()), 0.0, 0.0, 0.0)
        quantile = float(special.ndtri(cfg.trigger_quantile))
        threshold = self.capacity_kw * cfg.high_pct / 100.0
        for day in range(cfg.warmup_days, self.load.shape[1]):
            if strategy == "compliance" and len(learnt.history) > learnt.trained_on:
                # Retrained once an event's outcomes are verified, as the product does.
                learnt.model, learnt.trained_on = self._retrain(learnt.history), len(learnt.history)
            forecast = self._forecast(self.load[:, day], forecast_rng)
            # Risk-aware trigger: the day's shared forecast error is known to be about
            # FORECAST_DAY_SD, so the event is called, and its window and target set, on the
            # forecast's trigger_quantile.
            system = forecast.sum(axis=0) * (1 + quantile * FORECAST_DAY_SD)
            plan = None
            if system.max() >= threshold:
                start, end = peak_window(system - threshold, cfg.max_window_h)
                plan = self._plan(
                    strategy, learnt, actual, forecast, day, start, end,
                    float((system[start:end] - threshold).max()), np.full(n, cfg.notice_h), eps,
                )  # fmt: skip
            if cfg.day_of_hour is not None:
                plan, updated = self._day_of(
                    strategy, learnt, actual, day, forecast, threshold, plan, eps
                )
            asked = np.zeros(0, dtype=np.int64) if plan is None else np.flatnonzero(plan.level)
            if asked.size:
                self._event(strategy, plan, learnt, day, forecast, actual, depths, rng, result)
            elif plan is not None and plan.released.size:  # called, then not needed after all
                result.cancelled += 1
                result.cancelled_cost_usd += self._released_cost(plan)
                result.cost_usd += self._released_cost(plan)
            quiet = np.ones(n, dtype=bool)
            quiet[asked] = False
            if cfg.day_of_hour is not None and asked.size:
                # HIGH hours next to the window: events of their own, at short notice (on the
                # morning's forecast, read before anyone was curtailed).
                for start, end in runs_next_to(
                    updated - threshold, plan.start, plan.end, cfg.day_of_hour + 1
                ):
                    extra = self._plan(
                        strategy, learnt, actual, forecast, day, start, end,
                        float((updated[start:end] - threshold).max()),
                        np.full(n, float(start - cfg.day_of_hour)), eps, busy=~quiet,
                    )  # fmt: skip
                    if extra.level.any():
                        self._event(
                            strategy, extra, learnt, day, forecast, actual, depths, rng, result
                        )
                        quiet[extra.level > 0] = False
            learnt.residuals.add(
                np.flatnonzero(quiet), forecast[quiet, 12:20], actual[quiet, day, 12:20]
            )
        result.peak_with_kw = float(actual.sum(axis=0).max())
        result.daily_peak_without_kw = self.load.sum(axis=0)[cfg.warmup_days :].max(axis=1)
        result.daily_peak_with_kw = actual.sum(axis=0)[cfg.warmup_days :].max(axis=1)
        return result

    def _forecast(self, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The day-ahead forecast of one day: the truth with a shared error (part of it known
        from the morning's readings, the rest arriving from day_of_hour on) and each
        building-hour's own."""
        shared = rng.normal(0, FORECAST_MORNING_SD) + rng.normal(0, FORECAST_AFTERNOON_SD) * (
            np.arange(24) >= (self.config.day_of_hour or 0)
        )
        own = np.clip(1 + self.forecast_sd[:, None] * rng.normal(size=truth.shape), 0.2, None)
        return truth * (1 + shared)[None, :] * own

    def _plan(
        self, strategy, learnt, actual, forecast, day, start, end, target, notice, eps, kept=None,
        busy=None,
    ):  # fmt: skip
        """Choose who is asked, and how deep, for the window [start, end) and target kW, with
        each building's notice (hours); `kept`: asks made the day before, which may be kept
        (their reservation is already paid) or released; `busy`: (n,) bool, asked in another
        event that day (they may be asked again, an extension of their curtailment, but are
        not read as a comparison)."""
        cfg, n = self.config, self.load.shape[0]
        depths = np.array(DEPTH_LEVELS_PCT)
        k = depths.size
        temperature = float(self.temperature[day, start:end].max())
        recent = np.array([sum(1 for d in asked_ if day - d <= 30) for asked_ in learnt.asked_days])
        rows = compliance.Events(
            building_type=np.repeat(self.building_type, k),
            curtailable_kw=np.repeat(self.curtailable_kw, k),
            past_asked=np.repeat(learnt.past_asked, k),
            past_complied=np.repeat(learnt.past_complied, k),
            past_share=np.repeat(
                compliance.shrunk_share(
                    learnt.share_sum, learnt.share_weight, self._population_share(learnt.history)
                ),
                k,
            ),
            events_30d=np.repeat(recent, k).astype(float),
            notice_h=np.repeat(notice, k).astype(float),
            temperature_c=np.full(n * k, temperature),
            start_hour=np.full(n * k, float(start)),
            duration_h=np.full(n * k, float(end - start)),
            depth_pct=np.tile(depths, n),
            incentive_usd_per_kwh=np.full(n * k, cfg.incentive_usd_per_kwh),
        )
        model = learnt.model
        if strategy == "compliance":
            believed = compliance.predict(model, rows).reshape(n, k)
            # What the plan adds up is kW: P(complies) through the verified response.
            share = compliance.expected_share(model, rows, believed.ravel(), DELIVERY_SHARE)
            planned = np.clip(share.reshape(n, k) / DELIVERY_SHARE, 0.0, 1.0)
        elif strategy == "oracle":
            believed, planned = self._hidden_truth(rows, n, k)
        else:
            believed = planned = np.full((n, k), self._blind_rate(learnt.history))
        noise_sd, load = self._baseline_noise(actual, forecast, day, start, end, learnt.residuals)
        # Expectations corrected by how past plans fared, their spread kept as a risk.
        record = track_record(*learnt.planned_verified)
        model_planned, planned = planned, np.clip(planned * (1 + record.bias), 0.0, 1.0)
        available = (recent < cfg.max_events_per_month) | (kept is not None and kept > 0)
        # The same order of buildings for the day's plan and its revisit.
        order = np.random.default_rng((self.seed, day)).permutation(n)
        level, own, group = self._select(
            strategy, planned, available, target, end - start, (noise_sd, load), record, eps,
            learnt.residuals, kept, order, busy,
        )  # fmt: skip
        released = np.zeros(0, dtype=np.int64) if kept is None else np.flatnonzero(
            (kept > 0) & (level == 0)
        )  # fmt: skip
        return _Plan(
            start=start, end=end, target=target, notice=np.asarray(notice, float), rows=rows,
            believed=believed, planned=planned, model_planned=model_planned, level=level,
            own_sd=own, noise_sd=noise_sd,
            recent=recent, temperature=temperature, released=released, comparison=group,
            busy=busy,
            released_depth=depths[kept[released] - 1] if released.size else np.zeros(0),
            cold_start=(model is None) if strategy == "compliance" else not learnt.history,
        )  # fmt: skip

    def _day_of(self, strategy, learnt, actual, day, forecast, threshold, plan, eps):
        """The plan revisited at day_of_hour, when the morning's readings show the day's
        shared forecast error (nobody has been asked yet): an event the day-ahead forecast
        missed is called at short notice; a called one gets a new target, met by keeping or
        releasing the asks made the day before and asking others at short notice. Returns the
        plan and the forecast so updated (Season._updated)."""
        cfg, n = self.config, self.load.shape[0]
        hour = cfg.day_of_hour
        updated = self._updated(day, forecast, actual)
        if plan is None:  # called at short notice, from the next hour on (as day_of_call)
            window = peak_window(updated - threshold, cfg.max_window_h, earliest=hour + 1)
            if window is None:
                return None, updated
            start, end = window
            target = float((updated[start:end] - threshold).max())
            return self._plan(
                strategy, learnt, actual, forecast, day, start, end, target,
                np.full(n, float(start - hour)), eps,
            ), updated  # fmt: skip
        if plan.start <= hour:
            return plan, updated  # the window opens too soon to change it
        target = float((updated[plan.start : plan.end] - threshold).max())
        if target <= 0:  # not needed after all: every ask is released
            return replace(
                plan, level=np.zeros(n, dtype=np.int64), released=np.flatnonzero(plan.level),
                released_depth=np.array(DEPTH_LEVELS_PCT)[plan.level[plan.level > 0] - 1],
            ), updated  # fmt: skip
        notice = np.where(plan.level > 0, plan.notice, float(plan.start - hour))
        return self._plan(
            strategy, learnt, actual, forecast, day, plan.start, plan.end, target, notice, eps,
            kept=plan.level,
        ), updated  # fmt: skip

    def _updated(self, day, forecast, actual) -> np.ndarray:
        """The system forecast at day_of_hour, corrected by the morning's readings (nobody has
        been asked yet), on the trigger quantile of the error still to come."""
        hour, cfg = self.config.day_of_hour, self.config
        morning = mv.morning_hours(hour)
        ratio = mv.comparison_ratio(forecast[:, morning], actual[:, day, morning])
        quantile = float(special.ndtri(cfg.trigger_quantile))
        return forecast.sum(axis=0) * ratio * (1 + quantile * FORECAST_AFTERNOON_SD)

    def _event(self, strategy, plan, learnt, day, forecast, actual, depths, rng, result):
        """Dispatch the plan, verify it, learn from it and book it in `result`."""
        cfg = self.config
        start, end, level = plan.start, plan.end, plan.level
        asked = np.flatnonzero(level)
        requested, delivered, complies = self._dispatch(
            day, start, end, asked, level, depths, plan, rng, actual
        )
        hours = end - start
        verified_kw, measured = self._verify(
            day, start, end, asked, forecast, actual, learnt.residuals.relative_sd,
            int(plan.comparison.sum()), plan.busy,
        )  # fmt: skip
        noise_sd = plan.noise_sd[asked]
        verified = mv.complies(measured, requested)
        q0, q1 = compliance.label_noise(
            requested, noise_sd, comply_share=mv.COMPLY_SHARE, delivery_share=DELIVERY_SHARE
        )
        p = plan.believed[asked, level[asked] - 1]
        picked = self._rows(plan.rows, asked, level, depths)
        picked.complied, picked.label_q0, picked.label_q1 = verified, q0, q1
        picked.delivered_share = measured / requested
        picked.delivered_share_sd = noise_sd / requested
        learnt.history.append(picked)
        result.predictions.append(compliance.verified_probability(picked, p))
        result.outcomes.append(verified)
        result.true_predictions.append(p)
        result.true_outcomes.append(complies)
        result.predictor_trained.append(learnt.model is not None)
        x_of_y = (
            self._x_of_y_kw(day, start, end, asked, learnt, actual)
            if cfg.x_of_y_check and strategy == "compliance"  # only ours is read so
            else None
        )
        learnt.past_asked[asked] += 1
        learnt.past_complied[asked] += _posterior(p, verified, q0, q1)
        weight = compliance.share_weight(picked.delivered_share_sd)
        learnt.share_sum[asked] += weight * picked.delivered_share
        learnt.share_weight[asked] += weight
        for building in asked:
            learnt.asked_days[building].append(day)
        paid = np.minimum(delivered, requested) * hours * cfg.incentive_usd_per_kwh
        reservation = requested * hours * cfg.incentive_usd_per_kwh * cfg.reservation_share
        cost = float(paid.sum() + reservation.sum()) + self._released_cost(plan)
        comfort = float(comfort_penalty_usd(requested, depths[level[asked] - 1], hours).sum())
        result.cost_usd += cost
        result.comfort_usd += comfort
        result.delivered_kwh += float(delivered.sum() * hours)
        result.events += 1
        # As the program judges it: the verified reduction against the target.
        result.targets_met += int(verified_kw >= plan.target)
        result.true_met += int(delivered.sum() >= plan.target)
        result.event_log.append(
            {
                "day": day - cfg.warmup_days,  # from the season's first day
                "start_hour": start,
                "end_hour": end,
                "target_kw": plan.target,
                "asked": int(asked.size),
                "short_notice": int((plan.notice[asked] < cfg.notice_h).sum()),
                "released": int(plan.released.size),
                "comparison_group": int(plan.comparison.sum()),
                "requested_kw": float(requested.sum()),
                "expected_kw": expected_kw(self.curtailable_kw, plan.planned, level),
                "delivered_kw": float(delivered.sum()),
                "verified_kw": verified_kw,
                "x_of_y_kw": x_of_y,
                "verified_share": float(verified.mean()),
                "complied_share": float(complies.mean()),
                "cost_usd": cost,
                "comfort_usd": comfort,
            }
        )
        if not plan.cold_start:  # the record judges what was learnt, not the first guess
            # Against what the model expected before the record's correction (track_record).
            learnt.planned_verified[0].append(
                expected_kw(self.curtailable_kw, plan.model_planned, level)
            )
            learnt.planned_verified[1].append(verified_kw)
            learnt.planned_verified[2].append(plan.own_sd)

    @staticmethod
    def _x_of_y_kw(day, start, end, asked, learnt, actual) -> float:
        """The event's kW delivered as the 10-of-10 baseline (day-of adjusted) reads it: each
        asked building's last ten days without an event of its own."""
        total = 0.0
        for building in asked:
            eligible = np.zeros(day, dtype=bool)
            eligible[max(day - 30, 0) :] = True
            eligible[[d for d in learnt.asked_days[building] if d < day]] = False
            if not eligible.any():
                continue
            baseline = mv.x_of_y_baseline(
                actual[building, :day], eligible, actual[building, day], start, end
            )
            total += float(np.mean(baseline - actual[building, day, start:end]))
        return total

    def _released_cost(self, plan) -> float:
        """Asks released on the day were reserved the day before: their reservation is paid."""
        released = self.curtailable_kw[plan.released] * plan.released_depth / 100.0
        return float(
            released.sum() * (plan.end - plan.start) * self.config.incentive_usd_per_kwh
            * self.config.reservation_share
        )  # fmt: skip

    def _dispatch(self, day, start, end, asked, level, depths, plan, rng, actual):
        """What the asked buildings really deliver, by the behaviour model: (requested kW,
        delivered kW, complied) per asked building. The load in `actual` drops by it."""
        cfg = self.config
        requested = self.curtailable_kw[asked] * depths[level[asked] - 1] / 100.0
        p_true = true_compliance(
            self.reliability[asked], plan.recent[asked], depths[level[asked] - 1],
            plan.temperature, cfg.incentive_usd_per_kwh, plan.notice[asked], self.behavior,
        )  # fmt: skip
        complies = rng.random(asked.size) < p_true
        behavior = self.behavior
        low = np.where(complies, behavior.delivery_if_complying[0], behavior.delivery_if_not[0])
        high = np.where(complies, behavior.delivery_if_complying[1], behavior.delivery_if_not[1])
        delivered = requested * rng.uniform(low, high)
        delivered = np.minimum(delivered, actual[asked, day, start:end].min(axis=1))
        actual[asked, day, start:end] -= delivered[:, None]
        return requested, delivered, complies

    @staticmethod
    def _verify(day, start, end, asked, forecast, actual, relative_sd, comparison, busy=None):
        """M&V as the program does it: each asked building's counterfactual is its day-ahead
        forecast, corrected for the day's shared forecast error by the buildings not asked (a
        comparison group; `comparison` of them were held out for it), or by the hours before
        the event when nearly everyone was asked. Returns the event's verified kW and each
        building's measured kW. `busy`: asked in another event of the day, no comparison."""
        asked_mask = np.zeros(forecast.shape[0], dtype=bool) if busy is None else busy.copy()
        asked_mask[asked] = True
        ratio = mv.forecast_correction(
            forecast, actual[:, day], asked_mask, start, end,
            weight=1.0 / np.maximum(relative_sd, 1e-3) ** 2, held_out=comparison,
        )  # fmt: skip
        window_forecast, window_actual = forecast[:, start:end], actual[:, day, start:end]
        baseline = window_forecast[asked] * ratio
        measured = (baseline - window_actual[asked]).mean(axis=1)
        return float(measured.sum()), measured

    @staticmethod
    def _baseline_noise(actual, forecast, day, start, end, residuals):
        """(error, load), kW per building: the error (one standard deviation) of each
        building's counterfactual over the window: the forecast's relative error seen so far, at the load the building drew in
        those hours over the last two weeks (not its own forecast for today, whose own error
        it is), scaled to today by the forecast of everyone together: events fall on the
        hottest days, when every load is well above its fortnight's (a third of the error was
        missed without)."""
        usual = actual[:, max(day - 14, 0) : day, start:end].mean(axis=(1, 2))
        load = usual * forecast[:, start:end].mean(axis=1).sum() / max(usual.sum(), 1e-9)
        return residuals.relative_sd * load / np.sqrt(end - start), load

    def _hidden_truth(self, rows: compliance.Events, n: int, k: int):
        """The reference, not a strategy: each ask's true P(complies) and expected delivered
        share, read from the hidden behaviour. It bounds what learning could gain."""
        cfg, behavior = self.config, self.behavior
        p = true_compliance(
            np.repeat(self.reliability, k), rows.events_30d, rows.depth_pct, rows.temperature_c,
            cfg.incentive_usd_per_kwh, rows.notice_h, behavior,
        ).reshape(n, k)  # fmt: skip
        share = p * np.mean(behavior.delivery_if_complying) + (1 - p) * np.mean(
            behavior.delivery_if_not
        )
        return p, np.clip(share / DELIVERY_SHARE, 0.0, 1.0)

    @staticmethod
    def _population_share(history: list[compliance.Events]) -> float:
        """The verified share of the ask delivered over all asks so far (the prior's before)."""
        if not history:
            return DELIVERY_SHARE * compliance.PRIOR_A / (compliance.PRIOR_A + compliance.PRIOR_B)
        return compliance.mean_share(_concatenate(history))

    @staticmethod
    def _blind_rate(history: list[compliance.Events]) -> float:
        """One rate for everyone, on the plan's scale: the verified share of the ask delivered
        so far, over the share a complying building delivers; the weak prior before any."""
        share = Season._population_share(history)
        return float(np.clip(share / DELIVERY_SHARE, 0.02, 0.98))

    def _select(
        self, strategy, believed, available, target, hours, baseline, record, eps, residuals,
        kept, order, busy=None,
    ):  # fmt: skip
        """(level, own sd, comparison group): who is asked how deep, each strategy holding a
        comparison group out (portfolio.with_comparison_group) drawn in `order`; baseline:
        each building's counterfactual error and load (kW); residuals: what is known of the
        comparison ratio's error."""
        cfg = self.config
        noise_sd, load = baseline
        n = believed.shape[0]
        candidates = Candidates(
            curtailable_kw=self.curtailable_kw,
            compliance=believed,
            forecast_sd_kw=noise_sd,
            feeder=self.feeder,
            max_depth_pct=np.full(n, 30.0),
            available=available,
        )
        reservation = cfg.incentive_usd_per_kwh * cfg.reservation_share
        problem = build_problem(
            candidates, target_kw=target, eps=eps, duration_h=hours,
            incentive_usd_per_kwh=cfg.incentive_usd_per_kwh,
            feeder_target_kw=np.zeros(int(self.feeder.max()) + 1),
            systematic_share=record.systematic_share, reservation_usd_per_kwh=reservation,
            common_load_kw=load, common_sd_share=residuals.ratio_sd(hours),
        )  # fmt: skip
        if kept is not None and kept.any():
            # An ask made the day before may be kept at its depth, its reservation already
            # paid, or released.
            rows = np.flatnonzero(kept)
            depths = np.array(DEPTH_LEVELS_PCT) / 100.0
            allowed, cost = problem.allowed.copy(), problem.cost.copy()
            allowed[rows] = False
            allowed[rows, kept[rows] - 1] = True
            cost[rows, kept[rows] - 1] -= (
                reservation * self.curtailable_kw[rows] * depths[kept[rows] - 1] * hours
            )
            problem = replace(problem, allowed=allowed, cost=cost)
        solve = solve_fast if strategy != "largest" else self._largest_first(kept)
        solved, group, held = with_comparison_group(
            problem, order, solve, ratio_sd=residuals.ratio_sd(hours),
            measured_on=residuals.measured_on,
            excluded=(np.zeros(n, dtype=bool) if busy is None else busy)
            | (kept is not None and kept > 0),
        )  # fmt: skip
        return solved.level, own_sd_kw(held, solved.level), group

    def _largest_first(self, kept):
        """Largest first: the biggest buildings (those asked the day before first) at the
        deepest level until the (average-based) chance constraint holds."""

        def solve(problem):
            n, deepest = problem.mean_kw.shape
            keep = np.zeros(n, dtype=np.int64) if kept is None else kept
            order = np.lexsort((-self.curtailable_kw, keep == 0))
            order = order[problem.allowed[order].any(axis=1)]
            levels = np.where(keep[order] > 0, keep[order], deepest)
            mean = np.cumsum(problem.mean_kw[order, levels - 1])
            variance = np.cumsum(problem.var_kw2[order, levels - 1])
            std = np.sqrt(variance + (problem.systematic_share * mean) ** 2)
            margin = mean - problem.z * std - problem.target_kw
            enough = np.flatnonzero(margin >= 0)
            count = int(enough[0]) + 1 if enough.size else order.size
            level = np.zeros(n, dtype=np.int64)
            level[order[:count]] = levels[:count]
            p = (
                float(
                    special.ndtr((mean[count - 1] - problem.target_kw) / max(std[count - 1], 1e-9))
                )
                if count
                else 0.0
            )
            return _Chosen(level, bool(enough.size), p)

        return solve

    @staticmethod
    def _rows(rows: compliance.Events, asked, level, depths) -> compliance.Events:
        return compliance.take(rows, asked * depths.size + level[asked] - 1)

    @staticmethod
    def _retrain(history: list[compliance.Events]) -> compliance.ComplianceModel | None:
        if not history:
            return None
        rows = _concatenate(history)
        if len(np.unique(rows.complied)) < 2:
            return None
        return compliance.fit_if_better(rows)[0]


@dataclass(frozen=True)
class _Chosen:
    """Largest-first's selection, as with_comparison_group reads a solution."""

    level: np.ndarray
    feasible: bool
    p_target_met: float


@dataclass
class _Plan:
    """One event's plan: its window, target, who is asked how deep, and what it knew."""

    start: int
    end: int
    target: float
    notice: np.ndarray  # (n,) hours of notice each building would get
    rows: compliance.Events  # (n * k) what the model saw
    believed: np.ndarray  # (n, k) P(complies)
    planned: np.ndarray  # (n, k) P(complies) on the plan's scale of kW
    model_planned: np.ndarray  # (n, k) the same before the track record's correction
    level: np.ndarray  # (n,) 0 = not asked
    own_sd: float
    noise_sd: np.ndarray  # (n,) each baseline's error over the window, kW
    recent: np.ndarray  # (n,) events in the last 30 days
    temperature: float
    released: np.ndarray  # buildings asked the day before and released on the day
    released_depth: np.ndarray
    cold_start: bool
    comparison: np.ndarray  # (n,) bool: the comparison group held out for verification
    busy: np.ndarray | None = None  # (n,) bool: asked in another event of the day


class _Learnt:
    """What a strategy has learnt in a season: its records of asks and verified outcomes."""

    def __init__(self, n: int) -> None:
        self.model: compliance.ComplianceModel | None = None
        self.trained_on = 0
        self.history: list[compliance.Events] = []
        self.past_asked, self.past_complied = np.zeros(n), np.zeros(n)
        self.share_sum, self.share_weight = np.zeros(n), np.zeros(n)  # precision-weighted
        self.residuals = _Residuals(n)
        self.asked_days: list[list[int]] = [[] for _ in range(n)]
        # Each event's expected kW, verified kW and the sd its plan knew of (its own).
        self.planned_verified: tuple[list, list, list] = ([], [], [])


class _Residuals:
    """What the program knows of its counterfactual's noise: each building's relative error
    per hour of the day-corrected forecast, over the afternoons it was not asked."""

    def __init__(self, n: int) -> None:
        self.sum_sq, self.count = np.zeros(n), np.zeros(n)
        # The comparison ratio's own error, from the days' two random halves of the quiet
        # buildings over windows of each length (mv.halves_difference).
        self.differences: list[np.ndarray] = []
        self.sizes: list[int] = []  # how many quiet buildings each difference was read from
        self._rng = np.random.default_rng(0)

    def add(self, rows: np.ndarray, forecast: np.ndarray, actual: np.ndarray) -> None:
        if not rows.size or forecast.sum() <= 0:
            return
        difference = mv.halves_difference(forecast, actual, self._rng)
        if difference is not None:
            self.differences.append(difference)
            self.sizes.append(rows.size)
        adjusted = forecast * mv.comparison_ratio(forecast, actual)
        relative = np.where(adjusted > 0, (adjusted - actual) / np.maximum(adjusted, 1e-9), 0.0)
        self.sum_sq[rows] += np.sum(relative**2, axis=1)
        self.count[rows] += np.sum(adjusted > 0, axis=1)

    @property
    def measured_on(self) -> float:
        """The size of the groups ratio_sd holds for: those days' quiet buildings."""
        return float(np.mean(self.sizes)) if self.sizes else 1.0

    def ratio_sd(self, hours: int) -> float:
        """The comparison ratio's error over a window of `hours` (one sd, a share of load); 0
        before two days are seen."""
        return mv.ratio_sd(self.differences, hours)

    @property
    def relative_sd(self) -> np.ndarray:
        """Per building; where a building has under a day of afternoons, everyone's together."""
        seen = self.count >= 8
        pooled = np.sqrt(self.sum_sq.sum() / self.count.sum()) if self.count.sum() else 0.25
        own = np.sqrt(self.sum_sq / np.maximum(self.count, 1))
        return np.where(seen, own, pooled)


def _posterior(p, verified, q0, q1) -> np.ndarray:
    """P(complied | what was verified), from the prediction and the verification's noise."""
    yes = p * q1 / np.maximum(p * q1 + (1 - p) * q0, 1e-12)
    no = p * (1 - q1) / np.maximum(p * (1 - q1) + (1 - p) * (1 - q0), 1e-12)
    return np.where(verified, yes, no)


def _concatenate(parts: list[compliance.Events]) -> compliance.Events:
    return compliance.Events(
        **{
            name: np.concatenate([getattr(part, name) for part in parts])
            for name in compliance.Events.__dataclass_fields__
        }
    )


SEASON_FIRST_DAY = 242  # the last 122 days of the CityLearn year: April to July 2017
SEASON_FEEDERS = 20
WORST_DAY_CUT = 0.06
PEAK_CUT_TARGET_PCT = 5.4  # DESIGN.md's target for a season's system peak cut
STRATEGIES = ("compliance", "blind", "largest")
REFERENCE = "oracle"


def citylearn_season(
    data, *, buildings: int, seed: int = 3, config: SeasonConfig = SeasonConfig()
) -> tuple[Season, dict]:
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
    capacity = float(loads.sum(axis=0).max(axis=1)[warmup:].max()) / (1 + WORST_DAY_CUT) / 0.90
    rng = np.random.default_rng(seed)
    season = Season(
        loads, temperature, types, rng.integers(0, SEASON_FEEDERS, size=buildings),
        capacity_kw=capacity, seed=seed, config=config,
    )  # fmt: skip
    return season, {
        "capacity_kw": capacity,
        "days": days - warmup,
        "first_day": str(first + timedelta(days=warmup)),
    }


def _scored(predictions, outcomes, trained) -> tuple[np.ndarray, np.ndarray]:
    """Predictions made by a trained model before each outcome, and the outcomes."""
    if not outcomes:
        return np.zeros(0), np.zeros(0, bool)
    mask = np.concatenate(
        [np.full(len(o), flag) for flag, o in zip(trained, outcomes, strict=True)]
    )
    return np.concatenate(predictions)[mask], np.concatenate(outcomes)[mask]


def season_figures(seasons: list[dict[str, SeasonResult]]) -> dict:
    """Headline figures over one or more simulated seasons (bench/season.py's JSON): ours
    against the baselines, events and costs added up, the system peak cut of a season (the
    mean over the seasons, like the share of targets met; the worst season's beside it, and
    how many reach PEAK_CUT_TARGET_PCT: the worst of N seasons falls as N grows, so it reads
    the number of seasons run as much as the program), and the compliance model scored on
    predictions made before each outcome, against what was verified (and, what only a
    simulator can do, against what really happened)."""
    ours = [season["compliance"] for season in seasons]
    events = sum(result.events for result in ours)

    def pooled(attribute: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            _scored(getattr(r, attribute[0]), getattr(r, attribute[1]), r.predictor_trained)
            for r in ours
        ]
        return np.concatenate([p for p, _ in parts]), np.concatenate([o for _, o in parts])

    predicted, observed = pooled(("predictions", "outcomes"))
    p_true, happened = pooled(("true_predictions", "true_outcomes"))

    def scores(y, p) -> tuple[float | None, float | None]:
        if not p.size:
            return None, None
        area = round(compliance.auc(y, p), 3) if len(np.unique(y)) == 2 else None
        return area, round(compliance.brier(y, p), 3)

    auc, brier = scores(observed, predicted)
    truth_auc, truth_brier = scores(happened, p_true)
    return {
        "seasons": len(seasons),
        "events": events,
        "peak_reduction_pct": round(float(np.mean([r.peak_reduction_pct for r in ours])), 2),
        "peak_reduction_pct_worst": round(min(r.peak_reduction_pct for r in ours), 2),
        "seasons_reaching_peak_target": sum(
            r.peak_reduction_pct >= PEAK_CUT_TARGET_PCT for r in ours
        ),
        "target_met_share": round(sum(r.targets_met for r in ours) / events, 3) if events else None,
        "true_target_met_share": round(sum(r.true_met for r in ours) / events, 3)
        if events
        else None,
        "cost": round(sum(r.cost_usd for r in ours), 2),
        "cost_largest_first": round(sum(s["largest"].cost_usd for s in seasons), 2),
        "cost_compliance_blind": round(sum(s["blind"].cost_usd for s in seasons), 2),
        # The comfort penalty of the asks, which the optimizer weighs with the incentive.
        "comfort_usd": round(sum(r.comfort_usd for r in ours), 2),
        "comfort_usd_largest_first": round(sum(s["largest"].comfort_usd for s in seasons), 2),
        "comfort_usd_compliance_blind": round(sum(s["blind"].comfort_usd for s in seasons), 2),
        "compliance_auc": auc,
        "compliance_brier": brier,
        "compliance_truth_auc": truth_auc,
        "compliance_truth_brier": truth_brier,
        "calibration": compliance.calibration_table(observed, predicted) if predicted.size else [],
    }
