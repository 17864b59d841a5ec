from django.core.management.base import BaseCommand

from forecasting.services.readings import weather_csv_import
from stakeholders.commands import utility_named
from stakeholders.csvimport import import_file_for_command, write_import_notes


class Command(BaseCommand):
    help = (
        "Import a utility's hourly weather from a CSV with columns timestamp, temperature_c and "
        "optionally humidity_pct (measured); with --forecasts, timestamp and temperature_c are "
        "the day-ahead temperature forecast of each hour, kept apart from the measurements. "
        "Timestamps as for import_readings. A file with any error saves nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--utility", required=True, help="The utility's name.")
        parser.add_argument(
            "--forecasts",
            action="store_true",
            help="The file holds day-ahead temperature forecasts, not measurements.",
        )

    def handle(self, *args, csv_path: str, utility: str, forecasts: bool, **options):
        found = utility_named(utility)
        counts = import_file_for_command(
            self,
            csv_path,
            lambda stream: weather_csv_import(utility=found, stream=stream, forecasts=forecasts),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {counts['rows']:,} hours over {counts['days']:,} day(s): "
                f"{', '.join(counts['series'])}."
            )
        )
        write_import_notes(self, counts)
