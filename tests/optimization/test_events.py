"""Event services: each rule, the audit history, planning, answers and verification."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.utils import timezone

from forecasting.compliance import ComplianceModel
from forecasting.models import BuildingForecast, ComplianceModelVersion, ForecastRun
from forecasting.services.compliance import compliance_predict
from forecasting.services.readings import meter_days_upsert
from optimization import history, mv
from optimization.history import asked_on, training_outcomes, utility_plans_record
from optimization.models import DemandResponseEvent, EventStatus, OptimizationRun, Recommendation
from optimization.policy import calls
from optimization.services.events import (
    EventError,
    event_activate,
    event_cancel,
    event_complete,
    event_dispatch,
    event_propose,
    event_transition,
)
from optimization.services.planning import (
    event_optimize,
    recommendation_accept,
    recommendation_decline,
)
from optimization.services.verification import event_verify
from stakeholders.models import Role
from tests.factories import (
    BuildingFactory,
    FeederFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UtilityFactory,
)
from tests.optimization.conftest import (
    EVENT_DAY,
    daily_profile,
    event_window,
    forecast_for_event_day,
)

pytestmark = pytest.mark.django_db


def propose(grid, target_kw=20.0, **kwargs):
    starts, ends = event_window()
    return event_propose(
        utility=grid["utility"],
        starts_at=starts,
        ends_at=ends,
        target_kw=target_kw,
        simulated=True,
        **kwargs,
    )


def deliver(event, share: float) -> None:
    """Meter the event day: every building asked sheds `share` of its ask in the window."""
    for rec in event.recommendations.filter(status__in=["pending", "accepted"]).select_related(
        "building"
    ):
        load = daily_profile(rec.building.curtailable_kw).copy()
        load[15:18] -= rec.requested_kw * share
        meter_days_upsert(
            building_ids=np.array([rec.building_id]),
            days=[EVENT_DAY],
            kwh=load[None],
            origin="uploaded",
        )


def run_to_completion(event):
    event_dispatch(event=event)
    event_activate(event=event)
    return event_complete(event=event)


def test_proposal_rules_give_clear_errors(grid):
    starts, ends = event_window()
    utility = grid["utility"]
    with pytest.raises(EventError, match="has no enrolled buildings"):
        event_propose(
            utility=UtilityFactory(), starts_at=starts, ends_at=ends, target_kw=10, simulated=True
        )
    with pytest.raises(EventError, match="already started or passed"):
        event_propose(utility=utility, starts_at=starts, ends_at=ends, target_kw=10)
    with pytest.raises(EventError, match="end after it starts"):
        event_propose(utility=utility, starts_at=ends, ends_at=starts, target_kw=10, simulated=True)
    with pytest.raises(EventError, match="at most 8 hours"):
        event_propose(
            utility=utility,
            starts_at=starts,
            ends_at=starts + timedelta(hours=9),
            target_kw=10,
            simulated=True,
        )
    with pytest.raises(EventError, match="above 0 kW"):
        event_propose(utility=utility, starts_at=starts, ends_at=ends, target_kw=0, simulated=True)
    first = propose(grid)
    with pytest.raises(EventError, match=f"overlaps event #{first.pk}"):
        propose(grid)
    assert DemandResponseEvent.objects.count() == 1


def test_a_future_event_is_accepted_and_audited(grid, staff_user):
    starts = timezone.now() + timedelta(days=1)
    event = event_propose(
        utility=grid["utility"],
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        target_kw=15,
        user=staff_user,
    )
    assert event.status == EventStatus.PROPOSED
    assert list(event.transitions.values_list("from_status", "to_status", "by")) == [
        ("", "proposed", staff_user.pk)
    ]


def test_transitions_follow_the_life_cycle_only(grid, staff_user):
    event = propose(grid)
    with pytest.raises(EventError, match="can become dispatched only from optimized"):
        event_transition(event=event, to=EventStatus.DISPATCHED)
    with pytest.raises(EventError, match="no recommendation to send"):
        event_dispatch(event=event)
    event_optimize(event=event)
    run_to_completion(event)
    with pytest.raises(EventError, match="Say why"):
        event_cancel(event=event, reason=" ")
    with pytest.raises(EventError, match="can become cancelled only from"):
        event_cancel(event=event, reason="storm")
    assert [t.to_status for t in event.transitions.all()] == [
        "proposed",
        "optimized",
        "dispatched",
        "active",
        "completed",
    ]


def test_a_real_event_cannot_start_early(grid):
    starts = timezone.now() + timedelta(hours=5)
    event = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=starts + timedelta(hours=2), target_kw=10
    )
    event_optimize(event=event)
    event_dispatch(event=event)
    with pytest.raises(EventError, match="starts at"):
        event_activate(event=event)


def test_optimization_meets_the_target_with_the_asked_probability(grid):
    event = propose(grid, target_kw=20.0)
    run = event_optimize(event=event)
    event.refresh_from_db()
    assert run.feasible
    assert run.p_target_met >= 1 - event.risk_eps - 1e-9
    assert event.status == EventStatus.OPTIMIZED
    assert event.p_target_met == pytest.approx(run.p_target_met)
    recs = list(event.recommendations.all())
    assert len(recs) == run.selected
    for rec in recs:
        assert rec.requested_kw == pytest.approx(rec.building.curtailable_kw * rec.depth_pct / 100)
        assert rec.depth_pct <= 10 * rec.building.max_setpoint_change_c
        assert rec.cost_saved_usd == pytest.approx(
            rec.expected_kwh * rec.building.tariff_usd_per_kwh
        )
        assert rec.carbon_saved_kg == pytest.approx(
            rec.expected_kwh * rec.building.carbon_kg_per_kwh
        )
        assert rec.incentive_usd == pytest.approx(rec.expected_kwh * event.incentive_usd_per_kwh)
        assert {a["action"] for a in rec.actions} >= {
            "pre-cool",
            "setpoint raise",
            "defer flexible loads",
        }
        assert rec.features["depth_pct"] == rec.depth_pct


def test_an_infeasible_target_gets_the_best_plan_and_says_so(grid):
    event = propose(grid, target_kw=5000.0)
    run = event_optimize(event=event)
    assert not run.feasible
    assert run.selected == len(grid["buildings"])
    assert run.p_target_met < 0.01
    assert "target not reachable" in event.transitions.last().note


def test_a_decline_replans_the_rest_and_an_acceptance_holds(grid, staff_user):
    event = propose(grid, target_kw=20.0)
    event_optimize(event=event)
    first, second = list(event.recommendations.order_by("-requested_kw")[:2])
    recommendation_accept(recommendation=first, user=staff_user)
    recommendation_decline(recommendation=second, user=staff_user, reason="closed that day")
    assert OptimizationRun.objects.filter(event=event).count() == 2
    assert OptimizationRun.objects.filter(event=event).first().excluded == [second.building_id]
    first.refresh_from_db()
    assert first.status == Recommendation.Status.ACCEPTED
    assert event.recommendations.get(pk=second.pk).decline_reason == "closed that day"
    with pytest.raises(EventError, match="already declined"):
        recommendation_decline(recommendation=second, user=staff_user)


def test_a_building_asked_back_to_back_holds_its_cut_instead_of_pre_cooling(grid, staff_user):
    # given: a 15:00-18:00 event planned (three buildings declined it), then one for
    # 18:00-19:00 that asks most buildings
    first = propose(grid, target_kw=8.0)
    event_optimize(event=first)
    for rec in list(first.recommendations.order_by("pk")[:3]):
        recommendation_decline(recommendation=rec, user=staff_user, reason="closed")
    starts, ends = event_window(start_hour=18, hours=1)
    second = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=50.0, simulated=True
    )
    # when
    event_optimize(event=second)
    # then: a building in both is told to hold its cut from 15:00 on, not to pre-cool at 18:00
    in_first = {r.building_id: r for r in first.recommendations.filter(status="pending")}
    in_second = {r.building_id: r for r in second.recommendations.filter(status="pending")}
    both = in_first.keys() & in_second.keys()
    assert both  # some asked twice
    assert in_second.keys() - both  # and some only at 18:00
    for building_id in both:
        later, earlier = in_second[building_id], in_first[building_id]
        assert later.actions[0]["action"] == "hold"
        assert "pre-cool" not in {a["action"] for a in later.actions}
        assert "follows straight on from the 15:00 one: do not pre-cool" in later.guidance
        # and the earlier ask, written before, now holds through to the later window's end
        earlier.refresh_from_db()
        assert earlier.actions[0]["action"] == "pre-cool"
        assert "hold it through the next window, to 19:00" in earlier.guidance
    for building_id in in_second.keys() - both:  # asked once: pre-cool, then return to normal
        assert in_second[building_id].actions[0]["action"] == "pre-cool"
        assert "hold it to the end" in in_second[building_id].guidance
    # when the later event is called off, the earlier asks are single ones again
    event_cancel(event=second, reason="not needed")
    for building_id in both:
        rec = in_first[building_id]
        rec.refresh_from_db()
        assert "next window" not in rec.guidance
        assert "hold it to the end" in rec.guidance


def test_the_buildings_asked_on_a_day_are_those_of_the_utilitys_local_day(grid):
    # given: a utility on Pacific time and an event at 17:00 there, 00:00 UTC the next day
    utility = grid["utility"]
    utility.timezone = "America/Los_Angeles"
    utility.save(update_fields=["timezone"])
    tz = ZoneInfo(utility.timezone)
    starts = datetime(EVENT_DAY.year, EVENT_DAY.month, EVENT_DAY.day, 17, tzinfo=tz)
    event = event_propose(
        utility=utility, starts_at=starts, ends_at=starts + timedelta(hours=1), target_kw=8.0,
        simulated=True,
    )  # fmt: skip
    event_optimize(event=event)
    asked = set(event.recommendations.values_list("building_id", flat=True))
    # then: they were asked on the event's local day, not on the next (UTC) one
    assert asked
    assert asked_on(utility, EVENT_DAY) == asked
    assert asked_on(utility, EVENT_DAY + timedelta(days=1)) == set()
    # and not at all once the event is called off
    event_cancel(event=event, reason="not needed")
    assert asked_on(utility, EVENT_DAY) == set()


def test_only_the_buildings_people_may_answer(grid):
    event = propose(grid)
    event_optimize(event=event)
    rec = event.recommendations.first()
    stranger = UserFactory()
    with pytest.raises(EventError, match="facility manager, owner or energy manager"):
        recommendation_accept(recommendation=rec, user=stranger)
    manager = MembershipFactory(organization=rec.building.owner, role=Role.FACILITY_MANAGER).user
    assert (
        recommendation_accept(recommendation=rec, user=manager).status
        == Recommendation.Status.ACCEPTED
    )


def delivered_and_verified(grid, target_kw: float):
    """An event planned, run, metered with 95 % of every ask delivered, and verified."""
    event = propose(grid, target_kw=target_kw)
    event_optimize(event=event)
    run_to_completion(event)
    deliver(event, share=0.95)
    result = event_verify(event=event)
    event.refresh_from_db()
    return event, result


def test_verification_measures_delivery_and_target(grid):
    event, result = delivered_and_verified(grid, target_kw=20.0)
    asked = event.recommendations.filter(status__in=["pending", "accepted"])
    assert result["verified"] == asked.count()
    assert event.status == EventStatus.VERIFIED
    assert event.target_met is True
    assert event.delivered_kw == pytest.approx(sum(r.delivered_kw for r in asked))
    # 3 % noise in the history: each delivery is measured within a few percent
    for rec in asked:
        assert rec.complied
        assert rec.delivered_kw == pytest.approx(0.95 * rec.requested_kw, rel=0.15)


def test_verification_keeps_the_forecast_counterfactual_corrected_by_a_comparison_group(grid):
    # given: an event on a day whose forecast runs 6 % high for everyone; the asked buildings
    # deliver 95 % of their ask, the others use their usual load
    event = propose(grid, target_kw=2.0)
    event_optimize(event=event)
    run_to_completion(event)
    forecast_for_event_day(grid, high_by=0.06)
    asked = list(event.recommendations.filter(status__in=["pending", "accepted"]))
    assert 0 < len(asked) < len(grid["buildings"])  # a comparison group is left
    others = [b for b in grid["buildings"] if b.pk not in {r.building_id for r in asked}]
    meter_days_upsert(
        building_ids=np.array([b.pk for b in others]), days=[EVENT_DAY] * len(others),
        kwh=np.stack([daily_profile(b.curtailable_kw) for b in others]), origin="uploaded",
    )  # fmt: skip
    deliver(event, share=0.95)
    # when
    result = event_verify(event=event)
    # then: the shared error came out of the forecast, not the buildings' delivery
    event.refresh_from_db()
    assert event.forecast_correction == pytest.approx(1 / 1.06, rel=1e-3)
    assert result["forecast_correction"] == pytest.approx(event.forecast_correction)
    for rec in event.recommendations.filter(status__in=["pending", "accepted"]):
        usual = daily_profile(rec.building.curtailable_kw)[15:18].mean()
        assert rec.forecast_baseline_kw == pytest.approx(usual, rel=1e-3)
        # uncorrected, the 6 % would read as 40-50 % more delivered than asked
        assert rec.delivered_vs_forecast_kw == pytest.approx(0.95 * rec.requested_kw, rel=0.01)
        # it settles: the X-of-Y baseline is kept beside it
        assert rec.settled_on == Recommendation.Settlement.FORECAST
        assert rec.delivered_kw == rec.delivered_vs_forecast_kw
        assert rec.complied
        assert rec.baseline_kw == pytest.approx(usual, rel=0.05)
        # with how far the forecast is likely off over the window: its P10-P90 (+-10 %) as an
        # sd, an hour's taken for the window's
        p50 = usual * 1.06
        assert rec.baseline_sd_kw == pytest.approx(0.2 * p50 / (2 * 1.2816), rel=0.01)
    # the compliance model is told how noisy each outcome is: +-10 % of a building's load is a
    # wide counterfactual for a 10 % ask, so a non-complier may pass and a complier be missed
    outcomes = training_outcomes(grid["utility"])
    assert (outcomes.label_q0 > 0.05).all()
    assert (outcomes.label_q0 < 0.2).all()
    # (a complier delivers about 90 % of the ask, compliance starts at 80 %: 0.14 sd apart)
    assert (outcomes.label_q1 > 0.5).all()
    assert (outcomes.label_q1 < 0.6).all()
    assert outcomes.delivered_share_sd == pytest.approx(
        [
            r.baseline_sd_kw / r.requested_kw
            for r in event.recommendations.filter(complied__isnull=False).order_by("pk")
        ]
    )


def test_without_a_forecast_the_settling_baseline_stands_alone(grid):
    event, result = delivered_and_verified(grid, target_kw=8.0)
    assert result["forecast_correction"] is None
    assert event.forecast_correction is None
    assert not event.recommendations.filter(forecast_baseline_kw__isnull=False).exists()
    assert set(event.recommendations.values_list("settled_on", flat=True)) <= {
        Recommendation.Settlement.X_OF_Y,
        "",  # not asked
    }
    assert event.target_met is True


def test_missing_readings_leave_a_building_unverified_not_guessed(grid):
    event = propose(grid)
    event_optimize(event=event)
    run_to_completion(event)
    result = event_verify(event=event)  # no readings for the event day at all
    assert result["verified"] == 0
    assert result["unverifiable"] == event.recommendations.filter(status="pending").count()
    assert not event.recommendations.filter(complied__isnull=False).exists()


def test_outcomes_train_the_compliance_model_once_there_are_enough(grid):
    for repeat in range(3):  # 12 buildings asked each time: 36 outcomes
        starts, ends = event_window()
        shift = timedelta(minutes=repeat)
        event = event_propose(
            utility=grid["utility"], starts_at=starts + shift, ends_at=ends + shift, target_kw=20.0,
            simulated=True,
        )  # fmt: skip
        event_optimize(event=event)
        run_to_completion(event)
        # offices deliver, homes do not: the model must find that out from outcomes alone
        for rec in event.recommendations.filter(status="pending").select_related("building"):
            load = daily_profile(rec.building.curtailable_kw).copy()
            if rec.building.building_type == "office":
                load[15:18] -= rec.requested_kw
            meter_days_upsert(
                building_ids=np.array([rec.building_id]),
                days=[EVENT_DAY],
                kwh=load[None],
                origin="uploaded",
            )
        result = event_verify(event=event)
    outcomes = training_outcomes(grid["utility"])
    assert len(outcomes.complied) >= 30
    model = ComplianceModelVersion.objects.get(utility=grid["utility"], active=True)
    assert result["compliance_model_version"] == model.version
    assert model.outcomes == len(outcomes.complied)
    predicted, share, version = compliance_predict(
        utility=grid["utility"], events=outcomes, default_share=0.9
    )
    office = outcomes.building_type == "office"
    assert version == model.version
    assert predicted[office].mean() > 3 * predicted[~office].mean()
    assert predicted[office].mean() > predicted[~office].mean() + 0.2
    # the response model learnt from verified kW: offices are expected to deliver more of it
    assert share[office].mean() > share[~office].mean() + 0.2


def past_plan(
    grid, days_ago: int, expected_kw: float, delivered_kw: float, own_sd_kw: float | None = None
):
    """A verified event of the utility's past: what its plan expected (and the sd it knew of
    from its buildings), what was verified."""
    starts = timezone.now() - timedelta(days=days_ago)
    return DemandResponseEvent.objects.create(
        utility=grid["utility"], starts_at=starts, ends_at=starts + timedelta(hours=3),
        target_kw=10.0, status=EventStatus.VERIFIED, expected_kw=expected_kw,
        model_expected_kw=expected_kw, delivered_kw=delivered_kw, own_sd_kw=own_sd_kw,
        simulated=True,
    )  # fmt: skip


def test_plans_that_over_promised_make_the_next_plan_ask_for_more(grid):
    # given: an event planned with no record yet
    event = propose(grid, target_kw=8.0)
    fresh = event_optimize(event=event)
    asked_before = sum(r.requested_kw for r in event.recommendations.filter(status="pending"))
    # and then a record of plans that promised 30 % more than was verified
    for days_ago in (20, 30, 40):
        past_plan(grid, days_ago, expected_kw=100.0, delivered_kw=70.0)
    record = utility_plans_record(grid["utility"])
    assert record.bias < -0.15
    assert record.events == 3
    # when: the same event is planned again
    again = event_optimize(event=event)
    # then: it expects less of each ask, so it asks for more kW to be as sure of the target
    asked_after = sum(r.requested_kw for r in event.recommendations.filter(status="pending"))
    assert fresh.feasible
    assert asked_after > asked_before * 1.2
    assert again.p_target_met >= 1 - event.risk_eps - 1e-9


def test_the_record_reads_each_plan_against_what_the_model_expected_of_it(grid):
    # given: three past plans whose model expected 100 kW, corrected by the record of the
    # time to 70, and that delivered 70: the model, not the corrected plan, was 30 % too high
    for days_ago in (20, 30, 40):
        event = past_plan(grid, days_ago, expected_kw=70.0, delivered_kw=70.0)
        DemandResponseEvent.objects.filter(pk=event.pk).update(model_expected_kw=100.0)
    # then: the record keeps the model's bias, not the little the corrected plans missed by
    assert utility_plans_record(grid["utility"]).bias == pytest.approx(-0.3 * 3 / 5)
    # and a plan made from the priors alone keeps no model expectation: it is no record of
    # what a model learnt
    event = propose(grid, target_kw=8.0)
    event_optimize(event=event)
    event.refresh_from_db()
    assert event.expected_kw > 0
    assert event.model_expected_kw is None
    # while a trained model's plan keeps what its model expected, above its corrected one
    ComplianceModelVersion.objects.create(
        utility=grid["utility"], version=1, outcomes=30,
        weights=ComplianceModel(
            np.empty(0), np.empty(0), np.empty(0), {"office": (4.0, 1.0)}
        ).to_bytes(),
    )  # fmt: skip
    plan = event_optimize(event=event)
    event.refresh_from_db()
    assert event.expected_kw == pytest.approx(plan.expected_kw)
    assert event.model_expected_kw > event.expected_kw * 1.1


def test_the_record_counts_as_common_only_the_spread_plans_did_not_know_of(grid):
    # given: eight past plans that missed by 20 % either way, each having known of an sd of
    # 20 % from its own buildings
    for days_ago, delivered in zip(range(20, 100, 10), [80.0, 120.0] * 4, strict=True):
        past_plan(grid, days_ago, expected_kw=100.0, delivered_kw=delivered, own_sd_kw=20.0)
    # then: none of it is common error: only the prior's share remains
    assert utility_plans_record(grid["utility"]).systematic_share < 0.05
    # and a plan records what it knows of, less than its whole spread
    event = propose(grid, target_kw=8.0)
    plan = event_optimize(event=event)
    event.refresh_from_db()
    assert 0 < event.own_sd_kw < (plan.expected_kw - plan.p10_kw) / 1.2815515655446004


def comparison_error(utility, before, hours: int) -> tuple[float, float]:
    """policy.calls.comparison_error over the utility's last days before `before`, as
    event_optimize reads them (history.PastDays, the random halves seeded by the utility)."""
    days = history.PastDays(utility, before).latest(calls.COMPARISON_DAYS)
    return calls.comparison_error(
        ((day.predicted, day.actual) for day in days), hours, np.random.default_rng(utility.pk)
    )


def test_verifications_common_error_is_read_from_the_utilitys_last_afternoons():
    # given: 300 buildings whose forecasts of the last week erred by 25 % an hour each (the
    # utility's id is fixed: it seeds the random halves, and a week's few days read an sd
    # loosely enough that some draws would fail the checks below)
    rng = np.random.default_rng(31)
    utility = UtilityFactory(timezone="UTC", pk=31_031)
    owner, feeder = OrganizationFactory(), FeederFactory(utility=utility)
    buildings = BuildingFactory.create_batch(300, utility=utility, owner=owner, feeder=feeder)
    ids = np.array([b.pk for b in buildings])
    scale = rng.lognormal(1.0, 0.8, size=300)
    days = [EVENT_DAY - timedelta(days=back) for back in range(1, calls.COMPARISON_DAYS + 1)]
    for day in days:
        truth = scale[:, None] * daily_profile(1.0)[None, :]
        forecast = truth * (1 + 0.25 * rng.normal(size=truth.shape))
        meter_days_upsert(
            building_ids=ids, days=[day] * 300, kwh=truth, origin="uploaded"
        )  # fmt: skip
        run = ForecastRun.objects.create(
            utility=utility, day=day, status=ForecastRun.Status.COMPLETE, chunks_total=1
        )
        BuildingForecast.objects.bulk_create(
            BuildingForecast(
                run=run,
                building_id=int(i),
                method=BuildingForecast.Method.LSTM,
                p10_kw=b"",
                p50_kw=row.astype("<f4").tobytes(),
                p90_kw=b"",
                mean_kw=b"",
                peak_p50_kw=float(row.max()),
            )  # fmt: skip
            for i, row in zip(ids, forecast, strict=True)
        )
    # when
    estimate, group = comparison_error(utility, EVENT_DAY, hours=8)
    hour, _ = comparison_error(utility, EVENT_DAY, hours=1)
    # then: about the error of the whole group's reading of a day, as repeated days show it
    truth = scale[:, None] * daily_profile(1.0)[None, 12:20]
    readings = [
        mv.comparison_ratio(truth * (1 + 0.25 * rng.normal(size=truth.shape)), truth)
        for _ in range(300)
    ]
    assert estimate > 0
    assert estimate == pytest.approx(np.std(readings), rel=0.6)
    assert group == 300  # measured on all 300 quiet buildings, for groups of that size
    # and over a one-hour window, read from an eighth of the readings, it errs more
    one_hour = [
        mv.comparison_ratio(truth[:, 3:4] * (1 + 0.25 * rng.normal(size=(300, 1))), truth[:, 3:4])
        for _ in range(300)
    ]
    assert hour == pytest.approx(np.std(one_hour), rel=0.6)
    assert hour > 1.5 * estimate
    # a utility of a dozen buildings cannot tell: no such error is assumed
    assert comparison_error(UtilityFactory(), EVENT_DAY, hours=4) == (0.0, 1.0)
