"""The portal's utility for the browser tests, committed for the live server."""

from tests.portal.world import live_world  # noqa: F401
