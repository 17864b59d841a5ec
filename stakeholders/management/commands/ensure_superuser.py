import os

from django.core.management.base import BaseCommand, CommandError

from stakeholders.services import DirectoryError, user_ensure


class Command(BaseCommand):
    help = (
        "Create or update the staff superuser named by DJANGO_SUPERUSER_USERNAME with "
        "DJANGO_SUPERUSER_PASSWORD (and DJANGO_SUPERUSER_EMAIL). Safe to run on every deploy."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not username or not password:
            raise CommandError("Set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD first.")
        try:
            user_ensure(
                username=username,
                password=password,
                email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
                superuser=True,
            )
        except DirectoryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Superuser {username!r} is ready."))
