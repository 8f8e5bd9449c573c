"""SQLAlchemy 1.4 (over psycopg2) against Sluice: usage
sqlalchemy_client.py URL.

create_engine runs SQLAlchemy's dialect initialisation (version, standard
strings, isolation level queries); inspect() reflects tables, views and
materialized views through pg_catalog.
"""

import sys
import time

import sqlalchemy as sa

from sluicecheck import check, expect, finish, poll

url = sys.argv[1]
engine = None


def connect():
    global engine
    engine = sa.create_engine(url, future=True)
    with engine.connect() as conn:
        expect(conn.execute(sa.text("SELECT 1")).scalar(), 1, "SELECT 1")
        expect(engine.dialect.server_version_info[0], 16, "server version")


def core():
    md = sa.MetaData()
    rides = sa.Table(
        "sa_rides",
        md,
        # NB: Sluice has no sequences, so no SERIAL.
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("fare", sa.Numeric(10, 2)),
        sa.Column("at", sa.DateTime(timezone=True)),
    )
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(rides.insert(), [
            {"id": 1, "city": "Paris", "fare": 10, "at": "2024-01-01T00:00:00+00:00"},
            {"id": 2, "city": "Lyon", "fare": 5, "at": "2024-01-01T00:01:00+00:00"},
            {"id": 3, "city": "Paris", "fare": 7, "at": "2024-01-01T00:02:00+00:00"},
        ])
    # stream_results reads through a psycopg2 named cursor (DECLARE, FETCH).
    with engine.connect().execution_options(stream_results=True, max_row_buffer=2) as conn:
        ids = [r.id for r in conn.execute(sa.select(rides.c.id).order_by(rides.c.id))]
        expect(ids, [1, 2, 3], "stream_results")
    with engine.connect() as conn:
        q = sa.select(rides.c.city, sa.func.count()).where(rides.c.fare > sa.bindparam("min")).group_by(rides.c.city).order_by(rides.c.city)
        expect(conn.execute(q, {"min": 6}).all(), [("Paris", 2)], "select")
    # A transaction that fails rolls back.
    try:
        with engine.begin() as conn:
            conn.execute(rides.insert(), {"id": 4, "city": "Nice", "fare": 1})
            conn.execute(sa.text("SELECT 1 / 0"))
    except sa.exc.DBAPIError as e:
        expect(e.orig.pgcode, "22012", "division by zero")
    with engine.connect() as conn:
        expect(conn.execute(sa.select(sa.func.count()).select_from(rides)).scalar(), 3, "rolled back")


def views():
    # CREATE MATERIALIZED VIEW runs outside transaction blocks in Sluice.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("CREATE STREAM sa_events (k text, v int8, at timestamptz)"))
        conn.execute(sa.text("CREATE MATERIALIZED VIEW sa_totals AS SELECT k, sum(v) AS total, count(*) AS n FROM sa_events GROUP BY k"))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sa_events VALUES ('a', 1, now())"))
    with engine.connect() as conn:
        poll(lambda: conn.execute(sa.text("SELECT k, total FROM sa_totals")).all(), [("a", 1)], "view")


def reflect():
    insp = sa.inspect(engine)
    expect(sorted(n for n in insp.get_table_names() if n.startswith("sa_")), ["sa_events", "sa_rides"], "tables")
    # SQLAlchemy 1.4 lists materialized views with the views.
    expect([n for n in insp.get_view_names() if n.startswith("sa_")], ["sa_totals"], "views")
    expect([n for n in insp.get_view_names(include=("materialized",)) if n.startswith("sa_")], ["sa_totals"], "materialized views")
    expect([n for n in insp.get_view_names(include=("plain",)) if n.startswith("sa_")], [], "plain views")
    cols = [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns("sa_rides")]
    expect(cols, [("id", "INTEGER", False), ("city", "TEXT", False), ("fare", "NUMERIC(10, 2)", True),
                  ("at", "TIMESTAMP", True)], "table columns")
    expect(insp.get_pk_constraint("sa_rides")["constrained_columns"], ["id"], "primary key")
    cols = [(c["name"], str(c["type"])) for c in insp.get_columns("sa_totals")]
    expect(cols, [("k", "TEXT"), ("total", "NUMERIC"), ("n", "BIGINT")], "view columns")
    expect("SELECT" in insp.get_view_definition("sa_totals").upper(), True, "view definition")
    expect(insp.has_table("sa_rides"), True, "has_table")
    expect("public" in insp.get_schema_names(), True, "schemas")
    md = sa.MetaData()
    md.reflect(engine, views=True)
    expect(sorted(n for n in md.tables if n.startswith("sa_")), ["sa_events", "sa_rides", "sa_totals"], "MetaData.reflect")
    # Table reflection into a MetaData, as autoload does.
    t = sa.Table("sa_totals", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        expect(conn.execute(sa.select(t.c.k, t.c.n)).all(), [("a", 1)], "reflected view select")


check("connect", connect)
if engine is None:
    finish()
check("core", core)
check("views", views)
check("reflection", reflect)
finish()
