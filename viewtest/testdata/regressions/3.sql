-- viewtest seed 3: view v2 differs from its query
-- settings workers=1 tick=106ms chunk=1
CREATE TABLE t1 (id int8 PRIMARY KEY, a int4, n numeric(10,2), ts timestamp, s text);
CREATE TABLE t2 (id int8 PRIMARY KEY, s text, a int4, s2 text, b int8);
CREATE STREAM s1 (n numeric(10,2), s text, ts timestamptz, f boolean, a int4);
CREATE STREAM s2 (n numeric(10,2), s text, a int4, n2 numeric(10,2), a2 int4, ts timestamptz, WATERMARK FOR ts AS ts) WITH (allowed_lateness = '15 seconds');
INSERT INTO s2 VALUES (0.00, 'a b', 4, 2.50, 5, '1969-12-31 23:57:15'), (-1.50, 'a b', 1, 0.25, -1, 'infinity'), (0.25, 'B', -1, 10.00, 2, '1969-12-31 23:57:35'), (0.25, 'B', 1, -1.50, -1, '1969-12-31 23:57:34.999999'), (0.00, 'a b', 3, 0.00, 2, '1969-12-31 23:58:05'), (-1.50, 'ab', 3, -1.50, 5, '1969-12-31 23:56:50'), (-1.50, 'B', 3, 0.00, 0, '1969-12-31 23:57:21');
CREATE MATERIALIZED VIEW v2 AS SELECT 2 AS c0 FROM SESSION(t1, ts, INTERVAL '10 minutes', n) x1 WHERE x1.id <= (SELECT count(x2.a) FROM s2 x2 WHERE x2.ts = x1.window_end AND x2.s = x1.s);
-- check
DELETE FROM t1 WHERE id = 1; INSERT INTO t1 VALUES (1, 3, 0.00, '2024-01-01 00:02:45', 'a b');
INSERT INTO s2 VALUES (-1.50, 'b', 5, 10.00, 2, '1970-01-01 00:01:58'), (-1.50, 'ab', 1, 1.00, 1, '1970-01-01 00:01:28.999999'), (0.25, 'a b', 0, 0.25, 4, '1970-01-01 00:02:49'), (1.00, 'a', -1, 0.25, 4, 'infinity'), (-1.50, 'b', 3, 2.50, 2, '1970-01-01 00:02:05'), (0.00, 'a', 2, -1.50, 3, '1970-01-01 00:02:40'), (-1.50, 'ab', 3, 0.00, -1, '1970-01-01 00:02:25');
INSERT INTO t1 VALUES (23, 1, 2.50, 'infinity', 'B'), (24, 2, -1.50, '1969-12-31 23:59:30', 'ab'), (25, -1, 2.50, 'infinity', 'ab');
DELETE FROM t2 WHERE id = 7;
DELETE FROM t1 WHERE id = 18; INSERT INTO t1 VALUES (18, 4, 1.00, '2024-01-01 00:01:30', 'a');
-- check
