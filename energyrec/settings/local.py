"""The embedded default for a developer's machine: `make run` with nothing installed."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "local-only-insecure-key-never-used-in-production")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

from .base import *  # noqa: E402,F403
from .base import VAR_DIR  # noqa: E402

# Whitenoise serves from the finders here; the folder only has to exist.
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)
