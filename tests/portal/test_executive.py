"""The executive reads the program's measured impact (verified events only, from the day
snapshot) beside its top risks and next milestones, scoped to the executive's utility."""

from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from forecasting.models import BuildingForecast, ForecastRun, GridStatusHour
from forecasting.services.forecasts import forecast_aggregate
from optimization.selectors import verified_asks
from projects.models import Milestone, Risk
from projects.selectors import program_risks_top
from stakeholders import formatting
from stakeholders.models import Role
from stakeholders.portal.dashboards import DASHBOARDS
from stakeholders.portal.snapshots.service import report_day
from tests.factories import MilestoneFactory, ProgramFactory, RiskFactory, TaskFactory
from tests.portal.world import build_world, profile

pytestmark = pytest.mark.django_db


def forecast_yesterday(world) -> float:
    """A complete forecast run for the verified event's day; its P50 peak over that day."""
    day = world.events["verified"].starts_at.astimezone(world.utility_zone).date()
    run = ForecastRun.objects.create(
        utility=world.utility, day=day, status=ForecastRun.Status.RUNNING, chunks_total=1,
        chunks_done=1,
    )  # fmt: skip
    for b in world.buildings:
        p50 = profile(b.curtailable_kw).astype("<f4")
        BuildingForecast.objects.create(
            run=run, building=b, method=BuildingForecast.Method.LSTM, p10_kw=p50.tobytes(),
            p50_kw=p50.tobytes(), p90_kw=p50.tobytes(), mean_kw=p50.tobytes(),
            peak_p50_kw=float(p50.max()),
        )  # fmt: skip
    forecast_aggregate(run=run)
    hours = GridStatusHour.objects.filter(run=run, feeder__isnull=True)
    return max(
        h.forecast_kw for h in hours if h.starts_at.astimezone(world.utility_zone).date() == day
    )


def test_the_impact_is_the_verified_events_settled_once(
    world, signed_in, django_assert_max_num_queries
):
    peak_kw = forecast_yesterday(world)
    program = ProgramFactory(utility=world.utility)
    RiskFactory(program=program, title="Meters report late", probability=4, impact=5)
    client = signed_in(world.members[Role.EXECUTIVE])
    page = client.get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/executive/"
    with django_assert_max_num_queries(30):
        html = client.get("/portal/executive/").content.decode()
    # then: the peak cut, defined on the page: the event's verified kW against its day's peak
    event = world.events["verified"]
    assert event.delivered_kw > 0
    assert formatting.kw(event.delivered_kw) in html
    assert f"{event.delivered_kw / 1000:,.3f} MW" in html
    assert formatting.pct(100 * event.delivered_kw / peak_kw) in html
    assert formatting.kw(peak_kw) in html
    assert "largest event" in html
    assert "P50 forecast peak of the event's local day" in html
    # targets met, incentives paid, kWh, cost and carbon: the one settlement rule's sums
    settled = verified_asks(utility=world.utility, until=timezone.now()).settled()
    assert f"{int(event.target_met)} of 1 verified event" in html
    assert formatting.usd(settled.incentive_usd.sum()) in html
    assert formatting.kwh(settled.delivered_kwh.sum()) in html
    assert formatting.usd(settled.cost_saved_usd.sum()) in html
    assert formatting.kg(settled.carbon_saved_kg.sum()) in html
    # and the program's top risk
    assert "Meters report late" in html
    assert "20 / 25" in html


def test_before_any_verified_event_the_impact_is_not_measured_yet(db, signed_in):
    quiet = build_world("Gamma", with_events=False)
    html = signed_in(quiet.members[Role.EXECUTIVE]).get("/portal/executive/").content.decode()
    assert "not measured yet" in html


def test_risks_and_milestones_are_the_executives_utilitys_own(world, other_world, signed_in):
    today = timezone.localdate()
    mine = ProgramFactory(utility=world.utility, name="Alpha DR 2027")
    theirs = ProgramFactory(utility=other_world.utility, name="Beta DR 2027")
    unlinked = ProgramFactory(name="Program team's pilot")
    RiskFactory(program=mine, title="Alpha's open risk", probability=2, impact=3)
    RiskFactory(program=mine, title="Alpha's closed risk", status=Risk.Status.CLOSED)
    RiskFactory(program=theirs, title="Beta's risk", probability=5, impact=5)
    RiskFactory(program=unlinked, title="Pilot risk")
    late = MilestoneFactory(
        program=mine, name="Alpha go-live", target_date=today - timedelta(days=3)
    )
    TaskFactory(milestone=late, status="done")
    TaskFactory(milestone=late)
    MilestoneFactory(
        program=mine, name="Alpha pilot done", status=Milestone.Status.DONE, completed_on=today
    )
    MilestoneFactory(program=theirs, name="Beta go-live")
    # when
    page = signed_in(world.members[Role.EXECUTIVE]).get("/portal/executive/")
    html = unescape(page.content.decode())
    # then: only Alpha's program, open risks, milestones still ahead
    assert "Alpha's open risk" in html
    for absent in ("closed risk", "Beta", "Pilot risk", "Alpha pilot done"):
        assert absent not in html, absent
    assert "Alpha go-live" in html
    assert "late" in html
    assert "1 of 2" in html  # tasks done of the late milestone
    assert "1 of 2 milestones done" in html
    # where no program is linked, the program team's unlinked ones, saying so; never Alpha's
    other = signed_in(other_world.members[Role.EXECUTIVE])
    theirs.utility = None
    theirs.save()
    html = unescape(other.get("/portal/executive/").content.decode())
    assert "No program is linked to Beta Power yet" in html
    assert "Pilot risk" in html
    assert "Beta's risk" in html
    assert "Alpha" not in html.split("<main>")[1]
    assert [r.title for r in program_risks_top(utility=other_world.utility)] == [
        "Beta's risk", "Pilot risk",
    ]  # fmt: skip


def test_the_report_pages_find_the_executive_dashboard(world, signed_in):
    assert "executive" in DASHBOARDS
    client = signed_in(world.members[Role.EXECUTIVE])
    client.get("/portal/executive/")
    report = report_day(utility=world.utility)
    page = client.get(f"/portal/reports/{report.pk}/")
    assert page.status_code == 200
    assert "Measured business impact" in page.content.decode()
    csv = client.get(f"/portal/reports/{report.pk}.csv").content.decode()
    assert "peak cut, largest event MW" in csv


def test_another_utilitys_executive_gets_404(world, other_world, signed_in):
    stranger = signed_in(other_world.members[Role.EXECUTIVE])
    report = report_day(utility=world.utility)
    assert stranger.get(f"/portal/executive/?utility={world.utility.pk}").status_code == 404
    assert stranger.get(f"/portal/reports/{report.pk}/").status_code == 404


@pytest.mark.parametrize("role", [Role.GRID_OPERATOR, Role.BUILDING_OWNER])
def test_other_roles_are_refused(world, signed_in, role):
    assert signed_in(world.members[role]).get("/portal/executive/").status_code == 403
