-- viewtest seed 1796386696512456411: view v1 differs from its query
-- settings workers=1 tick=24ms chunk=1
CREATE TABLE t1 (id int4 PRIMARY KEY, b int8, a int4, s text, ts timestamp);
CREATE STREAM s1 (n numeric(10,2), s text, ts timestamptz, a int4, a2 int4, n2 numeric(10,2));
INSERT INTO t1 VALUES (1, 1, 4, 'B', '2024-01-01 00:01:30'), (2, 7, -1, 'ab', '2024-01-01 00:02:45'), (3, 3, 0, 'B', '2024-01-01 00:01:00'), (4, 7, 3, '', NULL), (5, 0, NULL, 'a b', '2024-01-01 00:01:00'), (6, -2, NULL, 'ab', '2024-01-01 00:00:59.999999'), (7, 7, -1, 'a b', '2024-01-01 00:00:00'), (8, 7, 1, NULL, '2024-01-01 00:01:00'), (9, 4000000000, -1, '', '2024-01-01 00:01:30'), (10, 7, 1, 'b', '2024-01-01 00:02:45');
CREATE MATERIALIZED VIEW v1 AS SELECT x1.ts AS c0, (COALESCE(x2.b, x2.b) + NULL::int4) AS c1, x2.a AS c2, (x1.n2) IS NOT NULL AS c3 FROM s1 x1 JOIN TUMBLE(t1, ts, INTERVAL '1 hour', INTERVAL '1 minute') x2 ON x1.ts = x2.window_start ORDER BY 1 DESC, 2, 3 NULLS FIRST OFFSET 2 FETCH FIRST 3 ROWS WITH TIES;
-- check
INSERT INTO t1 VALUES (11, -2, 4, 'a', '2024-01-01 00:00:59.999999'), (12, 3, 4, '', '2024-01-01 00:00:59.999999');
COPY s1 FROM STDIN;
0.25	a	2024-01-01 00:00:00	2	2	-1.50
0.00	a b	1970-01-01 00:00:00	3	3	10.00
0.00	a	2024-01-01 01:00:00	5	4	1.00
1.00	ab	2024-01-01 00:02:45	1	-1	-1.50
10.00	B	2024-01-01 00:00:00	0	0	-1.50
1.00	ab	1970-01-01 00:00:00	2	1	-1.50
1.00	ab	2024-01-01 00:01:00	4	5	0.25
-1.50	B	2024-01-01 01:00:00	-1	4	-1.50
10.00	a b	1969-12-31 23:59:30	2	3	2.50
1.00	b	2024-01-01 00:01:30	2	-1	0.25
-1.50	B	infinity	5	5	\N
0.00	ab	2024-01-01 00:02:45	0	5	1.00
2.50	b	2024-01-01 00:01:00	4	0	1.00
0.00	a b	infinity	2	\N	-1.50
10.00		2024-01-01 00:00:00	\N	1	1.00
1.00		1970-01-01 00:00:00	4	5	10.00
1.00	b	1970-01-01 00:00:00	0	5	-1.50
0.00	ab	1969-12-31 23:59:30	3	4	-1.50
\.
INSERT INTO s1 VALUES (0.00, '', '2024-01-01 00:00:59.999999', 4, NULL, 0.25), (1.00, 'a b', '2024-01-01 00:01:00', 2, 5, NULL);
-- check
