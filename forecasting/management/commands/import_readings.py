from django.core.management.base import BaseCommand

from forecasting.services.readings import readings_csv_import
from stakeholders.commands import utility_named
from stakeholders.csvimport import import_file_for_command, write_import_notes


class Command(BaseCommand):
    help = (
        "Import hourly readings from a CSV with columns building_code, timestamp, kwh "
        "(timestamp = interval start: local time YYYY-MM-DD HH:00, or with its UTC offset, "
        "which the fall-back day's repeated hour needs). A file with any error saves nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--utility", required=True, help="The utility's name.")

    def handle(self, *args, csv_path: str, utility: str, **options):
        found = utility_named(utility)
        counts = import_file_for_command(
            self,
            csv_path,
            lambda stream: readings_csv_import(
                utility=found, stream=stream, progress=lambda rows: self._progress(rows)
            ),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {counts['rows']:,} readings for {counts['buildings']} building(s), "
                f"{counts['days']:,} building-days."
            )
        )
        write_import_notes(self, counts)

    def _progress(self, rows: int) -> None:
        self.stderr.write(f"... {rows:,} rows read")
