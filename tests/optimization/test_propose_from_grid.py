"""Grid status proposes events: the window around the forecast peak, the kW above HIGH."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from forecasting.models import ForecastRun, GridStatusHour
from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from optimization import tasks  # noqa: F401 -- registers the job kinds
from optimization.models import DemandResponseEvent
from optimization.policy.calls import Z90
from optimization.services.events import event_propose_from_grid
from optimization.windows import MAX_WINDOW_H
from tests.optimization.conftest import past_days_off

pytestmark = pytest.mark.django_db
DAY = date(2026, 7, 15)


def grid_run(utility, levels: dict[int, tuple[str, float]]) -> ForecastRun:
    """A run whose utility hours are NORMAL except `levels`: hour -> (level, kW above HIGH)."""
    run = ForecastRun.objects.create(
        utility=utility, day=DAY, chunks_total=1, chunks_done=1, status="complete"
    )
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=ZoneInfo("UTC"))
    for hour in range(24):
        level, above = levels.get(hour, ("NORMAL", -20.0))  # NORMAL: 20 kW under HIGH
        GridStatusHour.objects.create(
            run=run, starts_at=start + timedelta(hours=hour), forecast_kw=400 + above, p90_kw=450 + above,
            capacity_kw=500, strain_pct=80 + above / 5, level=level, kw_above_high=max(above, 0.0),
            kw_above_critical=max(above - 35, 0.0),
        )  # fmt: skip
    return run


def test_strain_proposes_an_event_over_the_strained_hours(grid):
    run = grid_run(
        grid["utility"],
        {15: ("HIGH", 12.0), 16: ("CRITICAL", 40.0), 17: ("HIGH", 25.0), 20: ("HIGH", 5.0)},
    )
    event = event_propose_from_grid(run=run)
    assert event.source == DemandResponseEvent.Source.GRID_STATUS
    assert event.strain == DemandResponseEvent.Strain.CRITICAL
    assert (event.starts_at.hour, event.ends_at.hour) == (15, 18)
    assert event.target_kw == pytest.approx(40.0)
    assert event.simulated  # the day lies in the past of the test run
    # a second look at the same run finds the event there already
    assert event_propose_from_grid(run=run) is None


def test_the_target_covers_the_error_the_utilitys_last_days_show(grid):
    # given: the last ten days' forecasts were 4 % off, either way, from noon on
    past_days_off(grid, by=0.04, from_hour=12)
    # when: a run finds 16:00 40 kW above HIGH, 15:00 and 17:00 10 kW under it
    run = grid_run(
        grid["utility"], {15: ("NORMAL", -10.0), 16: ("HIGH", 40.0), 17: ("NORMAL", -10.0)}
    )
    event = event_propose_from_grid(run=run)
    # then: the target brings the P90 of that error under HIGH: 4 % x 1.2816 of 440 kW more
    assert event.target_kw == pytest.approx(40.0 + 440.0 * Z90 * 0.04, abs=0.01)
    # and the hours either side, whose P90 (390 kW x 1.0513) reaches HIGH, are in the window
    assert (event.starts_at.hour, event.ends_at.hour) == (15, 18)
    assert "4.0% of load" in event.transitions.get(note__startswith="Target on").note


def test_a_day_whose_p50_stays_normal_is_called_where_its_p90_reaches_high(grid):
    # given: the last ten days' forecasts were 4 % off, either way, from noon on
    past_days_off(grid, by=0.04, from_hour=12)
    # when: a run whose every hour is NORMAL, 16:00 10 kW under HIGH (390 kW, P90 410 kW)
    run = grid_run(grid["utility"], {16: ("NORMAL", -10.0)})
    assert not GridStatusHour.objects.filter(run=run).exclude(level="NORMAL").exists()
    event = event_propose_from_grid(run=run)
    # then: the hour whose P90 reaches HIGH is called, for the kW that brings it under
    assert (event.starts_at.hour, event.ends_at.hour) == (16, 17)
    assert event.target_kw == pytest.approx(390.0 * (1 + Z90 * 0.04) - 400.0, abs=0.01)
    assert event.strain == DemandResponseEvent.Strain.HIGH
    # and without such a record of error, the P50 alone calls nothing
    DemandResponseEvent.objects.all().delete()
    ForecastRun.objects.exclude(pk=run.pk).delete()
    assert event_propose_from_grid(run=run) is None


def test_a_long_strained_spell_is_capped_around_the_peak(grid):
    run = grid_run(grid["utility"], {h: ("HIGH", 10.0 + (h == 14) * 20) for h in range(10, 20)})
    event = event_propose_from_grid(run=run)
    assert event.duration_h == MAX_WINDOW_H == 6  # as the season simulator's events
    assert event.starts_at.hour <= 14 < event.ends_at.hour


def test_a_normal_day_proposes_nothing(grid):
    assert event_propose_from_grid(run=grid_run(grid["utility"], {})) is None


def test_the_job_proposes_and_queues_the_planning(grid):
    run = grid_run(grid["utility"], {16: ("HIGH", 20.0)})
    job = JobRun.objects.create(kind="optimization.propose_from_grid", params={"run_id": run.pk})
    done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.propose_from_grid"])
    assert done.status == "succeeded", done.error
    event = DemandResponseEvent.objects.get(pk=done.result["event_id"])
    assert JobRun.objects.get(pk=done.result["planning_job_id"]).params == {"event_id": event.pk}
