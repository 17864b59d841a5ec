"""Shared shape of CSV imports: every bad row is reported with its line and reason, and a file
with any error saves nothing."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

MAX_REPORTED_ERRORS = 200


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class CsvImportError(ValueError):
    """The file has errors; nothing from it was saved."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "; ".join(str(error) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} error(s), nothing saved: {shown}{more}")


def read_rows(stream, *, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a CSV text or byte stream whose header has `required`."""
    if isinstance(stream, bytes | bytearray):
        stream = io.StringIO(stream.decode("utf-8-sig"))
    elif not isinstance(stream, io.TextIOBase):
        stream = io.TextIOWrapper(stream, encoding="utf-8-sig")
    reader = csv.DictReader(stream)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in required if name not in header]
    if missing:
        raise CsvImportError(
            [RowError(1, f"the header lacks column(s) {', '.join(missing)}; it has {header}")]
        )
    reader.fieldnames = header
    for row in reader:
        yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def parse_float(value: str, *, name: str, minimum: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name} {value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} {number:g} is below {minimum:g}")
    return number


def import_file_for_command(command, csv_path: str, importer) -> dict:
    """Run `importer(stream=bytes)` on a file for a management command: every bad row goes to
    stderr with its line, and the command stops with the count (nothing was saved)."""
    from django.core.management.base import CommandError

    try:
        with open(csv_path, "rb") as stream:
            return importer(stream=stream.read())
    except OSError as exc:
        raise CommandError(f"Cannot read {csv_path}: {exc}") from None
    except CsvImportError as exc:
        for error in exc.errors:
            command.stderr.write(str(error))
        raise CommandError(
            f"{len(exc.errors)} error(s) in {csv_path}; nothing was saved."
        ) from None
