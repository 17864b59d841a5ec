"""The back office reads like the portal: figures rounded to what they mean with their units,
times in the utility's zone with the zone named, and never raw JSON."""

import re
from datetime import date

import pytest
from django.contrib import admin
from django.urls import reverse

from jobs.models import JobRun
from optimization.models import DemandResponseEvent, OptimizationRun, Recommendation, SeasonRun
from stakeholders.admin_display import readable_label, readable_table, readable_value
from stakeholders.portal.models import StakeholderReport

pytestmark = pytest.mark.django_db

RAW_JSON = re.compile(r"[\[{]&quot;\w+&quot;:")  # how a JSON field reads when shown as is
DATA_ATTRIBUTE = re.compile(r'\sdata-[\w-]+="[^"]*"')  # Django's own (inline formsets)


def page_of(client, obj, view: str = "change") -> str:
    meta = obj._meta
    args = [obj.pk] if view == "change" else []
    response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args))
    assert response.status_code == 200, meta.label
    return DATA_ATTRIBUTE.sub("", response.content.decode())


@pytest.fixture
def season():
    return SeasonRun.objects.create(
        buildings=100, first_day=date(2017, 3, 31), days=121, capacity_kw=912.345,
        figures={"peak_reduction_pct": 6.0312, "target_met_share": 0.9512, "cost": 10432.7,
                 "cost_compliance_blind": 12000.2, "cost_largest_first": 13000.9,
                 "compliance_auc": 0.71234, "calibration": [{"bin": "0.0-0.1", "count": 3, "predicted": 0.05,
                                          "observed": 0.0}]},
        strategies={}, series={},
    )  # fmt: skip


@pytest.fixture
def job():
    return JobRun.objects.create(
        kind="forecasting.train", status="succeeded", params={"utility_id": 7},
        counts={"buildings": 1200, "days": 365}, result={"model_id": 3, "train_s": 81.234},
    )  # fmt: skip


def test_no_page_shows_raw_json(client, world, program_staff, season, job):
    client.force_login(program_staff)
    for model in admin.site._registry:
        for obj in model._default_manager.all()[:2]:
            for view in ("changelist", "change"):
                page = page_of(client, obj, view)
                assert not RAW_JSON.search(page), (model._meta.label, view)


def test_the_event_list_reads_in_units_and_the_utility_s_zone(client, world):
    a, _ = world
    client.force_login(a.staff)
    page = page_of(client, DemandResponseEvent.objects.get(utility=a.utility), "changelist")
    assert "Thu 02 Jul 16:00–19:00 PDT" in page
    for figure in ("50.0 kW", "95.3 %", "61.2 kW", "58.0 kW"):
        assert f">{figure}<" in page
    assert "0.95312" not in page
    assert "61.2345" not in page


def test_the_event_page_formats_its_runs_and_recommendations(client, world):
    a, _ = world
    event = DemandResponseEvent.objects.get(utility=a.utility)
    OptimizationRun.objects.create(
        event=event, solver="greedy", candidates=40, selected=12, feasible=True,
        objective_usd=123.456, bound_usd=120.0, gap_pct=2.8765, p_target_met=0.96123,
        expected_kw=61.2345, p10_kw=52.111, solve_s=0.41234, peak_mb=12.345,
    )  # fmt: skip
    client.force_login(a.staff)
    page = page_of(client, event)
    for figure in ("$123", "2.88 %", "96.1 %", "61.2 kW", "52.1 kW", "0.41 s", "12.3 MB"):
        assert f">{figure}<" in page, figure
    assert "Accepted risk of missing the target" in page
    assert ">5.0 %<" in page
    assert ">$0.50 per kWh<" in page
    assert ">20.0 kW<" in page
    assert ">80.0 %<" in page
    assert "0.96123" not in page
    assert "12.345" not in page


def test_a_recommendation_reads_as_steps_and_a_table_of_what_the_model_saw(client, world):
    a, _ = world
    client.force_login(a.staff)
    page = page_of(client, Recommendation.objects.get(event__utility=a.utility))
    assert "<li><b>Pre-cool</b>: cool 1 °C below the usual setpoint</li>" in page
    assert "<li><b>Setpoint raise</b>: raise the setpoint by 2.0 °C</li>" in page
    assert "<tr><th>curtailable</th><td>40.0 kW</td></tr>" in page
    assert "<tr><th>notice</th><td>18.0 h</td></tr>" in page
    assert ">$12<" in page
    assert ">48.0 kWh<" in page


def test_a_job_shows_its_parameters_counts_and_result_as_tables(client, program_staff, job):
    client.force_login(program_staff)
    page = page_of(client, job)
    assert "<tr><th>utility id</th><td>7</td></tr>" in page
    assert "<tr><th>buildings</th><td>1,200</td></tr>" in page
    assert "<tr><th>train</th><td>81.2 s</td></tr>" in page


def test_a_forecast_model_shows_its_accuracy_and_settings(client, world):
    a, _ = world
    client.force_login(a.staff)
    model = a.utility.forecast_models.get()
    listing = page_of(client, model, "changelist")
    assert ">21.2 % / 9.9 %<" in listing
    assert ">81.2 %<" in listing
    page = page_of(client, model)
    assert "<tr><th>median cvrmse</th><td>21.2 %</td></tr>" in page
    assert "<tr><th>p10 p90 coverage</th><td>81.2 %</td></tr>" in page
    assert "<tr><th>hidden</th><td>32</td></tr>" in page


def test_a_compliance_model_shows_its_scores(client, world):
    a, _ = world
    client.force_login(a.staff)
    page = page_of(client, a.utility.compliance_models.get())
    assert "<tr><th>auc</th><td>0.712</td></tr>" in page
    assert "0.71234" not in page


def test_a_simulated_season_shows_its_figures(client, program_staff, season):
    client.force_login(program_staff)
    listing = page_of(client, season, "changelist")
    assert ">6.0 %<" in listing
    assert ">95.1 %<" in listing
    assert ">$10,433 / $12,000 / $13,001<" in listing
    assert ">0.712<" in listing
    page = page_of(client, season)
    assert "<tr><th>cost</th><td>$10,433</td></tr>" in page
    assert "<tr><th>peak reduction</th><td>6.0 %</td></tr>" in page
    assert ">912.3 kW<" in page


def test_a_report_shows_its_sections(client, world):
    a, _ = world
    client.force_login(a.staff)
    page = page_of(client, StakeholderReport.objects.get(utility=a.utility))
    assert "<tr><th>target</th><td>50.0 kW</td></tr>" in page
    assert "<tr><th>P(target met)</th><td>95.3 %</td></tr>" in page


@pytest.mark.parametrize(
    ("key", "value", "read"),
    [
        ("target_kw", 1234.56, "1,234.6 kW"),
        ("delivered_kwh", 12.34, "12.3 kWh"),
        ("peak_reduction_pct", 6.03, "6.0 %"),
        ("cost_usd", 1234.5, "$1,234"),
        ("carbon_saved_kg", 12.6, "13 kg"),
        ("target_met_share", 0.953, "95.3 %"),
        ("p_target_met", 0.953, "95.3 %"),
        ("incentive_usd_per_kwh", 0.5, "$0.50 per kWh"),
        ("solve_s", 0.41, "0.4 s"),
        ("buildings", 1200, "1,200"),
        ("hours", 3.0, "3"),
        ("auc", 0.71234, "0.712"),
        ("kept", "model", "model"),
        ("enrolled", True, "yes"),
        ("feeder", None, "–"),
        ("days", [1, 2, 3], "1, 2, 3"),
        ("hourly_kw", list(range(24)), "24 values"),
    ],
)
def test_a_json_value_is_written_by_the_unit_in_its_name(key, value, read):
    assert readable_value(key, value) == read


def test_labels_drop_the_unit_their_value_carries():
    assert readable_label("peak_reduction_pct") == "peak reduction"
    assert readable_label("p_target_met") == "P(target met)"
    assert readable_label("buildings") == "buildings"


def test_a_table_escapes_what_it_shows_and_summarises_below_its_depth():
    table = readable_table({"note": "<b>x</b>", "grid": {"hours": [{"t": 1}] * 24}}, depth=1)
    assert "&lt;b&gt;x&lt;/b&gt;" in table
    assert "<tr><th>hours</th><td>24 rows</td></tr>" in table
    assert readable_table({}) == "–"
