"""From buildings to a portfolio problem: what each depth level asks, what it is expected to
deliver, how uncertain that is, and what it costs. Pure numpy, no Django."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from forecasting.compliance import DELIVERY_SHARE

from . import mv
from .solver import Problem


class Solved(Protocol):
    """What with_comparison_group needs of a solution (solver.Plan has it)."""

    level: np.ndarray
    feasible: bool
    p_target_met: float


DEPTH_LEVELS_PCT = (10.0, 20.0, 30.0)
# Comfort penalty in $ per kW asked, growing with the square of depth: deep cuts are felt more.
COMFORT_USD_PER_KW_AT_30PCT = 0.6
# Before any event has been verified, the plan's delivered kW is taken to be this uncertain
# (one standard deviation, as a share of its expectation); after, the events' own record.
SYSTEMATIC_SHARE_PRIOR = 0.1


@dataclass(frozen=True)
class TrackRecord:
    """How past plans' expected kW compared with what was verified: `bias` is the mean of
    verified / expected - 1, where `expected` is what the compliance model expected before any
    correction (a plan's expectations are multiplied by 1 + bias; read against corrected plans,
    the record would see only what a correction left of a bias, and undo half of it), and
    `systematic_share` the spread around it, the Problem's common error. Both shrunk towards
    no bias and SYSTEMATIC_SHARE_PRIOR with the weight of `prior_weight` events. Where each
    plan's own sd is given (`independent_sd_kw`: its buildings' compliance and baselines,
    which the Problem's variance already holds), only the spread beyond it counts as common:
    counted twice, a concentrated plan's baseline error would widen every later margin."""

    bias: float = 0.0
    systematic_share: float = SYSTEMATIC_SHARE_PRIOR
    events: int = 0


def track_record(
    expected_kw, verified_kw, independent_sd_kw=None, *, prior_weight: float = 2.0
) -> TrackRecord:
    expected, verified = np.asarray(expected_kw, float), np.asarray(verified_kw, float)
    ok = expected > 0
    errors = verified[ok] / expected[ok] - 1.0
    bias = float(errors.sum() / (prior_weight + errors.size))
    excess = float(np.sum((errors - bias) ** 2))
    if independent_sd_kw is not None:
        excess -= float(np.sum((np.asarray(independent_sd_kw, float)[ok] / expected[ok]) ** 2))
    spread = prior_weight * SYSTEMATIC_SHARE_PRIOR**2 + max(excess, 0.0)
    return TrackRecord(bias, float(np.sqrt(spread / (prior_weight + errors.size))), errors.size)


def comfort_penalty_usd(
    asked_kw,
    depth_pct,
    duration_h: float,
    *,
    usd_per_kw_at_30pct: float = COMFORT_USD_PER_KW_AT_30PCT,
):
    """What asks cost in comfort, in $: per kW asked and hour, growing with the square of the
    depth (elementwise over asked_kw and depth_pct)."""
    return (
        usd_per_kw_at_30pct
        * np.asarray(asked_kw)
        * (np.asarray(depth_pct) / 30.0) ** 2
        * duration_h
    )


def expected_kw(
    curtailable_kw: np.ndarray,
    compliance: np.ndarray,
    level: np.ndarray,
    *,
    delivery_share: float = DELIVERY_SHARE,
    depth_levels_pct: tuple[float, ...] = DEPTH_LEVELS_PCT,
) -> float:
    """The kW a plan expects: each ask (level, 0 = none) times its P(complies) on the plan's
    scale (compliance, (n, k)) and the share of it a complying building delivers."""
    rows = np.flatnonzero(level)
    picked = np.asarray(level)[rows] - 1
    asked = np.asarray(curtailable_kw, float)[rows] * np.asarray(depth_levels_pct)[picked] / 100
    return float((np.asarray(compliance)[rows, picked] * delivery_share * asked).sum())


@dataclass(frozen=True)
class Candidates:
    """n buildings that may be asked; all arrays (n,) unless said."""

    curtailable_kw: np.ndarray
    compliance: np.ndarray  # (n, k) probability of delivering at each depth level
    forecast_sd_kw: np.ndarray  # uncertainty of the building's baseline over the window
    feeder: np.ndarray  # (n,) int
    max_depth_pct: np.ndarray  # the comfort limit, as the deepest level allowed
    available: np.ndarray  # bool: within events per month, enrolled
    delivery_share: float = DELIVERY_SHARE


def build_problem(
    candidates: Candidates,
    *,
    target_kw: float,
    eps: float,
    duration_h: float,
    incentive_usd_per_kwh: float,
    feeder_target_kw: np.ndarray,
    depth_levels_pct: tuple[float, ...] = DEPTH_LEVELS_PCT,
    systematic_share: float = 0.0,
    ask_cost_usd=0.0,
    comfort_usd_per_kw_at_30pct: float = COMFORT_USD_PER_KW_AT_30PCT,
    common_load_kw: np.ndarray | None = None,
    common_sd_share: float = 0.0,
) -> Problem:
    """Mean, variance and cost of each building at each level.

    A building asked r kW delivers about delivery_share x r with probability p, and nothing
    otherwise: mean = p s r, variance = r^2 (p s^2 (1 - p) + p (0.15 s)^2) plus the baseline's
    forecast variance (the counterfactual is uncertain whoever complies). Cost: the incentive on
    the expected kWh delivered, plus the comfort penalty.
    """
    depths = np.asarray(depth_levels_pct) / 100.0
    asked = candidates.curtailable_kw[:, None] * depths[None, :]
    p = np.clip(candidates.compliance, 0.0, 1.0)
    share = candidates.delivery_share
    mean = p * share * asked
    variance = asked**2 * (p * share**2 * (1 - p) + p * (0.15 * share) ** 2)
    variance = variance + (candidates.forecast_sd_kw**2)[:, None] * (depths[None, :] > 0)
    # Paid on the kWh delivered; an ask also costs ask_cost_usd ($ per building asked, (n,)
    # or one for all) whatever its depth (policy.plan.ASK_COST_USD).
    incentive = incentive_usd_per_kwh * mean * duration_h
    incentive = (
        incentive + np.broadcast_to(np.asarray(ask_cost_usd, float), asked.shape[:1])[:, None]
    )
    comfort = comfort_penalty_usd(
        asked, depths[None, :] * 100, duration_h, usd_per_kw_at_30pct=comfort_usd_per_kw_at_30pct
    )
    allowed = (
        depths[None, :] * 100 <= candidates.max_depth_pct[:, None] + 1e-9
    ) & candidates.available[:, None]
    return Problem(
        mean_kw=mean,
        var_kw2=variance,
        cost=incentive + comfort,
        allowed=allowed & (asked > 0),
        feeder=candidates.feeder.astype(np.int64),
        feeder_target_kw=np.asarray(feeder_target_kw, dtype=float),
        target_kw=float(target_kw),
        eps=float(eps),
        systematic_share=float(systematic_share),
        common_load_kw=None if common_load_kw is None else np.asarray(common_load_kw, float),
        common_sd_share=float(common_sd_share),
    )


# Verification reads the day's shared forecast error from buildings not asked in the window
# (mv.forecast_correction). Where a plan leaves fewer than COMPARISON_MIN_BUILDINGS out, it falls
# back to the hours before the event, which miss the afternoon's own error, and on the days
# events are called (the forecast ran high) that reading is biased: in the season benchmark a
# third of the events were verified 7-8 % (+-10 %) above what was delivered. So a plan holds out
# a comparison group drawn at random, of the first of these sizes with which it can still meet
# its target (a smaller group reads the day less well, but without bias), where the portfolio
# has at least twice the largest.
COMPARISON_GROUP_SIZES = (
    mv.COMPARISON_MIN_BUILDINGS,
    mv.COMPARISON_MIN_BUILDINGS // 2,
    mv.COMPARISON_MIN_BUILDINGS // 4,
)


def comparison_order(ids: np.ndarray, seed) -> np.ndarray:
    """A random order of the buildings `ids` (positions into it), fixed by `seed` (an int or a
    sequence of them) and by the ids themselves, so that a plan made again without some of
    them holds out the same ones: each id's key is a splitmix64 hash of it and the seed."""
    mixed = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
    with np.errstate(over="ignore"):
        x = np.asarray(ids, dtype=np.int64).astype(np.uint64) + mixed
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return np.argsort(x, kind="stable")


def with_comparison_group(
    problem: Problem,
    order: np.ndarray,
    solve: Callable[[Problem], Solved],
    *,
    ratio_sd: float,
    measured_on: float,
    excluded: np.ndarray | None = None,
) -> tuple[Solved, np.ndarray, Problem]:
    """(solution, group, problem as solved) with a comparison group held out: the first `size`
    (see COMPARISON_GROUP_SIZES) of `order` that are not `excluded` ((n,) bool: asks that
    stand, and buildings asked in another event of the day, no comparison). A plan made again
    draws the same group, its earlier asks being beyond it in `order`.
    ratio_sd: the comparison ratio's error (a share of load) measured on groups of
    `measured_on` buildings; a group of g reads it with ratio_sd * sqrt(measured_on / g) at
    most (verification reads every building not asked, the group and any others).
    Where no size meets the target, the likeliest plan; under twice the largest size, no
    group (verification falls back on the hours before the event)."""
    n = problem.allowed.shape[0]
    if n < 2 * COMPARISON_GROUP_SIZES[0]:
        return solve(problem), np.zeros(n, dtype=bool), problem
    free = order if excluded is None else order[~np.asarray(excluded, bool)[order]]
    best = None
    for size in COMPARISON_GROUP_SIZES:
        group = np.zeros(n, dtype=bool)
        group[free[:size]] = True
        held = replace(
            problem,
            allowed=problem.allowed & ~group[:, None],
            common_sd_share=ratio_sd * float(np.sqrt(measured_on / max(int(group.sum()), 1))),
        )
        solved = solve(held)
        if solved.feasible:
            return solved, group, held
        if best is None or solved.p_target_met > best[0].p_target_met:
            best = (solved, group, held)
    return best


def synthetic_candidates(n: int, *, feeders: int, seed: int) -> Candidates:
    """A synthetic portfolio for tests and benchmarks (labelled synthetic wherever shown)."""
    rng = np.random.default_rng(seed)
    curtailable = np.exp(rng.normal(np.log(8.0), 1.0, size=n))
    base = rng.beta(6, 3, size=n)
    compliance = np.clip(base[:, None] - np.array([0.0, 0.08, 0.18])[None, :], 0.02, 0.98)
    return Candidates(
        curtailable_kw=curtailable,
        compliance=compliance,
        forecast_sd_kw=0.05 * curtailable * rng.uniform(0.5, 1.5, size=n),
        feeder=rng.integers(0, feeders, size=n),
        max_depth_pct=rng.choice([20.0, 30.0], size=n, p=[0.3, 0.7]),
        available=rng.random(n) > 0.05,
    )
