"""Production: every secret and address comes from the environment, none has a default.

Passes `python manage.py check --deploy` without a warning. Set DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL or REDIS_URL (Redis), SECRET_KEY (50+ random characters) and ALLOWED_HOSTS.
"""

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, DATABASES
from .env import SettingError, env_bool, env_int, env_list

DEBUG = False  # never from the environment here

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise SettingError("DATABASE_URL must point at PostgreSQL in production (postgres://...)")
if CELERY_BROKER_URL.startswith(("filesystem://", "memory://")):
    raise SettingError("CELERY_BROKER_URL (or REDIS_URL) must point at Redis in production")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
