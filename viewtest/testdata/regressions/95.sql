-- viewtest seed 95: view v6 differs from its query
-- settings workers=4 tick=181ms chunk=7
CREATE TABLE t1 (id int4 PRIMARY KEY, s text, ts timestamp, b int8, a int4, b2 int8, b3 int8);
CREATE STREAM s1 (ts timestamptz, a int4, a2 int4, n numeric(10,2), s text, WATERMARK FOR ts AS ts - INTERVAL '10 seconds') WITH (allowed_lateness = '0 seconds');
CREATE MATERIALIZED VIEW v1 AS SELECT x1.window_end AS c0, x1.window_end AS c1, x1.window_start AS c2, sum((5::int8 - x1.a)) AS c3, sum((x1.a2)::int8) AS c4, bool_or(x1.n >= x1.n) AS c5 FROM TUMBLE(s1, ts, INTERVAL '1 hour') x1 GROUP BY x1.window_end, x1.window_end, x1.window_start EMIT ON WINDOW CLOSE;
CREATE MATERIALIZED VIEW v6 AS SELECT (abs(CASE WHEN x1.c3 > x1.c4 THEN 10.00 ELSE x1.c4 END))::numeric(20,4) AS c0 FROM SESSION(v1, c0, INTERVAL '2 minutes', c4) x1;
-- check
