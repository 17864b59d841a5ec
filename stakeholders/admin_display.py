"""How the back office shows a JSON mapping to a person: its keys as labels, its values
formatted by the unit in their name (stakeholders.formatting), as an HTML table."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django.utils.html import format_html, format_html_join

from stakeholders import formatting

UNIT_SUFFIXES: tuple[tuple[str, Callable], ...] = (
    ("_usd_per_kwh", lambda v: f"${formatting.number(v, 2)} per kWh"),
    ("_kg_per_kwh", lambda v: f"{formatting.number(v, 3)} kg per kWh"),
    ("_kwh", formatting.kwh),
    ("_kw", formatting.kw),
    ("_pct", formatting.pct),
    ("_usd", formatting.usd),
    ("_kg", formatting.kg),
    ("_share", formatting.share),
    ("_mb", lambda v: f"{formatting.number(v, 1)} MB"),
    ("_s", lambda v: f"{formatting.number(v, 1)} s"),
    ("_h", lambda v: f"{formatting.number(v, 1)} h"),
    ("_c", lambda v: f"{formatting.number(v, 1)} °C"),
)
MAX_ROWS = 24
MAX_LISTED = 12


def _is_probability(key: str, value) -> bool:
    return key.startswith("p_") and isinstance(value, float) and 0 <= value <= 1


def readable_label(key: str) -> str:
    """'peak_reduction_pct' -> 'peak reduction' (the value carries the unit);
    'p_target_met' -> 'P(target met)'."""
    if key.startswith("p_"):
        return f"P({key[2:].replace('_', ' ')})"
    for suffix, _ in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return str(key).replace("_", " ")


def readable_value(key: str, value, *, timezone: str | None = None, depth: int = 1):
    """One value of a JSON mapping, for a person: numbers with the unit their key names,
    times in `timezone`, nested mappings and lists of rows as small tables (`depth` levels
    deep, summarised below that)."""
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if _is_probability(key, value):
            return formatting.share(value)
        for suffix, write in UNIT_SUFFIXES:
            if key.endswith(suffix):
                return write(value)
        if isinstance(value, int) or value.is_integer():
            return f"{int(value):,}"
        # A figure with no unit in its name: a score below 1 to three decimals, else one.
        return formatting.number(value, 3 if abs(value) < 1 else 1)
    if isinstance(value, str):
        if timezone and key.endswith("_at"):
            try:
                return formatting.local_time(value, timezone)
            except ValueError:
                return value
        return value
    if isinstance(value, Mapping):
        if depth <= 0:
            return f"{len(value)} entries"
        return readable_table(value, timezone=timezone, depth=depth - 1)
    if isinstance(value, list | tuple):
        if value and all(isinstance(row, Mapping) for row in value):
            if depth <= 0:
                return f"{len(value)} rows"
            return readable_rows(value, timezone=timezone)
        if len(value) > MAX_LISTED or depth <= 0:
            return f"{len(value):,} values"
        return ", ".join(str(readable_value(key, item, timezone=timezone)) for item in value)
    return str(value)


def readable_table(
    mapping: Mapping | None,
    *,
    timezone: str | None = None,
    depth: int = 1,
    formats: Mapping[str, Callable] | None = None,
) -> str:
    """A JSON mapping as a two-column table, never as raw JSON. `formats` writes a key whose
    name does not carry its unit (a season's "cost" is dollars)."""
    if not mapping:
        return formatting.DASH
    formats = formats or {}
    rows = (
        (
            readable_label(key),
            formats[key](value)
            if key in formats and value is not None
            else readable_value(key, value, timezone=timezone, depth=depth),
        )
        for key, value in mapping.items()
    )
    return format_html(
        '<table class="readable"><tbody>{}</tbody></table>',
        format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
    )


def readable_rows(rows: list[Mapping], *, timezone: str | None = None) -> str:
    """A list of JSON rows (a calibration table, a list of steps) as a table."""
    columns: list[str] = []
    for row in rows[:MAX_ROWS]:
        columns.extend(key for key in row if key not in columns)
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "",
                    "<td>{}</td>",
                    (
                        (readable_value(key, row.get(key), timezone=timezone, depth=0),)
                        for key in columns
                    ),
                ),
            )
            for row in rows[:MAX_ROWS]
        ),
    )
    more = f"… and {len(rows) - MAX_ROWS} more" if len(rows) > MAX_ROWS else ""
    return format_html(
        '<table class="readable"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}',
        format_html_join("", "<th>{}</th>", ((readable_label(key),) for key in columns)),
        body,
        more,
    )
