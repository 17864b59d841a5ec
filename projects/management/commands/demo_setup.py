"""Demo data for `make run` on a developer's machine: logins, and (later steps) data."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stakeholders.services import user_ensure

DEMO_ADMIN = ("admin", os.environ.get("DEMO_ADMIN_PASSWORD", "energyrec-demo"))


class Command(BaseCommand):
    help = "Load the demo: a staff login, the real CityLearn homes and the demo program."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates known passwords: it runs with DEBUG=true only.")
        user_ensure(username=DEMO_ADMIN[0], password=DEMO_ADMIN[1], superuser=True)
        self.stdout.write("Demo logins (local only):")
        self.stdout.write(f"  back office  {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}  (staff superuser)")
