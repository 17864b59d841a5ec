from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from stakeholders.services import (
    DirectoryError,
    feeder_ensure,
    program_holiday_set,
    utility_ensure,
)


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CommandError(f"{what} {text!r} is not NAME=VALUE.")
    return name.strip(), value.strip()


class Command(BaseCommand):
    help = (
        "Create (or update) a utility with its own organization: its time zone, grid capacity, "
        "HIGH and CRITICAL strain thresholds, the country and region whose public holidays the "
        "forecasts know, its feeders and the program's own holidays. All of it or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--timezone", required=True, help="IANA zone of the service area, e.g. America/Chicago."
        )
        parser.add_argument("--capacity-kw", type=float, required=True, help="Grid capacity, kW.")
        parser.add_argument("--country", required=True, help="ISO 3166 code for holidays, e.g. US.")
        parser.add_argument("--region", default="", help="State or province code, e.g. TX.")
        parser.add_argument(
            "--high-pct", type=float, default=80.0, help="HIGH at this %% of capacity."
        )
        parser.add_argument(
            "--critical-pct", type=float, default=95.0, help="CRITICAL at this %% of capacity."
        )
        parser.add_argument(
            "--feeder", action="append", default=[], metavar="NAME=KW",
            help="A feeder and its capacity in kW; repeat for each.",
        )  # fmt: skip
        parser.add_argument(
            "--holiday", action="append", default=[], metavar="YYYY-MM-DD=NAME",
            help="A day the program treats as a holiday; repeat for each.",
        )  # fmt: skip

    def handle(self, *args, name: str, **options):
        feeders = []
        for text in options["feeder"]:
            feeder, kw = _pair(text, "--feeder")
            try:
                feeders.append((feeder, float(kw)))
            except ValueError:
                raise CommandError(f"--feeder {text!r}: {kw!r} is not a number of kW.") from None
        days = []
        for text in options["holiday"]:
            day, label = _pair(text, "--holiday")
            try:
                days.append((date.fromisoformat(day), label))
            except ValueError:
                raise CommandError(f"--holiday {text!r}: {day!r} is not YYYY-MM-DD.") from None
        try:
            with transaction.atomic():
                utility = utility_ensure(
                    name=name,
                    capacity_kw=options["capacity_kw"],
                    timezone=options["timezone"],
                    country=options["country"].upper(),
                    region=options["region"].upper(),
                    high_strain_pct=options["high_pct"],
                    critical_strain_pct=options["critical_pct"],
                )
                for feeder, kw in feeders:
                    feeder_ensure(utility=utility, name=feeder, capacity_kw=kw)
                for day, label in days:
                    program_holiday_set(utility=utility, day=day, name=label)
        except DirectoryError as exc:
            raise CommandError(str(exc)) from None
        where = f"{utility.country}-{utility.region}" if utility.region else utility.country
        self.stdout.write(
            self.style.SUCCESS(
                f"{utility.name} is ready: {utility.capacity_kw:,.0f} kW, HIGH at "
                f"{utility.high_strain_pct:g} %, CRITICAL at {utility.critical_strain_pct:g} %, "
                f"{utility.timezone}, holidays of {where}, {len(feeders)} feeder(s), "
                f"{len(days)} program holiday(s)."
            )
        )
