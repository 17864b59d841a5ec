"""The portal's formatting filters: every page rounds and localises through these (and so
through stakeholders.formatting, which the admin uses too)."""

from django import template

from stakeholders import formatting

register = template.Library()


@register.filter
def kw(value, digits=1):
    return formatting.kw(value, int(digits))


@register.filter
def kwh(value):
    return formatting.kwh(value)


@register.filter
def pct(value, digits=1):
    return formatting.pct(value, int(digits))


@register.filter
def share(value, digits=1):
    return formatting.share(value, int(digits))


@register.filter
def usd(value):
    return formatting.usd(value)


@register.filter
def kg(value):
    return formatting.kg(value)


@register.filter
def num(value, digits=1):
    return formatting.number(value, int(digits))


@register.filter
def local_time(value, timezone):
    return formatting.local_time(value, timezone)


@register.filter
def local_hour(value, timezone):
    return formatting.local_hour(value, timezone)


@register.filter
def local_day(value):
    return formatting.local_day(value)


@register.simple_tag
def local_window(starts_at, ends_at, timezone):
    return formatting.local_window(starts_at, ends_at, timezone)


@register.filter
def get(mapping, key):
    """mapping[key] in a template (None when absent)."""
    if mapping is None:
        return None
    return mapping.get(key) if hasattr(mapping, "get") else None
