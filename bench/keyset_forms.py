"""How each engine plans a keyset cursor's condition: the rows a page after a cursor reads, for
each way of writing the condition (db/paging.py, ``Keyset.after``).

    .venv/bin/python bench/keyset_forms.py [--rows 200000] [--days 5] \
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] \
        [--mariadb mysql://root@127.0.0.1:3306/test]

A table of ``--rows`` rows over ``--days`` days (ties on the day, as invoices on a posting
date), an index on (day, id), and a page of 51 rows newest first after a cursor in the middle of
the middle day, asked with the condition written three ways: the ``OR`` (``d <= x AND (d < x OR
(d = x AND id < y))``), the row value (``d <= x AND (d, id) < (x, y)``) and both (what
``Keyset.after`` writes). Printed per engine and form: the rows the engine read for the page
(PostgreSQL: ``EXPLAIN ANALYZE``'s rows of the scan plus those its filter removed; MariaDB:
``ANALYZE``'s ``r_rows``; SQLite cannot say, so its median time of 20 pages is printed).
Each engine's table is temporary (PostgreSQL, SQLite) or dropped at the end (MariaDB).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import time

import psycopg
import pymysql

FORMS = {
    "OR": "d <= %(day)s AND (d < %(day)s OR (d = %(day)s AND id < %(id)s))",
    "row value": "d <= %(day)s AND (d, id) < (%(day)s, %(id)s)",
    "both": (
        "d <= %(day)s AND (d, id) < (%(day)s, %(id)s)"
        " AND (d < %(day)s OR (d = %(day)s AND id < %(id)s))"
    ),
}
PAGE = "SELECT id, d, pad FROM kp WHERE {condition} ORDER BY d DESC, id DESC LIMIT 51"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--mariadb", default="mysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    middle_day = args.days // 2
    day = f"2026-01-{1 + middle_day:02d}"
    # Ids are spread evenly over the days: half of the day's rows come before this cursor.
    cursor = {"day": day, "id": args.rows // 2 + 1}
    print(
        f"{args.rows:,} rows over {args.days} days; a page of 51 after ({day}, {cursor['id']}), "
        f"{args.rows // args.days:,} rows on that day"
    )
    for form, condition in FORMS.items():
        print(f"  PostgreSQL {form:<10} {postgres_rows(args, condition, cursor):>9,} rows read")
    for form, condition in FORMS.items():
        print(f"  MariaDB    {form:<10} {mariadb_rows(args, condition, cursor):>9,} rows read")
    connection = sqlite_table(args)
    for form, condition in FORMS.items():
        print(f"  SQLite     {form:<10} {sqlite_ms(connection, condition, cursor):9.3f} ms a page")


def _rows(args: argparse.Namespace) -> list[tuple[int, str]]:
    return [(n, f"2026-01-{1 + n % args.days:02d}") for n in range(1, args.rows + 1)]


def postgres_rows(args: argparse.Namespace, condition: str, cursor: dict[str, object]) -> int:
    with psycopg.connect(args.postgres) as connection:
        connection.execute("CREATE TEMPORARY TABLE kp (id bigint PRIMARY KEY, d date, pad text)")
        with connection.cursor().copy("COPY kp (id, d, pad) FROM STDIN") as copy:
            for n, day in _rows(args):
                copy.write_row((n, day, "x"))
        connection.execute("CREATE INDEX ix_kp ON kp (d, id)")
        connection.execute("ANALYZE kp")
        plan = "\n".join(
            row[0]
            for row in connection.execute(
                "EXPLAIN (ANALYZE, TIMING OFF) " + PAGE.format(condition=condition), cursor
            )
        )
    scanned = re.search(r"Scan.*?rows=\d+.*?rows=(\d+)", plan)
    removed = re.search(r"Rows Removed by Filter: (\d+)", plan)
    return int(scanned.group(1) if scanned else 0) + int(removed.group(1) if removed else 0)


def mariadb_rows(args: argparse.Namespace, condition: str, cursor: dict[str, object]) -> int:
    match = re.match(r"mysql://(\w+)@([\d.]+):(\d+)/(\w+)", args.mariadb)
    assert match, args.mariadb
    user, host, port, database = match.groups()
    connection = pymysql.connect(host=host, port=int(port), user=user, database=database)
    try:
        with connection.cursor() as sql:
            sql.execute("DROP TABLE IF EXISTS kp")
            sql.execute("CREATE TABLE kp (id BIGINT PRIMARY KEY, d DATE, pad VARCHAR(10))")
            sql.executemany("INSERT INTO kp (id, d, pad) VALUES (%s, %s, 'x')", _rows(args))
            sql.execute("CREATE INDEX ix_kp ON kp (d, id)")
            sql.execute("ANALYZE TABLE kp")
            sql.fetchall()
            sql.execute("ANALYZE " + PAGE.format(condition=condition), cursor)
            names = [column[0] for column in sql.description]
            plan = dict(zip(names, sql.fetchone(), strict=True))
            sql.execute("DROP TABLE kp")
        return round(float(plan["r_rows"]))
    finally:
        connection.close()


def sqlite_table(args: argparse.Namespace) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE kp (id INTEGER PRIMARY KEY, d TEXT, pad TEXT)")
    connection.execute("CREATE INDEX ix_kp ON kp (d, id)")
    connection.executemany("INSERT INTO kp (id, d, pad) VALUES (?, ?, 'x')", _rows(args))
    connection.execute("ANALYZE")
    return connection


def sqlite_ms(connection: sqlite3.Connection, condition: str, cursor: dict[str, object]) -> float:
    statement = PAGE.format(condition=re.sub(r"%\((\w+)\)s", r":\1", condition))
    times = []
    for _ in range(20):
        started = time.perf_counter()
        connection.execute(statement, cursor).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
