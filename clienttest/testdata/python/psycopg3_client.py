"""psycopg 3 against Sluice: usage psycopg3_client.py DSN.

psycopg 3 binds parameters on the server (extended query protocol): %t
sends a parameter as text, %b as binary, and binary=True asks for binary
results.
"""

import datetime
import sys
import threading
import time

import psycopg
import psycopg.errors
from psycopg.types.json import Json, Jsonb

from sluicecheck import TYPES, apply_changes, check, expect, finish, poll, table_name

dsn = sys.argv[1]
conn = None


def adapt(typ, val):
    if typ == "json":
        return Json(val)
    if typ == "jsonb":
        return Jsonb(val)
    return val


def connect():
    global conn
    conn = psycopg.connect(dsn, autocommit=True, application_name="psycopg3-test")
    expect(conn.info.server_version >= 160000, True, "server_version")
    expect(conn.info.parameter_status("application_name"), "psycopg3-test", "application_name")
    expect(conn.execute("SELECT 1").fetchone(), (1,), "SELECT 1")


def types(fmt, binary):
    def run():
        prefix = "pg3" + fmt.strip("%")
        for i, (typ, val, text) in enumerate(TYPES):
            tbl = table_name(prefix, i)
            conn.execute(f"CREATE TABLE {tbl} (id int PRIMARY KEY, v {typ})")
            conn.execute(f"INSERT INTO {tbl} VALUES ({fmt}, {fmt})", (1, adapt(typ, val)))
            with conn.cursor(binary=binary) as cur:
                cur.execute(f"SELECT v, v::text FROM {tbl} WHERE id = {fmt}", (1,))
                expect(cur.fetchone(), (val, text), typ)
                cur.execute(f"SELECT {fmt}::{typ}", (adapt(typ, val),))
                expect(cur.fetchone(), (val,), typ + " parameter")
                # Untyped parameters take the column's type.
                cur.execute(f"SELECT count(*) FROM {tbl} WHERE id = {fmt}", (1,))
                expect(cur.fetchone(), (1,), typ + " count")
                cur.execute(f"SELECT NULL::{typ}")
                expect(cur.fetchone(), (None,), typ + " NULL")

    return run


def prepared():
    conn.execute("CREATE TABLE pg3_prep (id int PRIMARY KEY, name text)")
    for i in range(3):
        conn.execute("INSERT INTO pg3_prep VALUES (%s, %s)", (i, f"n{i}"), prepare=True)
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            for i in range(3):
                cur.execute("SELECT name FROM pg3_prep WHERE id = %s", (i,), prepare=True)
                expect(cur.fetchall(), [(f"n{i}",)], "prepared select")
    # executemany pipelines one prepared statement.
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO pg3_prep VALUES (%s, %s)", [(i, f"m{i}") for i in range(10, 20)])
    expect(conn.execute("SELECT count(*) FROM pg3_prep").fetchone(), (13,), "executemany")


def transactions():
    conn.execute("CREATE TABLE pg3_txn (id int PRIMARY KEY)")
    with psycopg.connect(dsn) as tx:
        tx.execute("INSERT INTO pg3_txn VALUES (%s)", (1,))
        expect(tx.info.transaction_status, psycopg.pq.TransactionStatus.INTRANS, "status")
        tx.commit()
        tx.execute("INSERT INTO pg3_txn VALUES (%s)", (2,))
        tx.rollback()
    with conn.transaction():
        conn.execute("INSERT INTO pg3_txn VALUES (%s)", (3,))
    try:
        with conn.transaction():
            conn.execute("INSERT INTO pg3_txn VALUES (%s)", (4,))
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    rows = conn.execute("SELECT id FROM pg3_txn ORDER BY id").fetchall()
    expect(rows, [(1,), (3,)], "committed rows")


def errors():
    try:
        conn.execute("SELECT * FROM pg3_nope")
        raise AssertionError("no error")
    except psycopg.errors.UndefinedTable as e:
        expect(e.sqlstate, "42P01", "undefined table")
        expect(e.diag.message_primary, 'relation "pg3_nope" does not exist', "message")
    try:
        conn.execute("SELECT 1 / %s", (0,))
        raise AssertionError("no error")
    except psycopg.errors.DivisionByZero as e:
        expect(e.sqlstate, "22012", "division by zero")
    expect(conn.execute("SELECT 2").fetchone(), (2,), "after errors")


def cancel():
    threading.Timer(0.3, conn.cancel).start()
    start = time.monotonic()
    try:
        conn.execute("SELECT pg_sleep(10)")
        raise AssertionError("not canceled")
    except psycopg.errors.QueryCanceled as e:
        expect(e.sqlstate, "57014", "canceled")
    expect(time.monotonic() - start < 5, True, "cancel took under 5s")
    expect(conn.execute("SELECT 3").fetchone(), (3,), "after cancel")


def pipeline():
    # Pipeline mode: several extended-protocol queries before one Sync.
    with conn.pipeline():
        a = conn.execute("SELECT %s::int8 + 1", (41,))
        b = conn.execute("SELECT %s::text || '!'", ("hi",))
        c = conn.execute("SELECT count(*) FROM pg3_prep")
    expect((a.fetchone(), b.fetchone(), c.fetchone()), ((42,), ("hi!",), (13,)), "pipeline")


def named_cursor():
    conn.execute("CREATE TABLE pg3_big (id int PRIMARY KEY, v text)")
    conn.execute("INSERT INTO pg3_big SELECT g, 'v' || g FROM generate_series(1, 100) AS g")
    # A server cursor is DECLARE with bound parameters, a protocol Describe
    # of the cursor's portal and FETCH FORWARD.
    for binary in (False, True):
        with conn.transaction(), conn.cursor(name="pg3_named", binary=binary) as cur:
            cur.itersize = 7
            cur.execute("SELECT id, v FROM pg3_big WHERE id > %s ORDER BY id", (10,))
            expect([d.name for d in cur.description], ["id", "v"], "description")
            expect(cur.fetchmany(2), [(11, "v11"), (12, "v12")], "fetchmany")
            expect([r[0] for r in cur], list(range(13, 101)), "iteration")
    # In autocommit a server cursor needs WITH HOLD.
    with conn.cursor(name="pg3_held", withhold=True) as cur:
        cur.execute("SELECT id FROM pg3_big WHERE id <= %s ORDER BY id", (5,))
        expect(cur.fetchall(), [(i,) for i in range(1, 6)], "held cursor")


def copy():
    conn.execute("CREATE TABLE pg3_copy (id int PRIMARY KEY, v text, at timestamptz)")
    rows = [(i, f"v{i}", datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)) for i in range(50)]
    for fmt in ("TEXT", "BINARY"):
        conn.execute("DELETE FROM pg3_copy")
        with conn.cursor() as cur:
            with cur.copy(f"COPY pg3_copy (id, v, at) FROM STDIN (FORMAT {fmt})") as cp:
                cp.set_types(["int4", "text", "timestamptz"])
                for r in rows:
                    cp.write_row(r)
            with cur.copy(f"COPY (SELECT id, v, at FROM pg3_copy ORDER BY id) TO STDOUT (FORMAT {fmt})") as cp:
                cp.set_types(["int4", "text", "timestamptz"])
                expect(list(cp.rows()), rows, fmt)


def subscribe():
    conn.execute("CREATE STREAM pg3_events (k text, v int8)")
    conn.execute("CREATE MATERIALIZED VIEW pg3_totals AS SELECT k, sum(v) AS total FROM pg3_events GROUP BY k")
    conn.execute("INSERT INTO pg3_events VALUES (%s, %s), (%s, %s)", ("a", 1, "b", 2))
    poll(lambda: conn.execute("SELECT k, total FROM pg3_totals ORDER BY k").fetchall(), [("a", 1), ("b", 2)], "view")
    with psycopg.connect(dsn) as sub:
        for binary in (False, True):
            with sub.transaction(), sub.cursor(binary=binary) as cur:
                cur.execute("DECLARE c CURSOR FOR SUBSCRIBE pg3_totals")
                state = {}

                def fetch():
                    cur.execute("FETCH 10 c WITH (timeout = '1s')")
                    expect([d.name for d in cur.description][:2], ["sluice_epoch", "sluice_diff"], "columns")
                    return apply_changes(state, cur.fetchall())

                want = {"a": 1, "b": 2} if not binary else {"a": 4, "b": 2}
                deadline = time.monotonic() + 10
                while state != want and time.monotonic() < deadline:
                    fetch()
                expect(state, want, "snapshot")
                if binary:
                    continue
                conn.execute("INSERT INTO pg3_events VALUES (%s, %s)", ("a", 3))
                retractions = 0
                while state != {"a": 4, "b": 2} and time.monotonic() < deadline:
                    retractions += fetch()
                expect(state, {"a": 4, "b": 2}, "changes")
                expect(retractions, 1, "retractions")


check("connect", connect)
if conn is None:
    finish()
check("types_text", types("%t", False))
check("types_binary", types("%b", True))
check("prepared", prepared)
check("transactions", transactions)
check("errors", errors)
check("cancel", cancel)
check("pipeline", pipeline)
check("named_cursor", named_cursor)
check("copy", copy)
check("subscribe_cursor", subscribe)
conn.close()
finish()
