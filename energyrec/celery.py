"""The Celery app. Workers start with `celery -A energyrec worker -Q default,ml`."""

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "energyrec.settings.local")

app = Celery("energyrec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if os.path.basename(sys.argv[0]) == "celery":
    # A worker or beat started with a bad setting says which one in a line, not a traceback.
    from energyrec.settings.env import exit_on_bad_settings

    exit_on_bad_settings()
