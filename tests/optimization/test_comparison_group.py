"""Every plan holds out a random comparison group for verification to read the day from."""

from datetime import timedelta

import numpy as np
import pytest

from forecasting.models import BuildingForecast, ForecastRun
from forecasting.services.readings import meter_days_upsert
from optimization import mv, portfolio
from optimization.history import forecast_and_readings
from optimization.models import Recommendation
from optimization.portfolio import (
    build_problem,
    comparison_order,
    synthetic_candidates,
    with_comparison_group,
)
from optimization.services.events import event_propose
from optimization.services.planning import event_optimize
from optimization.services.verification import event_verify
from optimization.solver import solve_fast

from .conftest import EVENT_DAY, daily_profile, event_window, forecast_for_event_day
from .test_events import deliver, propose, run_to_completion

SIZES = (40, 20, 10)


def problem_of(n: int, target_kw: float, seed: int = 1):
    candidates = synthetic_candidates(n, feeders=4, seed=seed)
    return build_problem(
        candidates, target_kw=target_kw, eps=0.05, duration_h=3.0, incentive_usd_per_kwh=0.5,
        feeder_target_kw=np.zeros(4), common_load_kw=10 * candidates.curtailable_kw,
    )  # fmt: skip


@pytest.fixture
def small_sizes(monkeypatch):
    monkeypatch.setattr(portfolio, "COMPARISON_GROUP_SIZES", SIZES)


def test_the_group_is_held_out_and_read_with_its_own_error(small_sizes):
    problem = problem_of(200, target_kw=30.0)
    order = np.random.default_rng(0).permutation(200)
    plan, group, solved = with_comparison_group(
        problem, order, solve_fast, ratio_sd=0.002, measured_on=160.0
    )
    assert plan.feasible
    assert group.sum() == SIZES[0]
    assert set(np.flatnonzero(group)) == set(order[: SIZES[0]])
    assert not (plan.level[group] > 0).any()
    # a group of 40 reads the day's error twice as badly as the 160 it was measured on
    assert solved.common_sd_share == pytest.approx(0.004)


def test_a_target_that_needs_more_buildings_gets_a_smaller_group(small_sizes):
    order = np.random.default_rng(0).permutation(200)
    reachable = [
        solve_fast(problem_of(200, target_kw=t)).feasible for t in np.arange(50.0, 2000.0, 25.0)
    ]
    assert all(reachable[:5])
    assert not all(reachable)
    # the largest target that the whole portfolio can meet, the full group held out cannot
    whole = problem_of(200, target_kw=1.0)
    allowed = whole.allowed.copy()
    allowed[order[: SIZES[0]]] = False
    for target in np.arange(50.0, 2000.0, 25.0):
        with_all = solve_fast(problem_of(200, target_kw=target)).feasible
        without_group = solve_fast(
            type(whole)(**{**problem_of(200, target_kw=target).__dict__, "allowed": allowed})
        ).feasible
        if with_all and not without_group:
            break
    else:
        pytest.fail("no target between what the group allows and what everyone does")
    plan, group, _ = with_comparison_group(
        problem_of(200, target_kw=target), order, solve_fast, ratio_sd=0.0, measured_on=1.0
    )
    assert plan.feasible
    assert group.sum() < SIZES[0]


def test_asks_that_stand_are_never_in_the_group_and_small_portfolios_have_none(small_sizes):
    problem = problem_of(200, target_kw=30.0)
    order = np.random.default_rng(0).permutation(200)
    kept = np.zeros(200, dtype=np.int64)
    kept[order[:5]] = 1
    _, group, _ = with_comparison_group(
        problem, order, solve_fast, ratio_sd=0.0, measured_on=1.0, excluded=kept > 0
    )
    assert group.sum() == SIZES[0]  # made up from the next in order
    assert not group[kept > 0].any()
    _, none, _ = with_comparison_group(
        problem_of(2 * SIZES[0] - 1, target_kw=5.0), order[order < 79], solve_fast,
        ratio_sd=0.0, measured_on=1.0,
    )  # fmt: skip
    assert not none.any()


def test_an_events_order_holds_whatever_buildings_leave():
    ids = np.arange(100, 160)
    order = comparison_order(ids, seed=7)
    assert sorted(order.tolist()) == list(range(60))
    fewer = np.delete(ids, [3, 17])
    again = fewer[comparison_order(fewer, seed=7)]
    assert again.tolist() == [i for i in ids[order].tolist() if i in set(fewer.tolist())]
    assert comparison_order(ids, seed=8).tolist() != order.tolist()


def test_the_product_holds_the_group_out_every_time_it_plans_the_event(grid, monkeypatch):
    monkeypatch.setattr(portfolio, "COMPARISON_GROUP_SIZES", (4, 2, 1))
    event = propose(grid, target_kw=5.0)
    event_optimize(event=event)
    event.refresh_from_db()
    assert event.comparison_group == 4
    ids = np.array(sorted(b.pk for b in grid["buildings"]))
    group = set(
        ids[comparison_order(ids, seed=(grid["utility"].pk, EVENT_DAY.toordinal()))[:4]].tolist()
    )
    asked = set(event.recommendations.values_list("building_id", flat=True))
    assert asked
    assert not asked & group
    assert "4 held out as the comparison group" in event.transitions.last().note
    # planned again (a revisit, a decline): the same buildings stay out
    event_optimize(event=event)
    active = set(
        event.recommendations.exclude(status=Recommendation.Status.WITHDRAWN).values_list(
            "building_id", flat=True
        )
    )
    assert active
    assert not active & group


def test_verification_reads_the_day_from_the_group_the_plan_held_out(grid, monkeypatch):
    # given: a plan that held 4 of the 12 buildings out; a forecast that ran right all morning
    # and 6 % high from noon, for everyone
    monkeypatch.setattr(portfolio, "COMPARISON_GROUP_SIZES", (4, 2, 1))
    event = propose(grid, target_kw=5.0)
    event_optimize(event=event)
    run_to_completion(event)
    run = ForecastRun.objects.create(
        utility=grid["utility"], day=EVENT_DAY, status=ForecastRun.Status.COMPLETE, chunks_total=1
    )
    drift = np.where(np.arange(24) >= 12, 1.06, 1.0)
    for building in grid["buildings"]:
        p50 = (daily_profile(building.curtailable_kw) * drift).astype("<f4")
        BuildingForecast.objects.create(
            run=run, building=building, method=BuildingForecast.Method.LSTM, p10_kw=b"",
            p50_kw=p50.tobytes(), p90_kw=b"", mean_kw=b"", peak_p50_kw=float(p50.max()),
        )  # fmt: skip
    asked = set(event.recommendations.values_list("building_id", flat=True))
    others = [b for b in grid["buildings"] if b.pk not in asked]
    meter_days_upsert(
        building_ids=np.array([b.pk for b in others]), days=[EVENT_DAY] * len(others),
        kwh=np.stack([daily_profile(b.curtailable_kw) for b in others]), origin="uploaded",
    )  # fmt: skip
    deliver(event, share=0.95)
    # when
    event_verify(event=event)
    # then: the afternoon's 6 % from the group; the morning's hours would have blended in 0 %
    event.refresh_from_db()
    assert event.forecast_correction == pytest.approx(1 / 1.06, rel=1e-3)


def test_buildings_asked_in_another_event_that_day_are_no_comparison(grid, monkeypatch):
    # given: two events on the same day, the second asking more of the 12 buildings
    first = propose(grid, target_kw=2.0)
    event_optimize(event=first)
    starts, _ = event_window(start_hour=18, hours=2)
    second = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=starts + timedelta(hours=2),
        target_kw=8.0, simulated=True,
    )  # fmt: skip
    event_optimize(event=second)
    second_only = set(second.recommendations.values_list("building_id", flat=True)) - set(
        first.recommendations.values_list("building_id", flat=True)
    )
    assert second_only
    forecast_for_event_day(grid, high_by=0.0)
    buildings = grid["buildings"]
    meter_days_upsert(
        building_ids=np.array([b.pk for b in buildings]), days=[EVENT_DAY] * len(buildings),
        kwh=np.stack([daily_profile(b.curtailable_kw) for b in buildings]), origin="uploaded",
    )  # fmt: skip
    run_to_completion(first)
    deliver(first, share=0.95)
    seen = {}

    def spy(forecast, actual, asked_mask, *args, **kwargs):
        seen["asked"] = asked_mask
        return 1.0

    monkeypatch.setattr(mv, "forecast_correction", spy)
    # when: the first is verified
    event_verify(event=first)
    # then: the second's buildings were not read as a comparison
    ids, _, _ = forecast_and_readings(grid["utility"], EVENT_DAY)
    not_read = set(ids[seen["asked"]].tolist())
    assert second_only <= not_read
    assert set(first.recommendations.values_list("building_id", flat=True)) <= not_read


def test_a_building_asked_that_day_is_not_in_a_group_the_next_is_made_up(small_sizes):
    problem = problem_of(200, target_kw=30.0)
    order = np.random.default_rng(0).permutation(200)
    busy = np.zeros(200, dtype=bool)
    busy[order[:15]] = True  # asked in another event of the day
    _, group, _ = with_comparison_group(
        problem, order, solve_fast, ratio_sd=0.0, measured_on=1.0, excluded=busy
    )
    assert group.sum() == SIZES[0]
    assert not (group & busy).any()
    assert set(np.flatnonzero(group)) == set(order[15 : 15 + SIZES[0]])
