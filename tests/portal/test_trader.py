"""The energy trader's dashboard: DR capacity per forecast hour (open events and monthly limits
taken out), what verified DR cost per MWh against the tariff and the price signal, past events'
MWh and cost; from the stored snapshot, in a bounded number of queries, and no other utility's."""

from datetime import UTC, datetime, time, timedelta

import numpy as np
import pytest
from django.utils import timezone

from forecasting.hourly import FULL_MASK
from forecasting.models import MeterDay, SeriesDay
from optimization.models import Recommendation
from optimization.selectors import verified_asks
from stakeholders import formatting
from stakeholders.models import Building, Role
from stakeholders.portal.models import StakeholderReport
from tests.portal.world import build_world

pytestmark = pytest.mark.django_db

PRICE_USD_PER_KWH = np.linspace(0.05, 0.28, 24).astype("<f4")


def _hour(world, day, hour: int) -> str:
    moment = datetime.combine(day, time(hour), tzinfo=world.utility_zone)
    return moment.astimezone(UTC).isoformat()


@pytest.fixture
def market(world):
    """Tomorrow priced; tariffs that differ between buildings; the first building asked in the
    dispatched event allowed one event a month (so it is at its limit all month)."""
    today = timezone.now().astimezone(world.utility_zone).date()
    tomorrow = today + timedelta(days=1)
    SeriesDay.objects.create(
        utility=world.utility, series=SeriesDay.Series.PRICE_USD_PER_KWH, day=tomorrow,
        values=PRICE_USD_PER_KWH.tobytes(), present_mask=FULL_MASK, origin="measured",
    )  # fmt: skip
    for i, building in enumerate(world.buildings):
        Building.objects.filter(pk=building.pk).update(tariff_usd_per_kwh=0.10 + 0.02 * i)
    asked = list(
        Recommendation.objects.filter(
            event=world.events["dispatched"], status__in=["pending", "accepted"]
        ).values_list("building_id", flat=True)
    )
    limited = sorted(asked)[0]
    Building.objects.filter(pk=limited).update(max_events_per_month=1)
    return {"today": today, "tomorrow": tomorrow, "asked": set(asked), "limited": limited}


def test_the_trader_sees_dr_capacity_cost_tariff_and_price_as_computed(world, market, signed_in):
    client = signed_in(world.members[Role.ENERGY_TRADER])
    # when
    page = client.get("/portal/", follow=True)
    # then
    assert page.redirect_chain[-1][0] == "/portal/trader/"
    html = page.content.decode()
    hours = {h["t"]: h for h in page.context["ahead"]}
    kw = {b.pk: b.curtailable_kw for b in world.buildings}
    enrolled_kw = sum(kw.values())
    # in the dispatched event's window its asked buildings and the one at its limit are out
    in_event = hours[_hour(world, market["tomorrow"], 17)]
    out = market["asked"] | {market["limited"]}
    assert in_event["dr_kw"] == pytest.approx(enrolled_kw - sum(kw[b] for b in out), abs=1e-3)
    assert in_event["dr_buildings"] == len(world.buildings) - len(out)
    # outside it only the building at its monthly limit
    morning = hours[_hour(world, market["tomorrow"], 10)]
    assert morning["dr_kw"] == pytest.approx(enrolled_kw - kw[market["limited"]], abs=1e-3)
    assert morning["at_limit"] == 1
    # expected at the verified delivery share (kWh delivered / asked over verified asks)
    settled = verified_asks(utility=world.utility).settled()
    share = settled.delivered_kwh.sum() / settled.asked_kwh.sum()
    assert morning["dr_expected_kw"] == pytest.approx(morning["dr_kw"] * min(share, 1.0), abs=1e-3)
    assert formatting.share(share) in html
    # cost of DR per MWh: incentives paid over MWh delivered
    cost = settled.incentive_usd.sum() / settled.delivered_kwh.sum() * 1000
    assert f"{formatting.usd(cost)}/MWh" in html
    # the tariff weighted by last week's metered kWh, and the plain mean
    rows = MeterDay.objects.filter(
        building__utility=world.utility,
        day__gte=market["today"] - timedelta(days=7), day__lt=market["today"],
    ).values_list("total_kwh", "building__tariff_usd_per_kwh")  # fmt: skip
    weighted = sum(k * t for k, t in rows) / sum(k for k, _ in rows) * 1000
    mean = np.mean([0.10 + 0.02 * i for i in range(len(world.buildings))]) * 1000
    assert f"{formatting.usd(weighted)}/MWh" in html
    assert f"{formatting.usd(mean)}/MWh" in html
    # the price signal for the hour, per MWh
    assert in_event["price_usd_per_mwh"] == pytest.approx(PRICE_USD_PER_KWH[17] * 1000, rel=1e-6)
    assert page.context["ahead"][0]["price_usd_per_mwh"] is None  # today has no price stored
    # the past event: its MWh and what it cost per MWh
    past = world.events["verified"]
    mine = verified_asks(utility=world.utility, event_ids=[past.pk])
    paid = mine.settled()
    assert f"{paid.delivered_kwh.sum() / 1000:,.3f} MWh" in html
    assert formatting.usd(paid.incentive_usd.sum()) in html
    # times in the utility's zone, a chart with its legend, the simulated event labelled
    assert "PST" in html
    assert "<svg" in html
    assert "DR capacity available" in html
    assert "utility capacity" in html
    assert "Includes simulated events" in html


def test_without_a_verified_event_the_expected_delivery_is_not_measured_yet(db, signed_in):
    world = build_world("Gamma", with_events=False)
    client = signed_in(world.members[Role.ENERGY_TRADER])
    html = client.get("/portal/trader/").content.decode()
    assert "not measured yet" in html
    assert "no verified event yet" in html
    assert "no price series stored for these hours" in html


def test_the_dashboard_reads_its_snapshot_in_a_bounded_number_of_queries(
    world, signed_in, django_assert_max_num_queries
):
    client = signed_in(world.members[Role.ENERGY_TRADER])
    client.get("/portal/trader/")  # builds the day's snapshot
    with django_assert_max_num_queries(14):
        assert client.get("/portal/trader/").status_code == 200
    assert StakeholderReport.objects.filter(utility=world.utility, kind="day").count() == 1


def test_another_utility_and_another_role_are_refused(world, other_world, signed_in):
    client = signed_in(other_world.members[Role.ENERGY_TRADER])
    assert client.get(f"/portal/trader/?utility={world.utility.pk}").status_code == 404
    client = signed_in(world.members[Role.GRID_OPERATOR])
    assert client.get("/portal/trader/").status_code == 403


def test_the_stored_report_prints_the_same_figures_and_its_csv(world, signed_in):
    client = signed_in(world.members[Role.ENERGY_TRADER])
    page = client.get("/portal/trader/").content.decode()
    report = StakeholderReport.objects.get(utility=world.utility, kind="day")
    stored = client.get(f"/portal/reports/{report.pk}/").content.decode()
    assert "DR capacity available" in stored
    assert f"snapshot #{report.pk}" in stored
    csv = client.get(f"/portal/reports/{report.pk}.csv").content.decode()
    assert "DR available kW" in csv
    assert "verified DR cost $/MWh" in csv
    assert "What DR has cost" in page
