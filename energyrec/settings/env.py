"""Settings read from environment variables.

Every reader names its variable in the error it raises, so that a missing or malformed setting
stops start-up with one line that says what to fix (see `exit_on_bad_settings`).
"""

import os
import sys
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured


class SettingError(ImproperlyConfigured):
    """A setting from the environment is missing or malformed."""


_REQUIRED = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}
_BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "filesystem", "memory"}


def _raw(name: str, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        if default is _REQUIRED:
            raise SettingError(f"{name} is not set: it is required by this settings profile")
        return default
    return value.strip()


def env_str(name: str, default=_REQUIRED) -> str:
    return _raw(name, default)


def env_bool(name: str, default=_REQUIRED) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SettingError(f"{name}={value!r} is not a boolean: use true or false")


def env_int(name: str, default=_REQUIRED, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingError(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise SettingError(f"{name}={number} is below its minimum of {minimum}")
    return number


def env_list(name: str, default=_REQUIRED) -> list[str]:
    value = _raw(name, default)
    if isinstance(value, list):
        return value
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise SettingError(f"{name}={value!r} holds no entries: give a comma-separated list")
    return items


def env_database(name: str, default=_REQUIRED) -> dict:
    """A DATABASES entry from a URL such as postgres://user@host:5432/name or sqlite:///path."""
    url = _raw(name, default)
    scheme = urlsplit(url).scheme
    if scheme not in _DATABASE_SCHEMES:
        raise SettingError(
            f"{name}={url!r} is not a database URL: expected postgres://user@host:port/name "
            "or sqlite:///path"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for a malformed URL
        raise SettingError(f"{name}={url!r} could not be parsed: {exc}") from None
    if not config.get("NAME"):
        raise SettingError(f"{name}={url!r} names no database")
    return config


def env_broker_url(names: tuple[str, ...], default: str) -> str:
    """The first of `names` that is set, checked to be a broker URL kombu understands."""
    for name in names:
        url = _raw(name, None)
        if url is None:
            continue
        scheme = urlsplit(url).scheme
        if scheme not in _BROKER_SCHEMES:
            raise SettingError(
                f"{name}={url!r} is not a broker URL: expected redis://host:port/db "
                "(or amqp://, filesystem://)"
            )
        return url
    return default


def exit_on_bad_settings() -> None:
    """Load Django settings now; on a bad setting print one line naming it and exit with 2."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 -- touching it loads the settings module
    except SettingError as exc:
        print(f"energyrec: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
