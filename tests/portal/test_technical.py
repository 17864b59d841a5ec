"""The technical report of the data science, engineering, security and operations roles:
request latency, throughput and error rate from the recorded timings (and the middleware that
records them), job durations, model metrics, and the live health of database, broker and
workers, which /healthz shares."""

from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import JobRun
from jobs.selectors import WORKERS_STALLED_AFTER, health_checks, worker_activity
from stakeholders.models import Role
from stakeholders.portal.models import RequestTiming, StakeholderReport
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
TECHNICAL_ROLES = [Role.DATA_SCIENCE, Role.ENGINEERING, Role.SECURITY, Role.OPERATIONS]


@pytest.fixture
def timings():
    """Forty requests in the last hour (four answered 500) and sixty earlier in the day."""
    now = timezone.now()
    hour = [5.0 * (i + 1) for i in range(40)]
    earlier = [100.0 + i for i in range(60)]
    rows = [
        RequestTiming(route="portal/operator/", method="GET", status=500 if i < 4 else 200,
                      duration_ms=d, at=now - timedelta(minutes=50) + timedelta(seconds=i))
        for i, d in enumerate(hour)
    ] + [
        RequestTiming(route="api/v1/readings/", method="POST", status=201, duration_ms=d,
                      at=now - timedelta(hours=5))
        for d in earlier
    ] + [
        RequestTiming(route="portal/operator/", method="GET", status=200, duration_ms=9999.0,
                      at=now - timedelta(days=2))
    ]  # fmt: skip
    RequestTiming.objects.bulk_create(rows)
    return {"hour": hour, "day": hour + earlier}


def test_the_technical_report_gives_latency_throughput_and_errors_as_recorded(
    world, timings, signed_in
):
    client = signed_in(world.members[Role.DATA_SCIENCE])
    # when
    page = client.get("/portal/technical/")
    # then
    html = page.content.decode()
    requests = page.context["requests"]
    p50, p95 = np.percentile(timings["hour"], [50, 95])
    hour = requests["hour"]
    assert hour["requests"] == 40
    assert hour["p50_ms"] == pytest.approx(p50)
    assert hour["p95_ms"] == pytest.approx(p95)
    assert hour["server_error_share"] == pytest.approx(0.1)
    assert hour["per_minute"] == pytest.approx(40 / 60)
    day = requests["day"]
    assert day["requests"] == 100  # the request two days ago is out of the window
    assert day["p95_ms"] == pytest.approx(np.percentile(timings["day"], 95))
    assert f"p95 {p95:,.0f} ms" in html
    assert "10.00 %" in html  # the 5xx share of the hour
    routes = {(r["route"], r["method"]): r for r in requests["routes"]}
    assert routes[("api/v1/readings/", "POST")]["n"] == 60
    assert "/api/v1/readings/" in html
    # live health, model metrics and jobs on the same page
    assert "Health, now" in html
    assert "accepts a connection" in html
    assert "Forecast accuracy over time" in html
    assert "Jobs, last 7 days" in html


@pytest.mark.parametrize("role", TECHNICAL_ROLES)
def test_every_technical_role_lands_on_the_technical_report(world, signed_in, role):
    user = UserFactory(username=f"tech-{role}")
    MembershipFactory(user=user, organization=world.utility.organization, role=role)
    page = signed_in(user).get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/technical/"
    assert page.status_code == 200


def test_the_middleware_records_each_request_by_its_route_but_not_static_or_healthz(
    world, signed_in
):
    client = signed_in(world.members[Role.DATA_SCIENCE])
    event = world.events["dispatched"]
    client.get(f"/portal/events/{event.pk}/")
    row = RequestTiming.objects.get()
    assert row.route == "portal/events/<int:event_id>/"  # the pattern, never the id
    assert row.method == "GET"
    assert row.duration_ms > 0
    client.get("/healthz")
    client.get("/static/portal/portal.css")
    client.get("/no/such/page/")
    assert list(RequestTiming.objects.values_list("route", "status").order_by("pk")) == [
        ("portal/events/<int:event_id>/", row.status),
        ("(no route)", 404),
    ]


def test_health_is_read_live_and_healthz_reads_the_same_checks(world, signed_in):
    # given the snapshot built while the workers were keeping up
    client = signed_in(world.members[Role.DATA_SCIENCE])
    client.get("/portal/technical/")
    # when a job has waited longer than a worker would let it
    job = JobRun.objects.create(kind="optimization.verify", params={})
    JobRun.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - WORKERS_STALLED_AFTER - timedelta(minutes=1)
    )
    # then the page says so at once, without a new snapshot
    panel = client.get("/portal/technical/?panel=health", **HX).content.decode()
    assert panel.lstrip().startswith('<section id="health-panel"')
    assert "stalled" in panel
    assert "<html" not in panel
    assert StakeholderReport.objects.filter(utility=world.utility, kind="day").count() == 1
    assert worker_activity()["status"] == "stalled"
    assert health_checks() == {"database": "ok", "broker": "ok"}
    assert client.get(reverse("health")).json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
    }


def test_workers_are_idle_without_jobs_and_ok_while_they_keep_up(db):
    assert worker_activity()["status"] == "idle"
    JobRun.objects.create(kind="optimization.verify", params={})
    activity = worker_activity()
    assert activity["status"] == "ok"
    assert activity["queued"] == 1
    assert activity["last_finished"] is None


def test_the_report_reads_its_snapshot_in_a_bounded_number_of_queries(
    world, timings, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.DATA_SCIENCE])
    client.get("/portal/technical/")  # builds the day's snapshot
    with django_assert_max_num_queries(17):
        assert client.get("/portal/technical/").status_code == 200


def test_another_utility_and_another_role_are_refused(world, other_world, signed_in):
    client = signed_in(other_world.members[Role.DATA_SCIENCE])
    assert client.get(f"/portal/technical/?utility={world.utility.pk}").status_code == 404
    client = signed_in(world.members[Role.GRID_OPERATOR])
    assert client.get("/portal/technical/").status_code == 403
    assert client.get("/portal/technical/?panel=health", **HX).status_code == 403


def test_a_stored_report_says_health_is_live_only_and_exports_csv(world, timings, signed_in):
    client = signed_in(world.members[Role.DATA_SCIENCE])
    client.get("/portal/technical/")
    report = StakeholderReport.objects.get(utility=world.utility, kind="day")
    stored = client.get(f"/portal/reports/{report.pk}/").content.decode()
    assert "Technical report" in stored
    assert "a stored report does not hold it" in stored
    assert 'id="health-panel"' not in stored
    csv = client.get(f"/portal/reports/{report.pk}.csv").content.decode()
    assert "p95 ms" in csv
    assert "api/v1/readings/" in csv
