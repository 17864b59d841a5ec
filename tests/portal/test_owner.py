"""The building owner and energy manager read what taking part earned, per building and in
total, from the day snapshot's lines; their buildings' requests out now, read-only; a PDF."""

import numpy as np
import pytest
from django.utils import timezone

from optimization.selectors import verified_asks
from stakeholders import formatting
from stakeholders.models import Role
from stakeholders.portal.pdf import pdf_available
from stakeholders.portal.snapshots.service import report_day
from stakeholders.portal.views import owners as owner_views
from tests.portal.world import build_world

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def settled_by_building(world) -> dict:
    """What each of the owner's buildings earned, straight from the one settlement rule."""
    asks = verified_asks(utility=world.utility, until=timezone.now())
    settled = asks.settled()
    figures = {}
    for b in np.unique(asks.building_id):
        mine = asks.building_id == b
        figures[int(b)] = {
            "events": int(mine.sum()),
            "asked_kwh": float(settled.asked_kwh[mine].sum()),
            "delivered_kwh": float(settled.delivered_kwh[mine].sum()),
            "incentive_usd": float(settled.incentive_usd[mine].sum()),
            "cost_saved_usd": float(settled.cost_saved_usd[mine].sum()),
            "carbon_saved_kg": float(settled.carbon_saved_kg[mine].sum()),
            "complied": int(asks.complied[mine].sum()),
        }
    return figures


def test_the_snapshot_keeps_one_line_per_building_that_took_part(world):
    # when
    report = report_day(utility=world.utility)
    # then: each line is its building's settled asks, summed
    expected = settled_by_building(world)
    lines = {line.building_id: line for line in report.lines.all()}
    assert set(lines) == set(expected)
    assert expected
    for building_id, figures in expected.items():
        line = lines[building_id]
        assert line.owner_id == world.owner.pk
        for name, value in figures.items():
            assert getattr(line, name) == pytest.approx(value), name
    # and the owner's section: one distinct event, months of kWh that add up
    mine = report.data["owners"]["by_owner"][str(world.owner.pk)]
    assert mine["events"] == 1
    assert mine["buildings"] == len(expected)
    assert sum(mine["delivered_kwh"]) == pytest.approx(
        sum(f["delivered_kwh"] for f in expected.values()), abs=0.01
    )


@pytest.mark.parametrize("role", [Role.BUILDING_OWNER, Role.ENERGY_MANAGER])
def test_the_owner_sees_its_totals_per_building_and_in_total(
    world, signed_in, django_assert_max_num_queries, role
):
    client = signed_in(world.members[role])
    # given: the day's snapshot exists
    page = client.get("/portal/", follow=True)
    assert page.redirect_chain[-1][0] == "/portal/owner/"
    # when: the page is read again
    with django_assert_max_num_queries(30):
        page = client.get("/portal/owner/")
    html = page.content.decode()
    # then: the totals are the settled figures, formatted once
    expected = settled_by_building(world).values()
    total = {name: sum(f[name] for f in expected) for name in next(iter(expected))}
    assert formatting.kwh(total["delivered_kwh"]) in html
    assert formatting.kwh(total["asked_kwh"]) in html
    assert formatting.usd(total["incentive_usd"]) in html
    assert formatting.usd(total["cost_saved_usd"]) in html
    assert formatting.kg(total["carbon_saved_kg"]) in html
    earned = total["incentive_usd"] + total["cost_saved_usd"]
    assert f"{formatting.usd(earned)} per event" in html  # one event taken part in
    assert f"${earned / total['delivered_kwh']:,.2f} per kWh shed" in html
    assert formatting.share(total["delivered_kwh"] / total["asked_kwh"]) in html
    # each building that took part, with its own figures
    for building in world.buildings:
        if building.pk in settled_by_building(world):
            assert building.code in html
    # and where each figure comes from, with the simulated event labelled
    assert "verified events only" in html
    assert "simulated" in html
    assert "Download PDF report" in html


def test_the_requests_out_now_are_shown_read_only(world, signed_in):
    client = signed_in(world.members[Role.BUILDING_OWNER])
    html = client.get("/portal/owner/").content.decode()
    event = world.events["dispatched"]
    recs = list(event.recommendations.exclude(status="withdrawn").select_related("building"))
    assert recs
    for rec in recs:
        assert rec.building.code in html
    assert "16:00–19:00 PST" in html
    assert "/accept/" not in html
    assert "/decline/" not in html


def test_the_buildings_are_paged_and_a_page_answers_alone(world, signed_in, monkeypatch):
    monkeypatch.setattr(owner_views, "LINES_PER_PAGE", 2)
    client = signed_in(world.members[Role.BUILDING_OWNER])
    report = report_day(utility=world.utility)
    lines = list(report.lines.select_related("building").order_by("-delivered_kwh", "pk"))
    assert len(lines) > 2
    panel = client.get(
        f"/portal/owner/?panel=buildings&page=2&utility={world.utility.pk}", **HX
    ).content.decode()
    assert panel.lstrip().startswith('<section id="buildings-panel"')
    assert lines[2].building.code in panel
    assert lines[0].building.code not in panel
    assert f"Buildings 3–{min(4, len(lines))} of {len(lines)}" in panel


def test_before_any_verified_event_the_figures_say_not_measured_yet(db, signed_in):
    quiet = build_world("Gamma", with_events=False)
    html = signed_in(quiet.members[Role.BUILDING_OWNER]).get("/portal/owner/").content.decode()
    assert "not measured yet" in html
    assert "No request is out for your buildings now." in html


def test_the_pdf_report_is_the_owners(world, signed_in):
    if pdf_available():
        pytest.skip(pdf_available())
    client = signed_in(world.members[Role.BUILDING_OWNER])
    client.get("/portal/owner/")
    report = report_day(utility=world.utility)
    response = client.get(f"/portal/reports/{report.pk}.pdf")
    assert response.status_code == 200
    assert response.content[:5] == b"%PDF-"
    assert "energyrec-owner-" in response["Content-Disposition"]
    csv = client.get(f"/portal/reports/{report.pk}.csv").content.decode()
    for building in world.buildings:
        if building.pk in settled_by_building(world):
            assert building.code in csv


def test_another_owners_ids_answer_404(world, other_world, signed_in):
    stranger = signed_in(other_world.members[Role.BUILDING_OWNER])
    mine = report_day(utility=world.utility)
    # the other owner's own page never reaches Alpha's utility
    assert stranger.get(f"/portal/owner/?utility={world.utility.pk}").status_code == 404
    assert stranger.get(f"/portal/reports/{mine.pk}/").status_code == 404
    assert stranger.get(f"/portal/reports/{mine.pk}.pdf").status_code == 404
    assert stranger.get(f"/portal/reports/{mine.pk}.csv").status_code == 404
    # and its own page shows none of Alpha's buildings
    html = stranger.get("/portal/owner/").content.decode()
    for building in world.buildings:
        assert building.code not in html


@pytest.mark.parametrize("role", [Role.TENANT, Role.FACILITY_MANAGER, Role.GRID_OPERATOR])
def test_other_roles_are_refused_the_owners_page(world, signed_in, role):
    assert signed_in(world.members[role]).get("/portal/owner/").status_code == 403
