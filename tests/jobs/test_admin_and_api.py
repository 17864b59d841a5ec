import pytest
from django.urls import reverse

from jobs.models import JobRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(staff_user, plain_user):
    mine = JobRun.objects.create(kind="testapp.write_marks", requested_by=plain_user)
    theirs = JobRun.objects.create(
        kind="testapp.write_marks",
        requested_by=staff_user,
        status="failed",
        error="ValueError: the CSV has no header\n\nTraceback ...",
    )
    return mine, theirs


def test_admin_lists_jobs_with_filters_and_shows_the_error(client, staff_user, jobs):
    _, failed = jobs
    client.force_login(staff_user)
    listing = client.get(reverse("admin:jobs_jobrun_changelist"), {"status__exact": "failed"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "ValueError: the CSV has no header" in page
    assert "By status" in page
    detail = client.get(reverse("admin:jobs_jobrun_change", args=[failed.pk]))
    assert detail.status_code == 200
    assert "Traceback ..." in detail.content.decode()


def test_admin_run_again_queues_a_copy(client, staff_user, jobs):
    _, failed = jobs
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:jobs_jobrun_changelist"),
        {"action": "run_again", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    again = JobRun.objects.exclude(pk__in=[j.pk for j in jobs]).get()
    assert (again.kind, again.status, again.requested_by) == (failed.kind, "queued", staff_user)


@pytest.mark.parametrize(
    ("who", "list_status", "own_status", "other_status"),
    [("anonymous", 403, 403, 403), ("plain", 200, 200, 404), ("staff", 200, 200, 200)],
)
def test_job_api_access(
    client, staff_user, plain_user, jobs, who, list_status, own_status, other_status
):
    mine, theirs = jobs
    if who != "anonymous":
        client.force_login({"plain": plain_user, "staff": staff_user}[who])
    listing = client.get(reverse("job-list"))
    assert listing.status_code == list_status
    assert client.get(reverse("job-detail", args=[mine.pk])).status_code == own_status
    assert client.get(reverse("job-detail", args=[theirs.pk])).status_code == other_status
    if who == "plain":
        assert [row["id"] for row in listing.json()["results"]] == [mine.pk]


def test_job_list_api_costs_a_fixed_number_of_queries(
    client, staff_user, jobs, django_assert_max_num_queries
):
    for _ in range(20):
        JobRun.objects.create(kind="testapp.write_marks", requested_by=staff_user)
    client.force_login(staff_user)
    # session, user, whether of the program team, the page of jobs with their requesters, and
    # the request's own timing row (stakeholders.portal.timing)
    with django_assert_max_num_queries(5):
        assert client.get(reverse("job-list")).status_code == 200


def test_health_reports_database_and_broker(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.parametrize(
    ("query", "status", "count"),
    [
        ("?limit=2", 200, 2),
        ("?limit=99999999999999999999999", 200, 25),  # served as the largest page, 500 rows
        ("?limit=-3", 200, 25),  # not a positive number: the default page
        ("?limit=abc", 200, 25),
        ("?offset=99999999999999999999999", 400, None),
        ("?offset=20&limit=500", 200, 5),
    ],
)
def test_job_list_pages_are_bounded(client, staff_user, query, status, count):
    for _ in range(25):
        JobRun.objects.create(kind="testapp.write_marks", requested_by=staff_user)
    client.force_login(staff_user)
    response = client.get(reverse("job-list") + query)
    assert response.status_code == status
    if count is None:
        assert "Use an offset up to 1,000,000,000." in response.json()["offset"][0]
    else:
        assert len(response.json()["results"]) == count
