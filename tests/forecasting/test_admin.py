"""The readings upload and the load charts in the back office."""

from datetime import date

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from forecasting.models import MeterDay
from forecasting.services.readings import meter_days_upsert
from tests.factories import BuildingFactory, UtilityFactory
from tests.uploads import finish_upload

pytestmark = pytest.mark.django_db

UPLOAD = "admin:forecasting_meterday_upload"


@pytest.fixture
def hall():
    return BuildingFactory(utility=UtilityFactory(name="Utility X"), code="H-01")


def upload(client, utility, text: str):
    csv_file = SimpleUploadedFile("readings.csv", text.encode(), content_type="text/csv")
    return client.post(reverse(UPLOAD), {"utility": utility.pk, "csv_file": csv_file})


def test_upload_page_renders_for_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get(reverse(UPLOAD))
    assert response.status_code == 200
    assert "Upload readings (CSV)" in response.content.decode()


def test_staff_upload_stores_the_readings_and_redirects(client, staff_user, hall):
    client.force_login(staff_user)
    response = upload(
        client, hall.utility, "building_code,timestamp,kwh\nH-01,2026-07-01 17:00,6.25\n"
    )
    assert response.url.startswith(reverse(UPLOAD) + "?job=")
    page = finish_upload(client, response)
    day = MeterDay.objects.get(building=hall, day=date(2026, 7, 1))
    assert (day.hourly_kwh[17], day.total_kwh, day.hours_present) == (6.25, 6.25, 1)
    assert "Imported 1 readings for 1 building(s), 1 building-days." in page.content.decode()


def test_bad_upload_shows_each_error_line_and_saves_nothing(client, staff_user, hall):
    client.force_login(staff_user)
    response = upload(
        client,
        hall.utility,
        "building_code,timestamp,kwh\n"
        "H-01,2026-07-01 17:00,6.25\n"
        "H-01,2026-07-01 18:00,-2\n"
        "ZZ-9,2026-07-01 19:00,1\n",
    )
    page = finish_upload(client, response).content.decode()
    assert "2 error(s) in readings.csv; nothing was saved." in page
    assert "Traceback" not in page
    assert "<td>3</td><td>kWh -2 is below 0</td>" in page
    assert "<td>4</td><td>building &#x27;ZZ-9&#x27; is not on Utility X</td>" in page
    assert not MeterDay.objects.exists()


def test_non_staff_cannot_reach_the_upload(client, plain_user, hall):
    client.force_login(plain_user)
    response = upload(
        client, hall.utility, "building_code,timestamp,kwh\nH-01,2026-07-01 17:00,1\n"
    )
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    assert not MeterDay.objects.exists()


def test_building_page_draws_the_load_charts_once_readings_exist(client, staff_user, hall):
    client.force_login(staff_user)
    change = reverse("admin:stakeholders_building_change", args=[hall.pk])
    assert "No readings yet." in client.get(change).content.decode()
    meter_days_upsert(
        building_ids=np.array([hall.pk] * 3),
        days=[date(2026, 7, 1), date(2026, 7, 2), date(2026, 7, 3)],
        kwh=np.full((3, 24), 2.0),
        origin="uploaded",
    )
    response = client.get(change)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg role="img"') == 2  # the daily and the hourly chart
    assert "Daily energy, 3 days (uploaded data)" in page
    assert "Hourly load, the week from 2026-07-01" in page


def test_meter_day_page_lists_its_hours(client, staff_user, hall):
    values = np.full((1, 24), np.nan)
    values[0, 5] = 3.5
    meter_days_upsert(
        building_ids=np.array([hall.pk]), days=[date(2026, 7, 1)], kwh=values, origin="uploaded"
    )
    client.force_login(staff_user)
    page = client.get(
        reverse("admin:forecasting_meterday_change", args=[MeterDay.objects.get().pk])
    ).content.decode()
    assert "<td>05:00 PDT</td><td>3.5 kWh</td>" in page
    assert "<td>06:00 PDT</td><td>missing</td>" in page


def test_a_fall_back_day_page_lists_25_hours_with_the_repeated_one_twice(client, staff_user, hall):
    values = np.arange(24, dtype=float)[None]
    meter_days_upsert(
        building_ids=np.array([hall.pk]), days=[date(2026, 11, 1)], kwh=values,
        repeated=np.array([9.5]), origin="uploaded",
    )  # fmt: skip
    client.force_login(staff_user)
    page = client.get(
        reverse("admin:forecasting_meterday_change", args=[MeterDay.objects.get().pk])
    ).content.decode()
    assert page.count("</td></tr>") == 25
    assert "<td>01:00 PDT</td><td>1.0 kWh</td>" in page
    assert "<td>01:00 PST</td><td>9.5 kWh</td>" in page
    assert "<td>23:00 PST</td><td>23.0 kWh</td>" in page
    assert MeterDay.objects.get().total_kwh == sum(range(24)) + 9.5
