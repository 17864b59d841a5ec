"""The grid operator's dashboard and event pages: figures from the snapshot, the event's life
through the same services as the admin, partials for HTMX, and no other utility's ids."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobRun
from optimization.models import DemandResponseEvent, EventStatus
from optimization.services.planning import event_optimize
from stakeholders.models import Role
from stakeholders.portal.models import StakeholderReport

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_operator_lands_on_the_grid_status_with_its_critical_hour(world, signed_in):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    # when
    page = client.get("/portal/", follow=True)
    # then
    assert page.redirect_chain[-1][0] == "/portal/operator/"
    html = page.content.decode()
    assert "Grid status" in html
    assert "1</strong> CRITICAL hour" in html
    assert "emergency protocol" in html
    # the open events, with the plan's figures as the services stored them
    dispatched = world.events["dispatched"]
    dispatched.refresh_from_db()
    assert f"#{dispatched.pk}" in html
    assert f"{dispatched.expected_kw:,.1f} kW" in html
    assert "0 / 0 / 10" in html  # accepted / declined / pending
    # the verified outcome of the past event
    past = world.events["verified"]
    past.refresh_from_db()
    assert f"{past.delivered_kw:,.1f} kW" in html
    assert "PST" in html  # the utility's zone


def test_the_dashboard_reads_a_stored_snapshot_in_a_bounded_number_of_queries(
    world, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    client.get("/portal/operator/")  # builds the day's snapshot
    assert StakeholderReport.objects.filter(utility=world.utility, kind="day").count() == 1
    with django_assert_max_num_queries(20):
        assert client.get("/portal/operator/").status_code == 200
    # nothing changed: no second snapshot
    assert StakeholderReport.objects.filter(utility=world.utility, kind="day").count() == 1


def test_the_events_panel_refreshes_alone(world, signed_in):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    panel = client.get("/portal/operator/?panel=events", **HX).content.decode()
    assert panel.lstrip().startswith('<section id="events-panel"')
    assert "<html" not in panel


def test_an_operator_proposes_an_event_in_local_time(world, signed_in):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    day = (timezone.now() + timedelta(days=2)).astimezone(world.utility_zone).date()
    response = client.post(
        "/portal/operator/propose/",
        {"day": day.isoformat(), "start_hour": 15, "end_hour": 18, "target_kw": 12.5,
         "risk_pct": 5},
    )  # fmt: skip
    event = DemandResponseEvent.objects.filter(utility=world.utility, target_kw=12.5).get()
    assert response.status_code == 302
    assert response["Location"] == f"/portal/events/{event.pk}/"
    local = event.starts_at.astimezone(world.utility_zone)
    assert (local.date(), local.hour, event.duration_h) == (day, 15, 3.0)
    assert event.created_by == world.members[Role.GRID_OPERATOR]


def test_a_bad_window_is_refused_in_words_and_nothing_is_saved(world, signed_in):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    before = DemandResponseEvent.objects.count()
    yesterday = (timezone.now() - timedelta(days=1)).date()
    page = client.post(
        "/portal/operator/propose/",
        {"day": yesterday.isoformat(), "start_hour": 15, "end_hour": 18, "target_kw": 5,
         "risk_pct": 5},
        follow=True,
    ).content.decode()  # fmt: skip
    assert "already started or passed" in page
    page = client.post(
        "/portal/operator/propose/",
        {"day": yesterday.isoformat(), "start_hour": 18, "end_hour": 15, "target_kw": 5,
         "risk_pct": 5},
        follow=True,
    ).content.decode()  # fmt: skip
    assert "must end after it starts" in page
    assert DemandResponseEvent.objects.count() == before


def test_plan_queues_a_job_whose_progress_the_page_follows(world, signed_in):
    operator = world.members[Role.GRID_OPERATOR]
    client = signed_in(operator)
    event = world.events["proposed"]
    response = client.post(f"/portal/events/{event.pk}/plan/")
    job = JobRun.objects.get(kind="optimization.optimize", params={"event_id": event.pk})
    assert response["Location"] == f"/portal/events/{event.pk}/?job={job.pk}"
    progress = client.get(f"/portal/jobs/{job.pk}/", **HX).content.decode()
    assert f"job #{job.pk}" in progress
    assert "every 2s" in progress  # still queued: it polls
    # another user's job is not theirs to follow
    other = signed_in(world.members[Role.ENERGY_TRADER])
    assert other.get(f"/portal/jobs/{job.pk}/").status_code == 404


def test_dispatch_and_cancel_go_through_the_event_services(world, signed_in):
    operator = world.members[Role.GRID_OPERATOR]
    client = signed_in(operator)
    event = world.events["proposed"]
    event_optimize(event=event, user=operator)
    # when
    client.post(f"/portal/events/{event.pk}/dispatch/")
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED
    assert event.transitions.filter(to_status="dispatched", by=operator).exists()
    # a cancel needs its reason
    page = client.post(f"/portal/events/{event.pk}/cancel/", {"reason": ""}, follow=True)
    assert "Say why the event is cancelled" in page.content.decode()
    client.post(f"/portal/events/{event.pk}/cancel/", {"reason": "heat wave passed"})
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELLED


def test_the_event_page_shows_its_plan_answers_and_history(world, signed_in):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    event = world.events["dispatched"]
    html = client.get(f"/portal/events/{event.pk}/").content.decode()
    assert "10</strong> buildings asked" in html
    assert "sent to buildings" in html  # its history
    assert world.buildings[0].code in html
    answers = client.get(f"/portal/events/{event.pk}/?panel=answers", **HX).content.decode()
    assert answers.lstrip().startswith('<section id="answers-panel"')


@pytest.mark.parametrize("action", ["plan", "dispatch", "cancel"])
def test_another_utilitys_event_answers_404(world, other_world, signed_in, action):
    client = signed_in(world.members[Role.GRID_OPERATOR])
    theirs = other_world.events["proposed"]
    assert client.get(f"/portal/events/{theirs.pk}/").status_code == 404
    assert client.post(f"/portal/events/{theirs.pk}/{action}/", {"reason": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == EventStatus.PROPOSED


def test_only_the_operator_acts_on_events(world, signed_in):
    trader = signed_in(world.members[Role.ENERGY_TRADER])
    event = world.events["proposed"]
    assert trader.get(f"/portal/events/{event.pk}/").status_code == 200  # reads it
    assert trader.post(f"/portal/events/{event.pk}/plan/").status_code == 403
    assert not JobRun.objects.filter(kind="optimization.optimize").exists()
