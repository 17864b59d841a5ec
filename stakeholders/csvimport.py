"""Shared shape of CSV imports: every bad row is reported with its line and reason, a file with
any error saves nothing, and a file is read as a stream, never whole.

The encoding is UTF-8 (with or without a byte-order mark), UTF-16 with its mark, or what
charset-normalizer recognises in the first 64 KiB (an Excel CSV saved as Windows-1252, say);
anything else is refused with a line that says how to save the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import charset_normalizer
from django.core.files.storage import default_storage
from django.core.management.base import CommandError
from django.db import transaction

from jobs.models import JobRun
from jobs.services import JobContext, JobRefused, job_create

MAX_REPORTED_ERRORS = 200
MAX_FIELD_CHARS = 10_000
SAMPLE_BYTES = 64 * 1024
PROGRESS_EVERY = 20_000  # rows between two progress reports
SAVE_AS_UTF8 = "save it as 'CSV UTF-8' and try again"


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class CsvImportError(ValueError):
    """The file has errors; nothing from it was saved."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = errors
        self.total = max(total or 0, len(errors))
        shown = "; ".join(str(error) for error in errors[:5])
        more = f" (and {self.total - 5} more)" if self.total > 5 else ""
        super().__init__(f"{self.total} error(s), nothing saved: {shown}{more}")


@dataclass
class RowErrors:
    """The errors of one file: all counted, the first MAX_REPORTED_ERRORS kept with their line."""

    kept: list[RowError] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_REPORTED_ERRORS:
            self.kept.append(RowError(line, reason))

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_any(self) -> None:
        if self.count:
            raise CsvImportError(sorted(self.kept, key=lambda error: error.line), self.count)


@dataclass
class CsvFile:
    """A CSV opened for reading: its rows, the encoding it was read with and the columns of its
    header that the importer does not read (named in the answer, their values ignored)."""

    rows: Iterator[tuple[int, dict[str, str]]]
    encoding: str
    ignored_columns: list[str]
    columns: list[str]


def _binary(stream) -> io.BufferedIOBase:
    if isinstance(stream, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(stream))
    if isinstance(stream, io.TextIOBase):
        raise TypeError("pass the file opened in binary mode")
    return stream


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file from its first bytes; CsvImportError when none fits."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        if b"\x00" not in sample:
            return "utf-8"
    if b"\x00" in sample:
        raise CsvImportError(
            [RowError(1, f"the file is not text (it holds NUL bytes); {SAVE_AS_UTF8}")]
        )
    best = charset_normalizer.from_bytes(sample).best()
    if best is None or best.encoding.startswith("utf_16") or best.encoding.startswith("utf_32"):
        raise CsvImportError(
            [RowError(1, f"the file's encoding is not one this import recognises; {SAVE_AS_UTF8}")]
        )
    return best.encoding


def open_csv(
    stream, *, required: list[str], optional: list[str] = (), errors: RowErrors
) -> CsvFile:
    """Open a CSV byte stream (or bytes) whose header has `required`, for reading row by row.
    A row that does not fit the header goes to `errors` and is not yielded."""
    binary = _binary(stream)
    start = binary.tell() if binary.seekable() else 0
    sample = binary.read(SAMPLE_BYTES)
    if binary.seekable():
        binary.seek(start)
        sample_back = b""
    else:
        sample_back = sample
    encoding = detect_encoding(sample)
    # Read through a stream of our own, so that closing it leaves the caller's file open.
    text = io.TextIOWrapper(
        io.BufferedReader(_Prefixed(sample_back, binary)),
        encoding=encoding,
        errors="strict",
        newline="",
    )
    reader = csv.reader(text)
    try:
        header = [name.strip() for name in next(reader, [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CsvImportError([RowError(1, _unreadable(exc, encoding))]) from None
    if not any(header):
        raise CsvImportError([RowError(1, "the file is empty or its first line is not a header")])
    if any("\x00" in name for name in header):
        raise CsvImportError([RowError(1, f"the header holds a NUL character; {SAVE_AS_UTF8}")])
    missing = [name for name in required if name not in header]
    if missing:
        raise CsvImportError(
            [
                RowError(
                    1,
                    f"the header lacks column(s) {', '.join(missing)}; it has {', '.join(header)}",
                )
            ]
        )
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise CsvImportError([RowError(1, f"the header names {', '.join(repeated)} twice")])
    known = set(required) | set(optional)
    ignored = [name for name in header if name not in known]
    return CsvFile(_rows(reader, header, encoding, errors), encoding, ignored, header)


def _rows(
    reader, header: list[str], encoding: str, errors: RowErrors
) -> Iterator[tuple[int, dict[str, str]]]:
    width = len(header)
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvImportError([RowError(line + 1, _unreadable(exc, encoding))]) from None
        line = reader.line_num
        if not values or values == [""] * len(values):
            continue
        if len(values) != width:
            comma = " (a decimal comma? write numbers with a point)" if len(values) > width else ""
            errors.add(line, f"the row has {len(values)} values, the header {width}{comma}")
            continue
        if any(len(value) > MAX_FIELD_CHARS or "\x00" in value for value in values):
            errors.add(
                line, f"a value is longer than {MAX_FIELD_CHARS:,} characters or holds a NUL"
            )
            continue
        yield (
            line,
            {name: value.strip() for name, value in zip(header, values, strict=True) if name},
        )


def _unreadable(exc: Exception, encoding: str) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"a byte here is not valid {encoding} text; {SAVE_AS_UTF8}"
    return f"the row cannot be read as CSV ({exc})"


class _Prefixed(io.RawIOBase):
    """The caller's stream, with what was already read of it put back in front, that leaves it
    open when closed."""

    def __init__(self, prefix: bytes, rest) -> None:
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count], self._prefix = self._prefix[:count], self._prefix[count:]
            return count
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def parse_float(
    value: str, *, name: str, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A finite number within [minimum, maximum]; ValueError with the reason otherwise."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} {value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} {number:g} is below {minimum:g}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} {number:g} is above {maximum:g}")
    return number


def parse_int(value: str, *, name: str, minimum: int, maximum: int) -> int:
    """A whole number within [minimum, maximum]; ValueError with the reason otherwise."""
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a whole number") from None
    if not minimum <= number <= maximum:
        raise ValueError(f"{name} {number} is outside {minimum}-{maximum}")
    return number


def import_file_for_command(command, csv_path: str, importer) -> dict:
    """Run `importer(stream=binary file)` on a file for a management command: every bad row goes
    to stderr with its line, and the command stops with the count (nothing was saved)."""
    try:
        with open(csv_path, "rb") as stream:
            return importer(stream=stream)
    except OSError as exc:
        raise CommandError(f"Cannot read {csv_path}: {exc}") from None
    except CsvImportError as exc:
        for error in exc.errors:
            command.stderr.write(str(error))
        if exc.total > len(exc.errors):
            command.stderr.write(f"... and {exc.total - len(exc.errors):,} more")
        raise CommandError(f"{exc.total:,} error(s) in {csv_path}; nothing was saved.") from None


def import_notes(counts: dict) -> list[str]:
    """What a person should know of an import that landed: the encoding it was read with when
    not UTF-8, the columns it ignored, the values flagged for review."""
    notes = []
    if counts.get("encoding", "utf-8") not in ("utf-8", "utf-8-sig"):
        notes.append(f"Read as {counts['encoding']} (not UTF-8): check accented names.")
    if counts.get("ignored_columns"):
        notes.append(
            f"Ignored column(s) this import does not read: {', '.join(counts['ignored_columns'])}."
        )
    if counts.get("review_count"):
        notes.append(f"{counts['review_count']:,} value(s) flagged for review:")
        notes.extend(counts["review"])
        if counts["review_count"] > len(counts["review"]):
            notes.append(f"... and {counts['review_count'] - len(counts['review']):,} more.")
    if counts.get("repeated_hours_not_kept"):
        notes.append(
            f"{counts['repeated_hours_not_kept']} repeated fall-back hour(s) accepted; the series "
            "keep the first pass."
        )
    return notes


def write_import_notes(command, counts: dict) -> None:
    for note in import_notes(counts):
        command.stdout.write(command.style.WARNING(note))


UPLOAD_FOLDER = "imports"


def csv_upload_job_create(*, kind: str, upload, params: dict, requested_by=None) -> JobRun:
    """Keep an uploaded CSV in the file storage and queue the import job that reads it (the
    job deletes the file when it is done). A page shows the job's progress and its answer."""
    name = default_storage.save(f"{UPLOAD_FOLDER}/{uuid.uuid4().hex}.csv", upload)
    with transaction.atomic():
        return job_create(
            kind=kind,
            params={**params, "file": name, "file_name": getattr(upload, "name", "")[:200]},
            requested_by=requested_by,
        )


def csv_import_work(context: JobContext, importer) -> None:
    """An import job's work: `importer(stream=, progress=)` on the stored upload, progress by
    the bytes read. A file with errors fails the job with its line-numbered reasons (nothing
    saved), kept in the job's result for the page to show. The upload is deleted once the job
    has its answer; a crash leaves it for the retry."""
    name = context.params["file"]
    if not default_storage.exists(name):
        raise JobRefused("The uploaded file is gone: upload it again.")
    size = max(default_storage.size(name), 1)
    try:
        with default_storage.open(name, "rb") as stream:

            def progress(rows: int) -> None:
                context.progress(90 * stream.tell() / size, note=f"{rows:,} rows read", rows=rows)

            counts = importer(stream=stream, progress=progress)
    except CsvImportError as exc:
        default_storage.delete(name)
        raise JobRefused(
            f"{exc.total:,} error(s) in {context.params.get('file_name') or 'the file'}; "
            "nothing was saved.",
            {"errors": [[error.line, error.reason] for error in exc.errors],
             "error_count": exc.total},
        ) from None  # fmt: skip
    with context.commit(result={**counts, "notes": import_notes(counts)}):
        context.counts.update(rows=counts.get("rows", counts.get("buildings", 0)))
    default_storage.delete(name)
