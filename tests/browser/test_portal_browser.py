"""Each role's main action in a real browser (Debian's Chromium driven by Playwright): sign in
at /accounts/login/, land on one's dashboard, act."""

import os

import pytest

from optimization.models import EventStatus, Recommendation
from optimization.services.planning import event_optimize
from stakeholders.models import Role
from tests.portal.world import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def sign_in(page, user) -> None:
    page.goto(f"{page.base_url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_the_operator_dispatches_an_event(live_world, browser_page):
    page = browser_page
    operator = live_world.members[Role.GRID_OPERATOR]
    event = live_world.events["proposed"]
    event_optimize(event=event, user=operator)
    # when: the operator signs in
    sign_in(page, operator)
    # then: the grid status, with tomorrow's CRITICAL hour and the open events
    assert page.url.endswith("/portal/operator/")
    assert page.locator("#status-panel").is_visible()
    assert "CRITICAL" in page.inner_text("#status-panel")
    shoot(page, "operator")
    # when: they open the planned event and dispatch it
    page.click(f"#events-panel >> text=#{event.pk}")
    page.wait_for_load_state("networkidle")
    page.click("button:has-text('Dispatch to')")
    page.wait_for_load_state("networkidle")
    # then
    assert "dispatched: the buildings are asked" in page.inner_text(".messages")
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHED
    shoot(page, "operator-event-dispatched")


def test_the_facility_manager_accepts_one_request_and_declines_another(live_world, browser_page):
    page = browser_page
    manager = live_world.members[Role.FACILITY_MANAGER]
    event = live_world.events["dispatched"]
    first, second = event.recommendations.filter(
        status="pending", building__in=live_world.buildings[:6]
    ).order_by("building__code")[:2]
    sign_in(page, manager)
    assert page.url.endswith("/portal/facility/")
    page.evaluate("window.__not_reloaded = true")
    # when: accept the first (HTMX: the row changes in place, the page does not reload)
    page.click(f"#request-{first.pk} button:has-text('Accept')")
    page.wait_for_selector(f"#request-{first.pk} >> text=Accepted")
    # and decline the second
    page.click(f"#request-{second.pk} button:has-text('Decline')")
    page.wait_for_selector(f"#request-{second.pk} >> text=Declined")
    # then
    assert page.evaluate("window.__not_reloaded") is True
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (
        Recommendation.Status.ACCEPTED,
        Recommendation.Status.DECLINED,
    )
    shoot(page, "facility-answered")


def test_the_owner_downloads_the_pdf_report(live_world, browser_page):
    page = browser_page
    sign_in(page, live_world.members[Role.BUILDING_OWNER])
    assert page.url.endswith("/portal/owner/")
    shoot(page, "owner")
    with page.expect_download() as download_info:
        page.click("text=Download PDF report")
    download = download_info.value
    path = download.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.suggested_filename.endswith(".pdf")
