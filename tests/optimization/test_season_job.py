"""The season simulator as a job: a synthetic utility, three strategies, figures kept."""

import pytest

from jobs.models import JobRun
from jobs.services import job_execute
from jobs.tasks import JOB_TASKS
from optimization import tasks  # noqa: F401 -- registers the job kinds
from optimization.models import SeasonRun
from optimization.portfolio import COMFORT_USD_PER_KW_AT_30PCT
from optimization.services.season import season_simulate

pytestmark = pytest.mark.django_db


def test_the_job_simulates_a_season_and_keeps_its_figures():
    job = JobRun.objects.create(kind="optimization.simulate_season", params={"buildings": 60})
    done = job_execute(job_id=job.pk, work=JOB_TASKS["optimization.simulate_season"])
    assert done.status == "succeeded", done.error
    run = SeasonRun.objects.get(pk=done.result["season_run_id"])
    assert run.buildings == 60
    assert run.job_id == job.pk
    assert set(run.strategies) == {"compliance", "blind", "largest"}
    assert run.figures["events"] == run.strategies["compliance"]["events"]
    assert run.figures["peak_reduction_pct"] >= 0
    assert done.result["cost"] == run.figures["cost"]


def test_a_season_needs_a_sensible_size():
    with pytest.raises(ValueError, match="between 10 and 20,000 buildings"):
        season_simulate(buildings=5)
    assert not SeasonRun.objects.exists()


def test_the_season_page_shows_the_strategies_the_peaks_and_each_event(client):
    from tests.factories import UserFactory

    run = season_simulate(buildings=80)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get(f"/admin/optimization/seasonrun/{run.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SIMULATED" in html
    assert "compliance-aware (ours)" in html
    assert "largest-first" in html
    assert "<svg" in html
    assert "system peak (simulated)" in html
    # one row per event of ours, each with its target judged
    events = run.series["events"]["compliance"]
    assert len(events) == run.strategies["compliance"]["events"]
    assert html.count(">met<") + html.count(">MISSED<") == len(events)
    assert "revisited on the day" in html
    for row in events:  # what each morning's revisit changed, as the page says it
        if row["short_notice"]:
            assert f"{row['short_notice']:,} asked at short notice" in html
        if row["withdrawn"]:
            assert f"{row['withdrawn']:,} withdrawn" in html
    assert len(run.series["daily_peak_without_kw"]) == run.days
    # the comfort penalty beside the incentive: largest-first asks everyone at the deepest
    # level (30 %), where a kW asked for an hour costs COMFORT_USD_PER_KW_AT_30PCT
    assert "comfort penalty $" in html
    largest = run.series["events"]["largest"]
    for row in largest:
        hours = row["end_hour"] - row["start_hour"]
        assert row["comfort_usd"] == pytest.approx(
            COMFORT_USD_PER_KW_AT_30PCT * row["requested_kw"] * hours, abs=0.2
        )
    assert run.strategies["largest"]["comfort_usd"] == pytest.approx(
        sum(row["comfort_usd"] for row in largest), abs=0.1 * len(largest) + 0.01
    )
