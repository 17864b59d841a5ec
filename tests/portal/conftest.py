"""The portal's fixtures (tests/portal/world.py builds the utility they stand on)."""

from tests.portal.world import live_world, other_world, signed_in, world  # noqa: F401
