"""An event's plan revisited on its day with the morning's readings."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from forecasting.models import MeterDay
from forecasting.services.readings import meter_days_upsert
from jobs.models import JobRun
from jobs.reconciler import job_reconcile
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from optimization import history, mv
from optimization.models import DemandResponseEvent, EventStatus, OptimizationRun
from optimization.policy import calls
from optimization.policy.calls import Z90
from optimization.services.events import (
    EventError,
    day_ahead_error,
    event_cancel,
    event_propose,
)
from optimization.services.planning import event_optimize
from optimization.services.revisit import (
    day_of_call,
    days_due_for_a_call,
    event_revisit,
    events_due_for_revisit,
)
from tests.optimization.conftest import (
    EVENT_DAY,
    daily_profile,
    event_window,
    forecast_for_event_day,
    morning_of_the_event,
    need_on_the_day,
    past_days_off,
)

pytestmark = pytest.mark.django_db


def planned_event(grid, target_kw: float):
    starts, ends = event_window()  # 15:00-18:00
    event = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=target_kw,
        simulated=True,
    )  # fmt: skip
    event_optimize(event=event)
    event.refresh_from_db()
    return event


def note_starting(event, prefix: str) -> str:
    """The one note in the event's history that starts with `prefix`, case and all. Not
    `note__startswith`: on SQLite that is a LIKE, which ignores case, so "Target" would also
    match event_optimize's "target not reachable ..." note where the plan falls short."""
    notes = [t.note for t in event.transitions.all() if t.note.startswith(prefix)]
    assert len(notes) == 1, notes
    return notes[0]


def test_a_forecast_that_ran_high_lowers_the_target_and_withdraws_asks(grid):
    # given: a plan for 20 kW on a forecast that turns out 8 % high; the day needs 4 kW
    need_on_the_day(grid, 4.0)
    event = planned_event(grid, target_kw=20.0)
    pending = event.recommendations.filter(status="pending").count()
    morning_of_the_event(grid, forecast_high_by=0.08)
    # when
    result = event_revisit(event=event)
    # then: the morning showed the error, the target follows the corrected forecast
    event.refresh_from_db()
    assert result["forecast_ratio"] == pytest.approx(1 / 1.08)
    assert event.target_kw == pytest.approx(4.0, abs=0.01)
    assert result["target_before_kw"] == 20.0
    # and the plan was made again for it: fewer asks, the rest withdrawn
    assert result["withdrawn"] > 0
    assert event.recommendations.filter(status="pending").count() < pending
    assert event.recommendations.filter(status="withdrawn").count() == result["withdrawn"]
    assert OptimizationRun.objects.filter(event=event).count() == 2
    # kept in the event's history
    note = note_starting(event, "Target ")
    assert "20.0 -> 4.0 kW" in note
    assert "+8.0% off" in note


def test_a_forecast_that_ran_low_raises_the_target_and_asks_more(grid):
    need_on_the_day(grid, 30.0)
    event = planned_event(grid, target_kw=10.0)
    asked = sum(r.requested_kw for r in event.recommendations.filter(status="pending"))
    morning_of_the_event(grid, forecast_high_by=-0.08)
    result = event_revisit(event=event)
    event.refresh_from_db()
    assert event.target_kw == pytest.approx(30.0, abs=0.01)
    assert result["withdrawn"] == 0
    now_asked = sum(r.requested_kw for r in event.recommendations.filter(status="pending"))
    assert now_asked > asked


def test_asks_made_the_day_before_keep_their_notice_and_new_ones_get_what_is_left(grid):
    # given: a plan for 10 kW made at 22:00 the day before the 15:00-18:00 window (17 h of
    # notice), on a forecast that turns out 8 % low; the day needs 30 kW
    need_on_the_day(grid, 30.0)
    starts, ends = event_window()
    event = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=10.0, simulated=True
    )
    event_optimize(event=event, now=at(22, 0) - timedelta(days=1))
    notice = dict(event.recommendations.values_list("building_id", "features"))
    assert {one["notice_h"] for one in notice.values()} == {17.0}
    morning_of_the_event(grid, forecast_high_by=-0.08)
    # when: revisited at 10:05
    event_revisit(event=event, now=at(10))
    # then: more buildings are asked; those asked before keep the notice of their first ask,
    # the others are asked with the hours left before the window
    asked = dict(
        event.recommendations.filter(status="pending").values_list("building_id", "features")
    )
    assert set(asked) > set(notice)
    for building_id, features in asked.items():
        expected = 17.0 if building_id in notice else (starts - at(10)).total_seconds() / 3600
        assert features["notice_h"] == pytest.approx(expected)


def test_the_revisit_target_covers_the_forecast_error_still_to_come(grid):
    # given: the last ten days' forecasts were right in the morning (to 14:00, which the
    # revisit reads) and 4 % off, either way, after it; the event day needs 20 kW and its
    # forecast runs right
    profiles = past_days_off(grid, by=0.04, from_hour=14)
    need_on_the_day(grid, 20.0)
    event = planned_event(grid, target_kw=20.0)
    morning_of_the_event(grid, forecast_high_by=0.0)
    # when
    event_revisit(event=event)
    # then: the target brings the corrected forecast's P90 under HIGH, not its P50
    event.refresh_from_db()
    total = profiles.sum(axis=0)[15:18].max()
    assert event.target_kw == pytest.approx(20.0 + total * Z90 * 0.04, abs=0.01)
    note = note_starting(event, "Target ")
    assert "4.0% of load may still be to come" in note


def test_high_hours_next_to_the_window_get_events_of_their_own(grid):
    # given: a day 100 kW above HIGH at its peak (16:00), which puts the hours either side of
    # the 15:00-18:00 window above it too; the forecast runs right
    need_on_the_day(grid, 100.0)
    event = planned_event(grid, target_kw=100.0)
    morning_of_the_event(grid, forecast_high_by=0.0)
    # and a CRITICAL threshold those hours reach (1 kW under their excess over HIGH)
    total = sum(daily_profile(b.curtailable_kw) for b in grid["buildings"])
    high = total[16] - 100.0
    utility = grid["utility"]
    excess = {hour: total[hour] - high for hour in (14, 18)}
    critical_kw = min(excess.values()) - 1.0
    utility.critical_strain_pct = (
        utility.high_strain_pct + 100.0 * critical_kw / utility.capacity_kw
    )
    utility.save(update_fields=["critical_strain_pct"])
    # when: the revisit job runs
    job = JobRun.objects.create(kind="optimization.revisit", params={"event_id": event.pk})
    done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.revisit"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    result = done.result
    # then: 14:00-15:00 and 18:00-19:00 are proposed as events, for their own excess
    assert total[13] < high < total[14]
    others = DemandResponseEvent.objects.filter(pk__in=result["proposed"]).order_by("starts_at")
    assert [(e.starts_at.hour, e.ends_at.hour) for e in others] == [(14, 15), (18, 19)]
    for other, hour in zip(others, (14, 18), strict=True):
        assert other.status == EventStatus.PROPOSED
        assert other.target_kw == pytest.approx(total[hour] - high, abs=0.01)
        assert other.source == DemandResponseEvent.Source.GRID_STATUS
        assert other.strain == DemandResponseEvent.Strain.CRITICAL
    notes = list(event.transitions.filter(note__contains="outside the window"))
    assert len(notes) == 2
    assert f"event #{others[0].pk} proposed" in notes[0].note
    # each queued for planning, as the grid's proposals are
    planning = JobRun.objects.filter(kind="optimization.optimize").order_by("pk")
    assert [j.pk for j in planning] == result["planning_job_ids"]
    assert [j.params["event_id"] for j in planning] == result["proposed"]
    # a second revisit finds them called: nothing more is proposed, nothing more written
    again = event_revisit(event=event)
    assert again["proposed"] == []
    assert event.transitions.filter(note__contains="outside the window").count() == 2


def test_an_event_no_longer_needed_is_cancelled(grid):
    need_on_the_day(grid, -5.0)  # the day stays 5 kW under the HIGH threshold
    event = planned_event(grid, target_kw=10.0)
    morning_of_the_event(grid, forecast_high_by=0.08)
    result = event_revisit(event=event)
    event.refresh_from_db()
    assert result["cancelled"] is True
    assert event.status == EventStatus.CANCELLED
    assert event.transitions.last().note.startswith("Not needed after all")


def test_a_revisit_needs_a_planned_event_a_forecast_and_the_mornings_readings(grid):
    starts, ends = event_window()
    proposed = event_propose(
        utility=grid["utility"], starts_at=starts, ends_at=ends, target_kw=10.0, simulated=True
    )
    with pytest.raises(EventError, match="only a planned or dispatched event"):
        event_revisit(event=proposed)
    event_optimize(event=proposed)
    proposed.refresh_from_db()
    with pytest.raises(EventError, match="No complete forecast"):
        event_revisit(event=proposed)
    forecast_for_event_day(grid, high_by=0.05)
    with pytest.raises(EventError, match="No readings yet for 2026-07-15, 08:00-14:00"):
        event_revisit(event=proposed)
    # nothing was changed by the refusals
    proposed.refresh_from_db()
    assert proposed.target_kw == 10.0
    assert proposed.status == EventStatus.OPTIMIZED


def at(hour: int, minute: int = 5) -> datetime:
    return datetime(EVENT_DAY.year, EVENT_DAY.month, EVENT_DAY.day, hour, minute, tzinfo=UTC)


def test_the_days_planned_events_are_due_from_the_revisit_hour_once(grid, settings):
    settings.EVENT_REVISIT_HOUR = 10
    event = planned_event(grid, target_kw=10.0)  # 15:00-18:00 UTC, the utility's own time
    starts, ends = event_window()
    proposed_only = event_propose(
        utility=grid["utility"], starts_at=starts + timedelta(days=1),
        ends_at=ends + timedelta(days=1), target_kw=10.0, simulated=True,
    )  # fmt: skip
    assert events_due_for_revisit(now=at(9)) == []  # before the revisit hour
    assert events_due_for_revisit(now=at(10)) == [event]  # not the proposed one, not tomorrow's
    assert events_due_for_revisit(now=at(15, 30)) == []  # it has started
    # once revisited, it is not due again
    need_on_the_day(grid, 4.0)
    morning_of_the_event(grid, forecast_high_by=0.08)
    event_revisit(event=event, now=at(10))
    assert events_due_for_revisit(now=at(11)) == []
    assert proposed_only.status == EventStatus.PROPOSED


def test_the_hourly_job_queues_a_revisit_for_each_event_due(grid):
    event = planned_event(grid, target_kw=10.0)
    job = JobRun.objects.create(kind="optimization.revisit_due", params={"now": at(11).isoformat()})
    done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.revisit_due"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    queued = JobRun.objects.get(kind="optimization.revisit")
    assert done.result == {"queued": [queued.pk], "day_of_calls": []}
    assert queued.params == {"event_id": event.pk}


def test_a_revisit_on_the_day_reads_only_the_hours_already_read(grid):
    need_on_the_day(grid, 4.0)
    event = planned_event(grid, target_kw=20.0)
    forecast_for_event_day(grid, high_by=0.08)
    # the day before: too early
    with pytest.raises(EventError, match="revisit it on its day"):
        event_revisit(event=event, now=at(10) - timedelta(days=1))
    # at 10:05, the hours 04:00-10:00, and none of them read yet
    with pytest.raises(EventError, match="No readings yet for 2026-07-15, 04:00-10:00"):
        event_revisit(event=event, now=at(10))
    # once they are
    morning_of_the_event(grid, forecast_high_by=0.08)
    result = event_revisit(event=event, now=at(10))
    assert result["forecast_ratio"] == pytest.approx(1 / 1.08)
    event.refresh_from_db()
    assert event.revisited_at == at(10)


def test_a_day_the_forecast_missed_gets_an_event_called_on_the_day(grid):
    # given: a day 10 kW above HIGH at its peak, whose day-ahead forecast ran 8 % low
    # everywhere, so that it called no event
    need_on_the_day(grid, 10.0)
    morning_of_the_event(grid, forecast_high_by=-0.08)
    utility = grid["utility"]
    total = sum(daily_profile(b.curtailable_kw) for b in grid["buildings"])
    high = utility.capacity_kw * utility.high_strain_pct / 100.0
    assert (0.92 * total).max() < high < total.max()
    # when: the morning's readings are in at 10:05
    result = day_of_call(utility=utility, now=at(10))
    # then: the hours left that reach HIGH are called, around the peak, for their excess
    event = DemandResponseEvent.objects.get(pk=result["event_id"])
    assert result["forecast_ratio"] == pytest.approx(1 / 0.92)
    above = np.flatnonzero(total >= high)
    window = (event.starts_at.hour, event.ends_at.hour)
    assert window[0] >= 11
    assert window[0] <= int(total.argmax()) < window[1]
    assert set(range(*window)) <= set(above)
    assert event.target_kw == pytest.approx(total.max() - high, abs=0.01)
    assert event.status == EventStatus.PROPOSED
    assert event.source == DemandResponseEvent.Source.GRID_STATUS
    assert event.strain == DemandResponseEvent.Strain.HIGH
    # its target already reads the morning: it is not revisited, and its history says why
    assert event.revisited_at == at(10)
    note = note_starting(event, "Called on the day")
    assert "-8.0% off" in note
    # a second look finds the day called
    again = day_of_call(utility=utility, now=at(11))
    assert again["event_id"] is None
    assert "has had an event" in again["reason"]
    assert DemandResponseEvent.objects.count() == 1


def test_a_morning_that_reads_as_forecast_calls_nothing(grid):
    need_on_the_day(grid, -5.0)  # the day stays 5 kW under HIGH, as forecast
    morning_of_the_event(grid, forecast_high_by=0.0)
    result = day_of_call(utility=grid["utility"], now=at(10))
    assert result["event_id"] is None
    assert result["forecast_ratio"] == pytest.approx(1.0)
    assert "no hour left today reaches HIGH" in result["reason"]
    assert not DemandResponseEvent.objects.exists()
    # and a day without a forecast has none to correct
    with pytest.raises(EventError, match="No complete forecast of 2026-07-14"):
        day_of_call(utility=grid["utility"], now=at(10) - timedelta(days=1))


def test_the_hourly_job_checks_each_day_without_an_event_once(grid, settings):
    settings.EVENT_REVISIT_HOUR = 10
    need_on_the_day(grid, 10.0)
    morning_of_the_event(grid, forecast_high_by=-0.08)

    def hourly(hour: int) -> dict:
        job = JobRun.objects.create(
            kind="optimization.revisit_due", params={"now": at(hour).isoformat()}
        )
        done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.revisit_due"])
        assert done.status == JobRun.Status.SUCCEEDED, done.error
        return done.result

    # before the hour: nothing; from it, one call for the day
    assert hourly(9) == {"queued": [], "day_of_calls": []}
    first = hourly(10)["day_of_calls"]
    assert len(first) == 1
    assert hourly(11)["day_of_calls"] == []  # queued already
    call = JobRun.objects.get(pk=first[0])
    assert call.params["utility_id"] == grid["utility"].pk
    # when: it runs
    done = job_execute(job_id=call.pk, work=JOB_TASKS["optimization.day_of_call"])
    assert done.status == JobRun.Status.SUCCEEDED, done.error
    # then: the event is called and queued for planning
    event = DemandResponseEvent.objects.get(pk=done.result["event_id"])
    planning = JobRun.objects.get(kind="optimization.optimize")
    assert planning.pk == done.result["planning_job_id"]
    assert planning.params == {"event_id": event.pk}
    # and the day has an event now: nothing more is due
    assert hourly(12)["day_of_calls"] == []


def test_a_day_is_due_for_a_call_by_the_utilitys_own_clock_until_it_has_an_event(grid, settings):
    # given: a utility on Pacific time (UTC-7 in July) with a forecast of the day
    settings.EVENT_REVISIT_HOUR = 10
    utility = grid["utility"]
    utility.timezone = "America/Los_Angeles"
    utility.save(update_fields=["timezone"])
    forecast_for_event_day(grid, high_by=0.0)
    # then: due from 10:00 there, 17:00 UTC
    assert days_due_for_a_call(now=at(16)) == []
    assert days_due_for_a_call(now=at(17)) == [(utility, EVENT_DAY)]
    # a call made for the day does nothing once the day is over there
    late = day_of_call(utility=utility, now=at(7) + timedelta(days=1), day=EVENT_DAY)
    assert late["event_id"] is None
    assert "too late" in late["reason"]
    # and a day that has had an event, even one since cancelled, is not called again
    starts = datetime(EVENT_DAY.year, EVENT_DAY.month, EVENT_DAY.day, 22, tzinfo=UTC)  # 15:00
    event = event_propose(
        utility=utility, starts_at=starts, ends_at=starts + timedelta(hours=2), target_kw=5.0,
        simulated=True,
    )  # fmt: skip
    event_cancel(event=event, reason="called by mistake")
    assert days_due_for_a_call(now=at(17)) == []
    assert "has had an event" in day_of_call(utility=utility, now=at(17))["reason"]


def test_meters_that_report_late_are_read_on_the_hours_most_of_them_have_sent(grid):
    # given: a day 10 kW above HIGH whose forecast ran 8 % low, and at 10:05 most meters have
    # sent their readings only up to 08:00 (two of twelve are up to date)
    need_on_the_day(grid, 10.0)
    morning_of_the_event(grid, forecast_high_by=-0.08)
    buildings = grid["buildings"]
    late = np.stack([daily_profile(b.curtailable_kw) for b in buildings])
    late[2:, 8:] = np.nan
    meter_days_upsert(
        building_ids=np.array([b.pk for b in buildings]), days=[EVENT_DAY] * len(buildings),
        kwh=late, origin="uploaded",
    )  # fmt: skip
    # when: the day is checked
    result = day_of_call(utility=grid["utility"], now=at(10))
    # then: it is read on 02:00-08:00, which every meter has sent, and still called
    assert result["forecast_ratio"] == pytest.approx(1 / 0.92)
    event = DemandResponseEvent.objects.get(pk=result["event_id"])
    note = note_starting(event, "Called on the day")
    assert "the readings of 02:00-08:00 put the forecast -8.0% off" in note
    # and a morning that only a few meters have sent is refused, naming the hours it wanted
    DemandResponseEvent.objects.all().delete()
    MeterDay.objects.filter(day=EVENT_DAY, building__in=buildings[2:]).delete()
    with pytest.raises(EventError, match="No readings yet for 2026-07-15, 04:00-10:00"):
        day_of_call(utility=grid["utility"], now=at(10))


def test_a_day_of_call_whose_message_was_lost_is_sent_again_not_queued_twice(grid, settings):
    settings.EVENT_REVISIT_HOUR = 10
    forecast_for_event_day(grid, high_by=0.0)

    def hourly(hour: int) -> list[int]:
        job = JobRun.objects.create(
            kind="optimization.revisit_due", params={"now": at(hour).isoformat()}
        )
        done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.revisit_due"])
        assert done.status == JobRun.Status.SUCCEEDED, done.error
        return done.result["day_of_calls"]

    (first,) = hourly(10)
    # given: it was sent an hour and a half ago and no worker ever took it (a broker restart)
    long_ago = timezone.now() - timedelta(minutes=90)
    JobRun.objects.filter(pk=first).update(queued_at=long_ago, sent_at=long_ago, sends=1)
    # when: the hourly check comes round, then the reconciler
    assert hourly(12) == []
    done = job_reconcile()
    # then: the same call is sent again, not a second one queued beside it
    assert done["sent_again"] == 1
    lost = JobRun.objects.get(pk=first)
    assert lost.status == JobRun.Status.QUEUED
    assert lost.sends == 2
    assert "without a worker taking it" in lost.reconciled
    assert JobRun.objects.filter(kind="optimization.day_of_call").count() == 1


def test_the_error_still_to_come_is_not_read_on_buildings_curtailed_in_past_events(grid):
    # given: ten past days forecast right, and on three of them an event whose asked buildings
    # cut their afternoon by half
    profiles = past_days_off(grid, by=0.0, from_hour=12)
    buildings = grid["buildings"]
    for back in (1, 2, 3):
        starts, ends = event_window()
        event = event_propose(
            utility=grid["utility"], starts_at=starts - timedelta(days=back),
            ends_at=ends - timedelta(days=back), target_kw=5.0, simulated=True,
        )  # fmt: skip
        event_optimize(event=event)
        asked = set(event.recommendations.values_list("building_id", flat=True))
        assert asked
        read = profiles.copy()
        for row, building in enumerate(buildings):
            if building.pk in asked:
                read[row, 12:20] *= 0.5
        meter_days_upsert(
            building_ids=np.array([b.pk for b in buildings]),
            days=[EVENT_DAY - timedelta(days=back)] * len(buildings), kwh=read, origin="uploaded",
        )  # fmt: skip
    # then: the forecast's error is read on the buildings nobody asked: none, the day-ahead
    # error as the morning's revisit reads what is still to come after its correction
    assert day_ahead_error(grid["utility"], EVENT_DAY) == pytest.approx(0.0, abs=1e-6)
    days = history.PastDays(grid["utility"], EVENT_DAY).latest(calls.ERROR_DAYS)
    remaining = calls.error_sd(
        calls.day_error(day.predicted, day.actual, slice(15, 18), mv.morning_hours(14))
        for day in days
    )
    assert remaining == pytest.approx(0.0, abs=1e-6)
