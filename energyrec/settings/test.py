"""The test suite: SQLite unless DATABASE_URL points at PostgreSQL; an in-memory broker unless
CELERY_BROKER_URL points at Redis (the integration tests need both, and CI sets both)."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-key")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

from .base import *  # noqa: E402,F403
from .base import INSTALLED_APPS, VAR_DIR  # noqa: E402

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# django-axes logs every sign-in at INFO: noise in a test run.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "axes": {"level": "WARNING"}}}  # noqa: F405
# Job kinds that exist only to test the job machinery (slow steps, failures, effects to count).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.jobs_testapp"]

# Uploads wait for their import job in a folder of the test run's own.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="energyrec-test-media-"))

# Whitenoise serves from the finders here; the folder only has to exist.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
