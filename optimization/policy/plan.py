"""An event's plan: what the compliance model is asked, which buildings may be asked, what
an ask costs, the asks that stand, and the chance-constrained selection. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from forecasting import compliance

from ..portfolio import (
    DELIVERY_SHARE,
    DEPTH_LEVELS_PCT,
    Candidates,
    TrackRecord,
    build_problem,
    comparison_order,
    with_comparison_group,
)
from ..solver import Problem, own_sd_kw, solve_fast
from .calls import Z90
from .record import BuildingRecord

# What one ask costs the program beyond its incentive and comfort, $ per building asked per
# event, whatever its depth: the notice, the customer-service load and above all the fatigue
# (an ask spends one of the building's events of the month and lowers its response to the
# next ones) and the risk that it opts out (event opt-outs run near 20 % in large programs).
# With it a small target asks a few buildings deeply, a large one more of them; without it the
# cheapest plan asks nearly everyone a little (comfort grows with the square of depth).
ASK_COST_USD = 1.0
# A building is asked at most its max_events_per_month in any MONTH_DAYS days (rolling), and
# its events_30d (the compliance model's fatigue) counts the same asks.
MONTH_DAYS = 30
# A day-ahead plan is made at this local hour of the day before (the simulator's clock; the
# product plans when its forecast is in), so its notice is the window's start + 24 - 22 h.
DAY_AHEAD_HOUR = 22
# Without a forecast interval for a building, its counterfactual is taken as this uncertain,
# a share of its curtailable kW.
DEFAULT_SD_SHARE = 0.1


def compliance_rows(
    *,
    building_type: np.ndarray,
    curtailable_kw: np.ndarray,
    record: BuildingRecord,
    events_30d: np.ndarray,
    notice_h: np.ndarray,
    temperature_c: float,
    start_hour: int,
    duration_h: float,
    incentive_usd_per_kwh: float,
) -> compliance.Events:
    """What the compliance model reads of n buildings at each depth level (rows building by
    building, levels within): per building (n,) arrays, the event's own figures as scalars."""
    k = len(DEPTH_LEVELS_PCT)
    n = len(curtailable_kw)

    def each(values) -> np.ndarray:
        return np.repeat(np.asarray(values, dtype=float), k)

    return compliance.Events(
        building_type=np.repeat(np.asarray(building_type), k),
        curtailable_kw=each(curtailable_kw),
        past_asked=each(record.past_asked),
        past_complied=each(record.past_complied),
        past_share=each(record.past_share()),
        events_30d=each(events_30d),
        notice_h=each(notice_h),
        temperature_c=np.full(n * k, float(temperature_c)),
        start_hour=np.full(n * k, float(start_hour)),
        duration_h=np.full(n * k, float(duration_h)),
        depth_pct=np.tile(np.asarray(DEPTH_LEVELS_PCT), n),
        incentive_usd_per_kwh=np.full(n * k, float(incentive_usd_per_kwh)),
    )


def planned_compliance(share: np.ndarray, n: int, record: TrackRecord):
    """(as the model expects, as the plan takes it): (n, k) P(complies) on the plan's scale of
    kW (the expected share of the ask over the share a complying building delivers), then
    corrected by how past plans fared (record.bias)."""
    model = np.clip(np.asarray(share).reshape(n, -1) / DELIVERY_SHARE, 0.0, 1.0)
    return model, np.clip(model * (1 + record.bias), 0.0, 1.0)


def available(asks_in_month: np.ndarray, max_per_month: np.ndarray, standing: np.ndarray):
    """Who may be asked: under its monthly limit (asks standing in events that start in the
    MONTH_DAYS before this one), or already committed to this event."""
    return (np.asarray(asks_in_month) < np.asarray(max_per_month)) | (np.asarray(standing) > 0)


@dataclass(frozen=True)
class Selection:
    level: np.ndarray  # (n,) 0 = not asked, else the depth level 1..k
    plan: object  # solver.Plan (or a strategy's own Solved)
    comparison: np.ndarray  # (n,) bool: held out as the comparison group
    problem: Problem  # as solved (the group held out)
    own_sd_kw: float


def plan_problem(
    *,
    curtailable_kw: np.ndarray,
    planned: np.ndarray,
    baseline_sd_kw: np.ndarray,
    common_load_kw: np.ndarray | None,
    feeder: np.ndarray,
    feeder_target_kw: np.ndarray,
    max_depth_pct: np.ndarray,
    may_ask: np.ndarray,
    standing: np.ndarray,
    notified: np.ndarray,
    target_kw: float,
    eps: float,
    duration_h: float,
    incentive_usd_per_kwh: float,
    record: TrackRecord,
    ratio_sd: float,
    ask_cost_usd: float = ASK_COST_USD,
) -> Problem:
    """The plan's problem. standing: (n,) the level of an ask the building accepted (held at
    its depth, nothing more to pay for it; 0 none); notified: (n,) bool, already asked in this
    event (its ask's cost is spent: asking it again, at any depth, costs no more)."""
    candidates = Candidates(
        curtailable_kw=np.asarray(curtailable_kw, float),
        compliance=planned,
        forecast_sd_kw=np.asarray(baseline_sd_kw, float),
        feeder=np.asarray(feeder),
        max_depth_pct=np.asarray(max_depth_pct, float),
        available=np.asarray(may_ask, bool),
    )
    problem = build_problem(
        candidates, target_kw=target_kw, eps=eps, duration_h=duration_h,
        incentive_usd_per_kwh=incentive_usd_per_kwh, feeder_target_kw=feeder_target_kw,
        systematic_share=record.systematic_share, common_load_kw=common_load_kw,
        common_sd_share=ratio_sd,
        ask_cost_usd=np.where(np.asarray(notified, bool), 0.0, ask_cost_usd),
    )  # fmt: skip
    standing = np.asarray(standing)
    rows = np.flatnonzero(standing)
    if rows.size:
        allowed, cost = problem.allowed.copy(), problem.cost.copy()
        allowed[rows] = False
        allowed[rows, standing[rows] - 1] = True
        cost[rows, standing[rows] - 1] = 0.0
        problem = replace(problem, allowed=allowed, cost=cost)
    return problem


def select(
    problem: Problem,
    ids: np.ndarray,
    seed,
    *,
    ratio_sd: float,
    measured_on: float,
    excluded: np.ndarray,
    solve=solve_fast,
) -> Selection:
    """Who is asked how deep: the problem solved with a comparison group held out at random
    (portfolio.with_comparison_group), drawn in an order fixed by the buildings' `ids` and
    `seed` (the same for every plan of a utility's day); excluded: (n,) bool, never in the
    group (asks that stand, buildings asked in another event of the day)."""
    solved, group, held = with_comparison_group(
        problem, comparison_order(np.asarray(ids), seed=seed), solve, ratio_sd=ratio_sd,
        measured_on=measured_on, excluded=excluded,
    )  # fmt: skip
    return Selection(solved.level, solved, group, held, own_sd_kw(held, solved.level))


def baseline_sd_kw(
    p10: np.ndarray, p90: np.ndarray, start: int, end: int, curtailable_kw: np.ndarray
) -> np.ndarray:
    """How far each building's counterfactual over the window is likely off (kW, one sd): its
    forecast's P10-P90 over the window read as a normal's (an hour's spread, taken for the
    window's: a forecast's errors run on from hour to hour); DEFAULT_SD_SHARE of its
    curtailable kW where the forecast has no interval there (NaN)."""
    spread = np.asarray(p90, float)[:, start:end] - np.asarray(p10, float)[:, start:end]
    known = np.isfinite(spread).all(axis=1)
    mean = np.where(known[:, None], spread, 0.0).mean(axis=1)
    return np.where(known, mean / (2 * Z90), DEFAULT_SD_SHARE * np.asarray(curtailable_kw, float))
