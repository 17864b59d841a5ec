"""`make run`: the web server and a Celery worker together, in the foreground, until Ctrl-C."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a Celery worker (with its scheduler) together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("RUN_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, addr: str, concurrency: int, **options):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "energyrec",
                "worker",
                "--beat",
                f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
                "--queues=default,ml",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
            ],
            start_new_session=True,
        )
        broker = settings.CELERY_BROKER_URL.split("@")[-1]  # never print a password
        self.stdout.write(
            self.style.SUCCESS(
                f"\nenergyrec is running: sign in at http://{addr}/accounts/login/ with a demo "
                f"login listed above (the back office: http://{addr}/admin/)\n"
                f"Celery worker pid {worker.pid}, broker {broker}\n"
                "The demo's data are a replay of CityLearn 2022 onto dates around today. "
                "Stop with Ctrl-C.\n"
            )
        )
        try:
            call_command("runserver", addr, use_reloader=False)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
