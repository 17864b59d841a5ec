from django.core.management.base import BaseCommand, CommandError

from stakeholders.models import Organization
from stakeholders.services import DirectoryError, organization_ensure


class Command(BaseCommand):
    help = (
        "Create an organization (a building owner or the program team); a utility's own "
        "organization comes with create_utility. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--kind",
            default=Organization.Kind.BUILDING_OWNER,
            choices=[Organization.Kind.BUILDING_OWNER, Organization.Kind.PROGRAM_TEAM],
        )

    def handle(self, *args, name: str, kind: str, **options):
        try:
            organization = organization_ensure(name=name, kind=kind)
        except DirectoryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"{organization.name} ({organization.get_kind_display()}) is ready.")
        )
