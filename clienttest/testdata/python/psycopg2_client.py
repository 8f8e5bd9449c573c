"""psycopg2 against Sluice: usage psycopg2_client.py DSN.

psycopg2 interpolates parameters on the client and speaks the simple query
protocol with text results only, so it has no binary checks.
"""

import io
import sys
import threading
import time

import psycopg2
import psycopg2.errors
import psycopg2.extras

from sluicecheck import TYPES, apply_changes, check, expect, finish, poll, table_name

dsn = sys.argv[1]
psycopg2.extras.register_uuid()
conn = None


def adapt(typ, val):
    return psycopg2.extras.Json(val) if typ in ("json", "jsonb") else val


def connect():
    global conn
    conn = psycopg2.connect(dsn, application_name="psycopg2-test")
    conn.autocommit = True
    expect(conn.server_version >= 160000, True, "server_version")
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        expect(cur.fetchone(), (1,), "SELECT 1")


def types_text():
    with conn.cursor() as cur:
        for i, (typ, val, text) in enumerate(TYPES):
            tbl = table_name("pg2", i)
            cur.execute(f"CREATE TABLE {tbl} (id int PRIMARY KEY, v {typ})")
            cur.execute(f"INSERT INTO {tbl} VALUES (%s, %s)", (1, adapt(typ, val)))
            cur.execute(f"SELECT v, v::text FROM {tbl} WHERE id = %s", (1,))
            got, got_text = cur.fetchone()
            expect(bytes(got) if typ == "bytea" else got, val, typ)
            expect(got_text, text, typ + "::text")
            cur.execute(f"SELECT %s::{typ}", (adapt(typ, val),))
            got = cur.fetchone()[0]
            expect(bytes(got) if typ == "bytea" else got, val, typ + " parameter")
            cur.execute(f"SELECT NULL::{typ}")
            expect(cur.fetchone()[0], None, typ + " NULL")


def prepared():
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_prep (id int PRIMARY KEY, name text)")
        cur.execute("PREPARE ins (int, text) AS INSERT INTO pg2_prep VALUES ($1, $2)")
        for i in range(3):
            cur.execute("EXECUTE ins (%s, %s)", (i, f"n{i}"))
        cur.execute("PREPARE sel (int) AS SELECT name FROM pg2_prep WHERE id = $1")
        cur.execute("EXECUTE sel (%s)", (2,))
        expect(cur.fetchall(), [("n2",)], "EXECUTE sel")
        cur.execute("DEALLOCATE sel")
        cur.execute("DEALLOCATE ins")


def transactions():
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_txn (id int PRIMARY KEY)")
    tx = psycopg2.connect(dsn)
    try:
        with tx.cursor() as cur:
            cur.execute("INSERT INTO pg2_txn VALUES (%s)", (1,))
            expect(tx.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INTRANS, "status")
        tx.commit()
        with tx.cursor() as cur:
            cur.execute("INSERT INTO pg2_txn VALUES (%s)", (2,))
        tx.rollback()
    finally:
        tx.close()
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM pg2_txn ORDER BY id")
        expect(cur.fetchall(), [(1,)], "committed rows")


def errors():
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT * FROM pg2_nope")
            raise AssertionError("no error")
        except psycopg2.errors.UndefinedTable as e:
            expect(e.pgcode, "42P01", "undefined table")
        try:
            cur.execute("SELECT 1 / %s", (0,))
            raise AssertionError("no error")
        except psycopg2.errors.DivisionByZero as e:
            expect(e.pgcode, "22012", "division by zero")
        cur.execute("SELECT 2")
        expect(cur.fetchone(), (2,), "after errors")
    # In a transaction block an error aborts it until ROLLBACK.
    tx = psycopg2.connect(dsn)
    try:
        with tx.cursor() as cur:
            try:
                cur.execute("SELECT 1 / 0")
            except psycopg2.errors.DivisionByZero:
                pass
            try:
                cur.execute("SELECT 1")
                raise AssertionError("no error")
            except psycopg2.errors.InFailedSqlTransaction as e:
                expect(e.pgcode, "25P02", "failed transaction")
        tx.rollback()
    finally:
        tx.close()


def cancel():
    threading.Timer(0.3, conn.cancel).start()
    start = time.monotonic()
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT pg_sleep(10)")
            raise AssertionError("not canceled")
        except psycopg2.errors.QueryCanceled as e:
            expect(e.pgcode, "57014", "canceled")
        expect(time.monotonic() - start < 5, True, "cancel took under 5s")
        cur.execute("SELECT 3")
        expect(cur.fetchone(), (3,), "after cancel")


def named_cursor():
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_big (id int PRIMARY KEY, v text)")
        cur.execute("INSERT INTO pg2_big SELECT g, 'v' || g FROM generate_series(1, 100) AS g")
    tx = psycopg2.connect(dsn)
    try:
        # A named cursor is DECLARE … CURSOR WITHOUT HOLD FOR and FETCH FORWARD.
        cur = tx.cursor(name="pg2_named")
        cur.itersize = 7
        cur.execute("SELECT id FROM pg2_big WHERE id > %s ORDER BY id", (10,))
        expect(cur.fetchmany(3), [(11,), (12,), (13,)], "fetchmany")
        expect([r[0] for r in cur], list(range(14, 101)), "iteration")
        cur.close()
        tx.commit()
    finally:
        tx.close()


def copy():
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE pg2_copy (id int PRIMARY KEY, v text)")
        cur.copy_expert("COPY pg2_copy FROM STDIN WITH (FORMAT csv)", io.StringIO("1,a\n2,\"b,c\"\n"))
        out = io.StringIO()
        cur.copy_expert("COPY (SELECT * FROM pg2_copy ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)", out)
        expect(out.getvalue(), 'id,v\n1,a\n2,"b,c"\n', "copy out")


def subscribe():
    with conn.cursor() as cur:
        cur.execute("CREATE STREAM pg2_events (k text, v int8)")
        cur.execute("CREATE MATERIALIZED VIEW pg2_totals AS SELECT k, sum(v) AS total FROM pg2_events GROUP BY k")
        cur.execute("INSERT INTO pg2_events VALUES (%s, %s), (%s, %s)", ("a", 1, "b", 2))

        def totals():
            cur.execute("SELECT k, total FROM pg2_totals ORDER BY k")
            return cur.fetchall()

        poll(totals, [("a", 1), ("b", 2)], "view")
    sub = psycopg2.connect(dsn)
    try:
        with sub.cursor() as cur:
            cur.execute("DECLARE c CURSOR FOR SUBSCRIBE pg2_totals")
            state = {}

            def fetch():
                cur.execute("FETCH 10 c WITH (timeout = '1s')")
                expect([d[0] for d in cur.description][:2], ["sluice_epoch", "sluice_diff"], "columns")
                return apply_changes(state, cur.fetchall())

            deadline = time.monotonic() + 10
            while state != {"a": 1, "b": 2} and time.monotonic() < deadline:
                fetch()
            expect(state, {"a": 1, "b": 2}, "snapshot")
            with conn.cursor() as ins:
                ins.execute("INSERT INTO pg2_events VALUES (%s, %s)", ("a", 3))
            retractions = 0
            while state != {"a": 4, "b": 2} and time.monotonic() < deadline:
                retractions += fetch()
            expect(state, {"a": 4, "b": 2}, "changes")
            expect(retractions, 1, "retractions")
            cur.execute("CLOSE c")
        sub.commit()
    finally:
        sub.close()


check("connect", connect)
if conn is None:
    finish()
check("types_text", types_text)
check("prepared", prepared)
check("transactions", transactions)
check("errors", errors)
check("cancel", cancel)
check("named_cursor", named_cursor)
check("copy", copy)
check("subscribe_cursor", subscribe)
conn.close()
finish()
