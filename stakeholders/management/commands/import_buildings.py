from django.core.management.base import BaseCommand

from stakeholders.commands import organization_named, utility_named
from stakeholders.csvimport import import_file_for_command, write_import_notes
from stakeholders.services import buildings_csv_import


class Command(BaseCommand):
    help = "Import an owner's buildings on a utility from CSV. A file with any error saves nothing."

    def add_arguments(self, parser):
        parser.add_argument("csv_path")
        parser.add_argument("--utility", required=True, help="The utility's name.")
        parser.add_argument("--owner", required=True, help="The owning organization's name.")

    def handle(self, *args, csv_path: str, utility: str, owner: str, **options):
        found_utility, found_owner = utility_named(utility), organization_named(owner)
        counts = import_file_for_command(
            self,
            csv_path,
            lambda stream: buildings_csv_import(
                utility=found_utility, owner=found_owner, stream=stream
            ),
        )
        self.stdout.write(self.style.SUCCESS(f"Imported {counts['buildings']:,} building(s)."))
        write_import_notes(self, counts)
