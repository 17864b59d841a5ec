"""A DR season on a synthetic utility built from real load profiles. Pure numpy / scipy.

The behaviour model decides what each building really delivers, from parameters of its own
(a hidden reliability per building, from two kinds of participant; fatigue, depth, heat,
incentive and notice effects). The strategies never read those parameters: the compliance
predictor learns only from verified outcomes, as it would in the field.

Each day the world gives a day-ahead forecast (the simulated truth with a forecast error: a
shared error of FORECAST_DAY_SD over the afternoon, part of it already showing in the
morning, and an independent one per building-hour, larger for a home than for a large
building, whose P10-P90 the forecast reports), and, once buildings are asked, what each
really delivers. Every decision between is the product's policy (optimization.policy), which
this simulator only adapts to arrays: the call, the plan, the morning's revisit (with
day_of_hour set), verification, the building's record, the compliance model's retraining and
the plans' track record. tests/optimization/test_policy_parity.py runs a small season through
this simulator and through the product's services and compares their decisions.

Everything here is synthetic and labelled so by the callers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from scipy import special

from forecasting import citylearn, compliance
from forecasting.synthetic import synthetic_loads, synthetic_spec

from . import mv
from .policy import calls, verify
from .policy import plan as policy_plan
from .policy.calls import Z90
from .policy.record import Outcomes, building_record, may_train, plans_record, training_rows
from .portfolio import DELIVERY_SHARE, DEPTH_LEVELS_PCT, comfort_penalty_usd, expected_kw
from .solver import solve_fast
from .windows import MAX_WINDOW_H

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
# The share of that error's variance common to all hours of the building's day.
OWN_ERROR_DAY_SHARE = 0.6

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
    incentive_usd_per_kwh: float = 0.5
    ask_cost_usd: float = policy_plan.ASK_COST_USD
    high_pct: float = 90.0
    critical_pct: float = 97.0
    max_window_h: int = MAX_WINDOW_H
    max_events_per_month: int = 8
    warmup_days: int = 14
    # The plan is revisited at this hour with the morning's readings, as the product does at
    # settings.EVENT_REVISIT_HOUR (None: never).
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
    cancelled: int = 0  # events called the day before and cancelled on the day
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
    # How many times each building was asked over the season.
    asks_by_building: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

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


@dataclass(frozen=True)
class Forecast:
    """A day's forecast of every building, (n, 24) kW, as stored (float32)."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray


def stored(values: np.ndarray) -> np.ndarray:
    """Values as the product stores readings and forecasts (float32), read back as float64."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


class Season:
    """load: (n, days, 24) true kW of n buildings; temperature: (days, 24); first days warm up.

    The world (the buildings' truth, the forecast and the behaviour) is the simulator's own;
    every decision is optimization.policy's, as the product takes it."""

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
        self.load, self.temperature = stored(load), stored(temperature)
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
        peak_days = np.argsort(-self.load.sum(axis=0).max(axis=1))[:ENROLMENT_PEAK_DAYS]
        afternoon = self.load[:, peak_days, 14:20].reshape(len(load), -1).mean(axis=1)
        self.curtailable_kw = FLEXIBLE_SHARE * afternoon
        # Every building may be asked 30 % deep (a comfort limit of 3 degC).
        self.max_depth_pct = np.full(len(load), 30.0)
        self.ids = np.arange(len(load))

    @property
    def high_kw(self) -> float:
        return self.capacity_kw * self.config.high_pct / 100.0

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
        learnt = _Learnt(n, self.load.shape[1])
        result = SeasonResult(strategy, 0, 0, float(self.load.sum(axis=0).max()), 0.0, 0.0, 0.0)
        for day in range(cfg.warmup_days, self.load.shape[1]):
            if strategy == "compliance":
                learnt.retrain()  # once events' outcomes are verified, as the product does
            forecast = self.forecast(day, forecast_rng)
            plans = self.plans_of_day(strategy, learnt, forecast, actual, day, eps, result)
            self._play(strategy, plans, learnt, forecast, actual, day, rng, result)
            learnt.days.appendleft(
                (forecast.p50, actual[:, day].copy(), ~learnt.asked_days[:, day])
            )
        result.peak_with_kw = float(actual.sum(axis=0).max())
        result.daily_peak_without_kw = self.load.sum(axis=0)[cfg.warmup_days :].max(axis=1)
        result.daily_peak_with_kw = actual.sum(axis=0)[cfg.warmup_days :].max(axis=1)
        result.asks_by_building = learnt.asked_days.sum(axis=1)
        return result

    def forecast(self, day: int, rng: np.random.Generator) -> Forecast:
        """The day-ahead forecast of one day: the truth with a shared error (part of it known
        from the morning's readings, the rest arriving from day_of_hour on) and each
        building-hour's own, with the P10-P90 of that own error (a calibrated forecaster)."""
        truth = self.load[:, day]
        shared = rng.normal(0, FORECAST_MORNING_SD) + rng.normal(0, FORECAST_AFTERNOON_SD) * (
            np.arange(24) >= (self.config.day_of_hour or 0)
        )
        # A building's own error runs on from hour to hour (a forecast off in one hour is
        # likely off in the next): a part shared by its whole day and a part of each hour.
        draws = np.sqrt(OWN_ERROR_DAY_SHARE) * rng.normal(size=(truth.shape[0], 1)) + np.sqrt(
            1 - OWN_ERROR_DAY_SHARE
        ) * rng.normal(size=truth.shape)
        own = np.clip(1 + self.forecast_sd[:, None] * draws, 0.2, None)
        p50 = truth * (1 + shared)[None, :] * own
        spread = (Z90 * self.forecast_sd)[:, None] * p50
        return Forecast(stored(np.maximum(p50 - spread, 0.0)), stored(p50), stored(p50 + spread))

    def plans_of_day(self, strategy, learnt, forecast, actual, day, eps, result) -> list:
        """The day's events as the product calls and revisits them (optimization.policy.calls):
        the day-ahead call on the forecast's P90 and its plan; at day_of_hour, with the
        morning's readings, a call at short notice where there was none, or the called event's
        new target (cancelled where it is not needed), its plan made again, and events of
        their own for HIGH hours next to its window. In the order of their windows."""
        cfg, n = self.config, self.load.shape[0]
        system = forecast.p50.sum(axis=0)
        error = calls.error_sd(learnt.day_errors(calls.ERROR_HOURS))
        called = calls.call(
            calls.p90_excess(system, self.high_kw, error=error), max_hours=cfg.max_window_h
        )
        main = None
        if called is not None:
            notice = np.full(n, float(called.start + 24 - policy_plan.DAY_AHEAD_HOUR))
            main = self._plan(strategy, learnt, forecast, day, called, notice, eps)
        if cfg.day_of_hour is None:
            return [] if main is None else [main]
        hour = cfg.day_of_hour
        morning = mv.morning_hours(hour)
        ratio = mv.comparison_ratio(forecast.p50[:, morning], actual[:, day, morning])
        if main is None:  # called at short notice, from the next hour on (as day_of_call)
            remaining = calls.error_sd(learnt.day_errors(slice(hour + 1, 24), morning))
            excess = calls.p90_excess(system, self.high_kw, ratio=ratio, error=remaining)
            late = calls.call(excess, earliest=hour + 1, max_hours=cfg.max_window_h)
            if late is None:
                return []
            notice = np.full(n, float(late.start - hour))
            return [self._plan(strategy, learnt, forecast, day, late, notice, eps)]
        if main.call.start <= hour:
            return [main]  # the window opens too soon to change it
        window = slice(main.call.start, main.call.end)
        remaining = calls.error_sd(learnt.day_errors(window, morning))
        excess = calls.p90_excess(system, self.high_kw, ratio=ratio, error=remaining)
        decision = calls.revisit(excess, window.start, window.stop, earliest=hour + 1)
        if decision.target_kw is None:  # not needed after all: cancelled
            learnt.withdraw(main)
            result.cancelled += 1
            return []
        notified = main.level > 0
        again = calls.Call(window.start, window.stop, decision.target_kw)
        notice = np.where(notified, main.notice, float(window.start - hour))
        plans = [
            self._plan(
                strategy, learnt, forecast, day, again, notice, eps, notified=notified,
                replaces=main,
            )
        ]  # fmt: skip
        for run in decision.next_to:
            busy = np.any([plan.level > 0 for plan in plans], axis=0)
            short = np.full(n, float(run.start - hour))
            plans.append(self._plan(strategy, learnt, forecast, day, run, short, eps, busy=busy))
        return sorted(plans, key=lambda plan: plan.call.start)

    def _plan(
        self, strategy, learnt, forecast, day, called, notice, eps, notified=None, busy=None,
        replaces=None,
    ):  # fmt: skip
        """Who is asked, and how deep, for the event `called`, each building with its notice
        (hours); notified: (n,) bool, already asked in this event (a revisit); busy: (n,)
        bool, asked in another event that day (not read as a comparison)."""
        cfg, n = self.config, self.load.shape[0]
        k = len(DEPTH_LEVELS_PCT)
        start, end = called.start, called.end
        hours = end - start
        moment = day * 24 + start
        recent = learnt.asks_between(moment - policy_plan.MONTH_DAYS * 24, moment)
        temperature = float(self.temperature[day, start:end].max())
        rows = policy_plan.compliance_rows(
            building_type=self.building_type, curtailable_kw=self.curtailable_kw,
            record=building_record(learnt.outcomes(), n), events_30d=recent, notice_h=notice,
            temperature_c=temperature, start_hour=start, duration_h=hours,
            incentive_usd_per_kwh=cfg.incentive_usd_per_kwh,
        )  # fmt: skip
        track = plans_record(*learnt.planned_verified)
        model = learnt.model
        if strategy == "compliance":
            believed = compliance.predict(model, rows)
            share = compliance.expected_share(model, rows, believed, DELIVERY_SHARE)
            believed = believed.reshape(n, k)
            model_planned, planned = policy_plan.planned_compliance(share, n, track)
        else:
            if strategy == "oracle":
                believed, model_planned = self._hidden_truth(rows, n, k)
            else:
                believed = model_planned = np.full((n, k), self._blind_rate(learnt))
            planned = np.clip(model_planned * (1 + track.bias), 0.0, 1.0)
        noise_sd = policy_plan.baseline_sd_kw(
            forecast.p10, forecast.p90, start, end, self.curtailable_kw
        )
        ratio_sd, measured_on = calls.comparison_error(
            learnt.quiet_days(calls.COMPARISON_DAYS), hours, np.random.default_rng(self.seed)
        )
        notified = np.zeros(n, dtype=bool) if notified is None else notified
        none = np.zeros(n, dtype=np.int64)
        problem = policy_plan.plan_problem(
            curtailable_kw=self.curtailable_kw, planned=planned, baseline_sd_kw=noise_sd,
            common_load_kw=forecast.p50[:, start:end].mean(axis=1),
            feeder=np.zeros(n, dtype=np.int64), feeder_target_kw=np.zeros(1),
            max_depth_pct=self.max_depth_pct,
            may_ask=policy_plan.available(recent, np.full(n, cfg.max_events_per_month), none),
            standing=none, notified=notified, target_kw=called.target_kw, eps=eps,
            duration_h=hours, incentive_usd_per_kwh=cfg.incentive_usd_per_kwh, record=track,
            ratio_sd=ratio_sd, ask_cost_usd=cfg.ask_cost_usd,
        )  # fmt: skip
        selection = policy_plan.select(
            problem, self.ids, (self.seed, day), ratio_sd=ratio_sd, measured_on=measured_on,
            excluded=np.zeros(n, dtype=bool) if busy is None else busy,
            solve=solve_fast if strategy != "largest" else self._largest_first(notified),
        )  # fmt: skip
        plan = _Plan(
            call=called, notice=np.asarray(notice, float), rows=rows, believed=believed,
            planned=planned, model_planned=model_planned, level=selection.level,
            own_sd=selection.own_sd_kw, noise_sd=noise_sd, recent=recent,
            temperature=temperature, comparison=selection.comparison, busy=busy,
            withdrawn=int((notified & (selection.level == 0)).sum()),
            cold_start=(model is None) if strategy == "compliance" else not learnt.features,
        )  # fmt: skip
        learnt.ask(moment, plan, replaces)
        return plan

    def _play(self, strategy, plans, learnt, forecast, actual, day, rng, result) -> None:
        """Dispatch the day's plans and apply what the buildings really do; then, once the
        day's readings are in, verify each event, learn from it and book it in `result`. A
        plan that asks nobody has nothing to dispatch (the product's event_dispatch refuses
        it) and is no event."""
        plans = [plan for plan in plans if plan.level.any()]
        responses = [self._dispatch(day, plan, rng, actual) for plan in plans]
        actual[:, day] = stored(actual[:, day])  # as the meters' readings are stored
        asked_today = np.zeros(self.load.shape[0], dtype=bool)
        for plan in plans:
            asked_today |= plan.level > 0
        for plan, response in zip(plans, responses, strict=True):
            self._book(strategy, plan, response, learnt, forecast, actual, day, asked_today, result)

    def _book(self, strategy, plan, response, learnt, forecast, actual, day, asked_today, result):
        """Verify one event as the program does (optimization.policy.verify), learn from it and
        book it."""
        cfg = self.config
        start, end, level = plan.call.start, plan.call.end, plan.level
        asked = np.flatnonzero(level)
        requested, delivered, complies = response
        hours = end - start
        own = verify.own_adjustment(forecast.p50, actual[:, day], start)
        correction = verify.day_correction(
            forecast.p50, actual[:, day], asked_today, start, end, int(plan.comparison.sum()), own
        )
        measured = verify.delivered_kw(
            forecast.p50[asked, start:end], actual[asked, day, start:end], correction, own[asked]
        )
        verified = mv.complies(measured, requested)
        p = plan.believed[asked, level[asked] - 1]
        outcomes = Outcomes(
            building=asked, probability=p, complied=verified, requested_kw=requested,
            delivered_kw=measured, baseline_sd_kw=plan.noise_sd[asked],
        )  # fmt: skip
        picked = training_rows(
            compliance.take(plan.rows, asked * len(DEPTH_LEVELS_PCT) + level[asked] - 1), outcomes
        )
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
        learnt.add(picked, outcomes)
        learnt.asked_days[asked, day] = True
        paid = mv.settle(
            delivered_kw=measured, requested_kw=requested, hours=hours,
            incentive_usd_per_kwh=cfg.incentive_usd_per_kwh, tariff_usd_per_kwh=0.0,
            carbon_kg_per_kwh=0.0,
        ).incentive_usd  # fmt: skip
        cost = float(paid.sum())
        depths = np.array(DEPTH_LEVELS_PCT)
        comfort = float(comfort_penalty_usd(requested, depths[level[asked] - 1], hours).sum())
        verified_kw = float(measured.sum())
        result.cost_usd += cost
        result.comfort_usd += comfort
        result.delivered_kwh += float(delivered.sum() * hours)
        result.events += 1
        # As the program judges it: the verified reduction against the target.
        result.targets_met += int(verified_kw >= plan.call.target_kw)
        result.true_met += int(delivered.sum() >= plan.call.target_kw)
        day_ahead_notice = start + 24 - policy_plan.DAY_AHEAD_HOUR
        result.event_log.append(
            {
                "day": day - cfg.warmup_days,  # from the season's first day
                "start_hour": start,
                "end_hour": end,
                "target_kw": plan.call.target_kw,
                "asked": int(asked.size),
                "short_notice": int((plan.notice[asked] < day_ahead_notice).sum()),
                "withdrawn": plan.withdrawn,
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
            eligible &= ~learnt.asked_days[building, :day]
            if not eligible.any():
                continue
            baseline = mv.x_of_y_baseline(
                actual[building, :day], eligible, actual[building, day], start, end
            )
            total += float(np.mean(baseline - actual[building, day, start:end]))
        return total

    def _dispatch(self, day, plan, rng, actual):
        """What the asked buildings really deliver, by the behaviour model: (requested kW,
        delivered kW, complied) per asked building. The load in `actual` drops by it."""
        cfg, depths = self.config, np.array(DEPTH_LEVELS_PCT)
        start, end, level = plan.call.start, plan.call.end, plan.level
        asked = np.flatnonzero(level)
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

    def _largest_first(self, notified):
        """Largest first: the biggest buildings (those already asked in the event first) at
        the deepest level until the (average-based) chance constraint holds."""

        def solve(problem):
            n, deepest = problem.mean_kw.shape
            keep = np.zeros(n, dtype=bool) if notified is None else notified
            order = np.lexsort((-self.curtailable_kw, ~keep))
            order = order[problem.allowed[order].any(axis=1)]
            levels = np.full(order.size, deepest)
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
    def _blind_rate(learnt) -> float:
        """One rate for everyone, on the plan's scale: the verified share of the ask delivered
        so far, over the share a complying building delivers; the weak prior before any."""
        share = building_record(learnt.outcomes(), 0).population_share
        return float(np.clip(share / DELIVERY_SHARE, 0.02, 0.98))


@dataclass(frozen=True)
class _Chosen:
    """Largest-first's selection, as with_comparison_group reads a solution."""

    level: np.ndarray
    feasible: bool
    p_target_met: float


@dataclass
class _Plan:
    """One event's plan: its window and target, who is asked how deep, and what it knew."""

    call: calls.Call
    notice: np.ndarray  # (n,) hours of notice each building would get
    rows: compliance.Events  # (n * k) what the model saw
    believed: np.ndarray  # (n, k) P(complies)
    planned: np.ndarray  # (n, k) P(complies) on the plan's scale of kW
    model_planned: np.ndarray  # (n, k) the same before the track record's correction
    level: np.ndarray  # (n,) 0 = not asked
    own_sd: float
    noise_sd: np.ndarray  # (n,) each baseline's error over the window, kW
    recent: np.ndarray  # (n,) asks in the MONTH_DAYS before
    temperature: float
    comparison: np.ndarray  # (n,) bool: the comparison group held out for verification
    busy: np.ndarray | None  # (n,) bool: asked in another event of the day
    withdrawn: int  # asks made the day before that the revisit withdrew
    cold_start: bool


class _Learnt:
    """What a strategy has learnt in a season: its asks, verified outcomes and past days."""

    def __init__(self, n: int, days: int) -> None:
        self.model: compliance.ComplianceModel | None = None
        self.trained_on = 0
        self.features: list[compliance.Events] = []  # each event's verified asks, with outcomes
        self._outcomes: list[Outcomes] = []
        self._asks: list[tuple[int, object, np.ndarray]] = []  # (moment, plan, asked)
        # The last days, latest first: (P50, readings, quiet: nobody asked) (n, 24) kW.
        self.days: deque = deque(maxlen=max(calls.ERROR_DAYS, calls.COMPARISON_DAYS))
        self.asked_days = np.zeros((n, days), dtype=bool)
        # Each event's expected kW, verified kW and the sd its plan knew of (its own).
        self.planned_verified: tuple[list, list, list] = ([], [], [])

    def outcomes(self) -> Outcomes | None:
        if not self._outcomes:
            return None
        return Outcomes(
            *(
                np.concatenate([getattr(part, name) for part in self._outcomes])
                for name in Outcomes.__dataclass_fields__
            )
        )

    def add(self, rows: compliance.Events, outcomes: Outcomes) -> None:
        self.features.append(rows)
        self._outcomes.append(outcomes)

    def retrain(self) -> None:
        """The model trained on every verified outcome, once there are enough (may_train)."""
        if len(self.features) == self.trained_on:
            return
        rows = _concatenate(self.features)
        if may_train(rows.complied):
            self.model = compliance.fit_if_better(rows)[0]
            self.trained_on = len(self.features)

    def ask(self, moment: int, plan, replaces=None) -> None:
        """Keep a plan's asks (at the hour its window starts), instead of those of the plan it
        replaces."""
        if replaces is not None:
            self.withdraw(replaces)
        self._asks.append((moment, plan, np.flatnonzero(plan.level)))

    def withdraw(self, plan) -> None:
        self._asks = [ask for ask in self._asks if ask[1] is not plan]

    def asks_between(self, first: int, before: int) -> np.ndarray:
        """(n,) asks standing in events whose window starts in [first, before) (hours)."""
        count = np.zeros(self.asked_days.shape[0])
        for moment, _, asked in self._asks:
            if first <= moment < before:
                count[asked] += 1
        return count

    def day_errors(self, hours: slice, morning: slice | None = None):
        """calls.day_error of each past day's quiet buildings, latest first."""
        for p50, readings, quiet in self.days:
            yield calls.day_error(p50[quiet], readings[quiet], hours, morning)

    def quiet_days(self, count: int):
        """(P50, readings) of the last `count` days' quiet buildings, latest first."""
        for p50, readings, quiet in list(self.days)[:count]:
            yield p50[quiet], readings[quiet]


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
        # How many buildings each event asked, and how often a building was asked in a season.
        "asked_per_event": round(sum(row["asked"] for r in ours for row in r.event_log) / events, 1)
        if events
        else None,
        "asks_per_building": round(
            float(np.mean([r.asks_by_building.mean() for r in ours if r.asks_by_building.size])),
            2,
        )
        if any(r.asks_by_building.size for r in ours)
        else None,
        "asks_per_building_max": max(
            (int(r.asks_by_building.max()) for r in ours if r.asks_by_building.size), default=None
        ),
        "comfort_usd_largest_first": round(sum(s["largest"].comfort_usd for s in seasons), 2),
        "comfort_usd_compliance_blind": round(sum(s["blind"].comfort_usd for s in seasons), 2),
        "compliance_auc": auc,
        "compliance_brier": brier,
        "compliance_truth_auc": truth_auc,
        "compliance_truth_brier": truth_brier,
        "calibration": compliance.calibration_table(observed, predicted) if predicted.size else [],
    }
