"""The CSV import commands: the same services, errors on stderr with their lines."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from forecasting.models import MeterDay
from stakeholders.models import Building
from tests.factories import BuildingFactory, OrganizationFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def write(tmp_path, text: str):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return str(path)


def test_import_buildings_then_readings(tmp_path):
    utility = UtilityFactory(name="North Grid", timezone="UTC")
    owner = OrganizationFactory(name="Acme Offices")
    buildings = write(
        tmp_path,
        "code,name,building_type,floor_area_m2,tariff_usd_per_kwh,carbon_kg_per_kwh,curtailable_kw\n"
        "A1,Acme tower,office,12000,0.21,0.3,120\n",
    )
    out = StringIO()
    call_command(
        "import_buildings",
        buildings,
        "--utility",
        "North Grid",
        "--owner",
        "Acme Offices",
        stdout=out,
    )
    assert "Imported 1 building(s)." in out.getvalue()
    assert Building.objects.get(code="A1").owner == owner
    readings = write(
        tmp_path, "building_code,timestamp,kwh\nA1,2026-07-01 14:00,55.5\nA1,2026-07-01 15:00,60\n"
    )
    out = StringIO()
    call_command("import_readings", readings, "--utility", utility.name, stdout=out)
    assert "Imported 2 readings for 1 building(s)" in out.getvalue()
    assert MeterDay.objects.get().total_kwh == pytest.approx(115.5)


def test_a_bad_file_lists_its_errors_and_saves_nothing(tmp_path):
    building = BuildingFactory(utility=UtilityFactory(name="South Grid"))
    bad = write(
        tmp_path,
        f"building_code,timestamp,kwh\n{building.code},2026-13-01 00:00,1\nNOPE,2026-07-01 01:00,-2\n",
    )
    err = StringIO()
    with pytest.raises(CommandError, match=r"3 error\(s\) in .*nothing was saved"):
        call_command("import_readings", bad, "--utility", "South Grid", stderr=err)
    assert "line 2:" in err.getvalue()
    assert "line 3:" in err.getvalue()
    assert not MeterDay.objects.exists()


def test_unknown_names_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="No utility named 'Nowhere'"):
        call_command("import_readings", "x.csv", "--utility", "Nowhere")
    UtilityFactory(name="East Grid")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_readings", str(tmp_path / "missing.csv"), "--utility", "East Grid")
