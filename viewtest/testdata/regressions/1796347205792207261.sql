-- viewtest seed 1796347205792207261: view v5 differs from its query
-- settings workers=3 tick=146ms chunk=1
CREATE TABLE t1 (id int4 PRIMARY KEY, a int4, s text, a2 int4, ts timestamp);
CREATE TABLE t2 (id int8 PRIMARY KEY, s text, ts timestamp, a int4, s2 text, n numeric(10,2));
CREATE STREAM s1 (f boolean, s text, a int4, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '0 seconds') WITH (allowed_lateness = '15 seconds');
CREATE STREAM s2 (b int8, a int4, b2 int8, s text, a2 int4, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '0 seconds');
INSERT INTO s1 VALUES (true, 'ab', 1, '2024-01-01 00:00:01'), (false, 'B', 1, '2023-12-31 23:53:01'), (true, 'ab', 2, NULL), (false, NULL, NULL, '2023-12-31 23:59:21'), (false, 'ab', -1, '2024-01-01 00:00:41'), (true, 'a b', 2, '2024-01-01 00:00:10.999999'), (NULL, 'b', 1, '2023-12-31 23:59:46'), (true, NULL, 1, 'infinity'), (false, 'a', -1, '2024-01-01 00:00:17'), (false, 'ab', 0, NULL);
CREATE MATERIALIZED VIEW v1 AS SELECT x1.window_end AS c0, x1.window_start AS c1, count(*) AS c2 FROM TUMBLE(s1, ts, INTERVAL '45 seconds', INTERVAL '1 minute') x1 WHERE (x1.a IS DISTINCT FROM x1.a) IS NOT NULL GROUP BY x1.window_end, x1.window_start EMIT ON WINDOW CLOSE;
CREATE MATERIALIZED VIEW v5 AS SELECT x1.window_end AS c0 FROM CUMULATE(v1, c1, INTERVAL '30 seconds', INTERVAL '2 minutes', INTERVAL '15 seconds') x1 GROUP BY x1.window_end EMIT ON WINDOW CLOSE;
-- check
