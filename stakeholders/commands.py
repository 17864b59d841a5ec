"""What the management commands share: finding the utility or organization a person named."""

from django.core.management.base import CommandError

from .models import Organization, Utility


def utility_named(name: str) -> Utility:
    found = Utility.objects.filter(name=name).first()
    if found is None:
        known = ", ".join(Utility.objects.values_list("name", flat=True)[:10]) or "none yet"
        raise CommandError(f"No utility named {name!r} (known: {known}); create_utility makes one.")
    return found


def organization_named(name: str) -> Organization:
    found = Organization.objects.filter(name=name).first()
    if found is None:
        raise CommandError(f"No organization named {name!r}; create_organization makes one.")
    return found
