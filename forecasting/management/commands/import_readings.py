from django.core.management.base import BaseCommand, CommandError

from forecasting.services.readings import readings_csv_import
from stakeholders.csvimport import import_file_for_command
from stakeholders.models import Utility


class Command(BaseCommand):
    help = (
        "Import hourly readings from a CSV with columns building_code, timestamp, kwh "
        "(timestamp = interval start, YYYY-MM-DD HH:00). A file with any error saves nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--utility", required=True, help="The utility's name.")

    def handle(self, *args, csv_path: str, utility: str, **options):
        found = Utility.objects.filter(name=utility).first()
        if found is None:
            raise CommandError(f"No utility named {utility!r}.")
        counts = import_file_for_command(
            self, csv_path, lambda stream: readings_csv_import(utility=found, stream=stream)
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {counts['rows']:,} readings for {counts['buildings']} building(s), "
                f"{counts['days']:,} building-days."
            )
        )
