"""The back office in a real browser: log in, see the imported buildings with their load, and
the program overview."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from forecasting.services.citylearn_import import citylearn_load, citylearn_store
from projects.services.demo import demo_program_create
from stakeholders.services import user_ensure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def demo():
    admin = user_ensure(username="admin", password="demo-pass-123", superuser=True)
    citylearn_store(data=citylearn_load())
    demo_program_create(starts_on=timezone.localdate() - timedelta(days=7), user=admin)
    return admin


def test_staff_logs_in_and_sees_buildings_with_load_and_the_program(demo, browser_page):
    page = browser_page
    # given: the login page
    page.goto(f"{page.base_url}/admin/")
    assert "Log in" in page.title()
    # when: staff logs in
    page.fill("#id_username", "admin")
    page.fill("#id_password", "demo-pass-123")
    page.click("input[type=submit]")
    # then: the back office with the link to the program overview
    page.wait_for_selector("text=Program overview")
    shoot(page, "admin-index")
    page.goto(f"{page.base_url}/admin/stakeholders/building/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 17
    assert "CL22-01" in page.inner_text("#result_list")
    header = page.inner_text("#result_list thead")
    assert "MEAN KW" in header.upper()
    assert "PEAK KW" in header.upper()
    shoot(page, "buildings")
    page.click("#result_list a:text-is('CL22-01')")
    page.wait_for_url("**/change/")
    chart = page.locator("svg[aria-label^='Daily energy']")
    assert chart.count() == 1
    assert "measured data" in chart.get_attribute("aria-label")
    shoot(page, "building-load")
    page.goto(f"{page.base_url}/admin/projects/program/overview/")
    assert page.locator("#top-risks tbody tr").count() == 5
    assert page.locator("#sprints tbody tr").count() == 5
    shoot(page, "program-overview")


def test_wrong_password_is_refused(demo, browser_page):
    page = browser_page
    page.goto(f"{page.base_url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "not-the-password")
    page.click("input[type=submit]")
    assert "Please enter the correct username and password" in page.inner_text(".errornote")


@pytest.fixture
def season_run():
    # Data fixtures come before browser_page in each test's arguments: ORM work done while
    # Playwright's event loop runs opens a connection of its own, which outlived the test
    # database (a teardown warning on PostgreSQL).
    from optimization.services.season import season_simulate

    return season_simulate(buildings=80)


def test_a_simulated_season_reads_as_a_page_with_its_chart(season_run, demo, browser_page):
    run = season_run
    page = browser_page
    page.goto(f"{page.base_url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "demo-pass-123")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Program overview")
    page.goto(f"{page.base_url}/admin/optimization/seasonrun/")
    assert "SIMULATED" in page.inner_text("#result_list")
    page.goto(f"{page.base_url}/admin/optimization/seasonrun/{run.pk}/change/")
    season = page.locator("#season")
    assert "SIMULATED" in season.inner_text()
    chart = season.locator('svg[aria-label^="Each day\'s system peak"]')
    assert chart.count() == 1
    assert chart.locator("polyline").count() == 3  # without, ours, largest-first
    assert chart.bounding_box()["width"] > 300  # drawn, not collapsed
    shoot(page, "season")
