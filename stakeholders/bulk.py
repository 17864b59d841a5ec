"""Writing many rows at once without an ORM instance each: binary COPY on PostgreSQL (into the
table, or through a temporary table for an update or an upsert), bulk_create elsewhere."""

from __future__ import annotations

from django.db import connection, transaction


def bulk_insert(model, columns: list[str], pg_types: list[str], rows) -> int:
    """Insert rows (tuples in `columns` order): binary COPY on PostgreSQL, bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            names = ", ".join(columns)
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(pg_types)
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=5000)
    return len(objects)


def bulk_update(model, fields: list[str], pg_types: list[str], rows) -> int:
    """Set `fields` of many rows at once (tuples of pk and then the fields' values, in
    `fields` order): on PostgreSQL one binary COPY into a temporary table and one UPDATE from
    it, elsewhere Django's bulk_update."""
    rows = list(rows)
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        objects = [model(pk=row[0], **dict(zip(fields, row[1:], strict=True))) for row in rows]
        model.objects.bulk_update(objects, list(fields), batch_size=2000)
        return len(objects)
    table = model._meta.db_table
    names = ", ".join(fields)
    with transaction.atomic(), connection.cursor() as cursor:
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(fields, pg_types, strict=True))
        cursor.execute(
            f"CREATE TEMPORARY TABLE _bulk_update (id int8 PRIMARY KEY, {columns}) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            f"COPY _bulk_update (id, {names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int8", *pg_types])
            for row in rows:
                copy.write_row(row)
        # Without statistics the planner takes the new table for a few rows and scans it for
        # every row updated.
        cursor.execute("ANALYZE _bulk_update")
        assignments = ", ".join(f"{name} = _bulk_update.{name}" for name in fields)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM _bulk_update WHERE {table}.id = _bulk_update.id"
        )
        count = cursor.rowcount
        cursor.execute("DROP TABLE _bulk_update")
    return count


def bulk_upsert(
    model, columns: list[str], pg_types: list[str], rows, *, unique: list[str], update: list[str]
) -> int:
    """Insert rows (tuples in `columns` order), or where a row with the same `unique` columns
    exists set its `update` columns: on PostgreSQL one binary COPY into a temporary table and
    one INSERT ... ON CONFLICT, elsewhere bulk_create with update_conflicts."""
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(
            objects, batch_size=2000, update_conflicts=True, unique_fields=unique,
            update_fields=update,
        )  # fmt: skip
        return len(objects)
    table = model._meta.db_table
    names = ", ".join(columns)
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _bulk_upsert")
        cursor.execute(
            f"CREATE TEMPORARY TABLE _bulk_upsert ON COMMIT DROP AS SELECT {names} FROM {table} "
            "WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY _bulk_upsert ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(pg_types)
            for row in rows:
                copy.write_row(row)
                count += 1
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM _bulk_upsert "
            f"ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {assignments}"
        )
        cursor.execute("DROP TABLE _bulk_upsert")
    return count
