-- viewtest seed 1796281545373578433: view v3 differs from its query
-- settings workers=4 tick=123ms chunk=7
CREATE TABLE t1 (id int8 PRIMARY KEY, ts timestamp, a int4, a2 int4, s text, s2 text);
CREATE STREAM s1 (n numeric(10,2), s text, a int4, b int8);
INSERT INTO t1 VALUES (1, '2024-01-01 00:00:00', -1, 3, 'a b', 'a b');
INSERT INTO s1 VALUES (10.00, 'a', -1, 0), (-1.50, 'B', -1, -2), (2.50, '', 0, 3), (10.00, 'ab', 1, 1), (2.50, 'a', 2, 1), (2.50, 'B', -1, 7), (0.00, '', 5, 4000000000), (0.00, 'a', 1, -2), (-1.50, 'b', 3, 7), (2.50, '', 5, -2), (-1.50, 'b', 5, 3);
CREATE MATERIALIZED VIEW v1 AS SELECT 0 AS c0, NOT (NOT (x1.b <= x1.b)) AS c1, COALESCE(abs(x1.n), round(x1.n, 1)) AS c2 FROM s1 x1 WHERE (x1.a * x1.a) IN (4, 1, 4) UNION ALL SELECT x2.a, COALESCE(x2.b, x2.b) = x2.b, COALESCE(0.5, (1.50 + x2.n)) FROM s1 x2;
CREATE MATERIALIZED VIEW v2 AS SELECT x2.window_start AS c0, abs((x2.id + x2.a2)) AS c1, x2.id AS c2, abs(0.5) AS c3, x1.n AS c4 FROM s1 x1 JOIN TUMBLE(t1, ts, INTERVAL '1 minute') x2 ON x1.s = x2.s JOIN v1 x3 ON x2.a = x3.c0;
CREATE MATERIALIZED VIEW v3 AS SELECT string_agg('a', ',' ORDER BY 'a') AS c0, (avg((3)::numeric))::numeric(20,4) AS c1 FROM TUMBLE(v2, c0, INTERVAL '1 hour') x1 JOIN v2 x2 ON x1.c3 = x2.c3 AND x1.c3 <= x2.c3 WHERE x2.c0 IN (SELECT x3.ts FROM t1 x3) ORDER BY 1, 2 DESC LIMIT 2;
-- check
BEGIN;
INSERT INTO s1 VALUES (-1.50, 'ab', 5, 0), (1.00, '', 2, -2), (10.00, 'B', 0, 4000000000), (10.00, '', 1, 3), (10.00, 'b', 5, 3), (0.25, '', 3, 1), (2.50, 'b', 5, 3);
INSERT INTO s1 VALUES (-1.50, '', -1, 4000000000), (10.00, 'a', 1, 1), (0.00, 'a b', 3, 3), (0.00, 'a', 1, 4000000000), (0.25, 'B', 0, 1), (0.00, 'a', 2, 4000000000), (1.00, 'a', 2, 0);
COPY s1 FROM STDIN;
1.00	B	1	0
10.00	B	2	1
-1.50	ab	4	-2
-1.50	a b	2	-2
0.00	ab	5	1
10.00	ab	1	3
0.00		-1	7
-1.50	a b	2	4000000000
0.25	ab	0	-2
0.25	a b	0	7
\.
INSERT INTO t1 VALUES (2, '2024-01-01 00:01:30', -1, 4, 'B', 'b'), (3, '2024-01-01 00:00:00', 2, 1, 'B', 'B'), (4, '2024-01-01 00:01:30', 5, 5, 'a b', 'a');
COMMIT;
-- check
INSERT INTO s1 VALUES (2.50, 'a', 3, 1);
INSERT INTO t1 VALUES (5, '2024-01-01 01:00:00', 2, 1, 'ab', 'ab');
UPDATE t1 SET s = 'a b', ts = ts + INTERVAL '30 seconds' WHERE id = 2;
COPY s1 FROM STDIN;
10.00	ab	0	0
0.00		2	4000000000
1.00	B	4	1
-1.50		2	-2
10.00	ab	5	3
-1.50	ab	2	7
1.00	b	3	0
0.25	B	5	3
10.00	b	-1	4000000000
0.00	a	1	4000000000
-1.50	b	5	0
1.00	B	0	4000000000
2.50	a	5	4000000000
10.00	ab	2	1
2.50	b	4	1
2.50	a	1	3
1.00	a b	3	0
0.00	a b	1	0
10.00		2	0
10.00	ab	0	4000000000
-1.50	a b	4	0
1.00	a b	2	3
10.00		5	3
2.50	ab	0	1
2.50	b	3	3
\.
-- check
INSERT INTO s1 VALUES (10.00, 'a b', 4, 0), (2.50, 'a b', -1, 0), (1.00, 'b', 2, 7), (0.00, '', 1, 0);
INSERT INTO s1 VALUES (-1.50, 'a', 2, 4000000000), (2.50, 'b', 2, 1), (10.00, 'ab', -1, 0), (0.25, 'B', 0, 0), (-1.50, 'a', 0, 1), (2.50, '', -1, 7), (1.00, 'b', 3, -2);
-- check
UPDATE t1 SET s = upper(s) WHERE s = 'a';
-- check
COPY s1 FROM STDIN;
0.00	b	1	-2
2.50	a	3	4000000000
1.00	a	5	4000000000
10.00	B	2	3
10.00	a b	-1	4000000000
0.25	a	0	4000000000
-1.50	a	4	7
10.00	a	4	3
2.50	a b	1	3
-1.50	B	2	1
2.50	B	1	3
1.00	B	2	1
-1.50	b	1	0
2.50	b	5	-2
\.
-- check
COPY s1 FROM STDIN;
10.00	ab	1	-2
-1.50	a b	3	3
2.50	a b	-1	1
0.00	b	0	0
0.25	a	5	3
0.00	a b	2	4000000000
10.00	a b	1	4000000000
-1.50	ab	1	3
-1.50	B	3	-2
-1.50		2	3
0.25	b	0	0
0.00	B	1	4000000000
0.00	B	1	7
1.00	ab	-1	3
1.00		3	0
\.
INSERT INTO s1 VALUES (-1.50, 'a b', 4, 0), (1.00, '', 1, 7);
UPDATE t1 SET ts = '2024-01-01 00:01:30', s2 = upper(s2) WHERE id % 5 = 0;
-- check
INSERT INTO t1 VALUES (6, '2024-01-01 00:01:30', 5, 2, 'B', 'b'), (7, '1970-01-01 00:00:00', 2, 0, 'a b', 'b'), (8, 'infinity', 2, 1, 'a b', 'a b');
-- check
INSERT INTO s1 VALUES (0.25, 'a', 5, 1);
UPDATE t1 SET ts = ts + INTERVAL '30 seconds', s = upper(s) WHERE id % 5 = 0;
UPDATE t1 SET s2 = 'a' WHERE a2 = -1;
COPY s1 FROM STDIN;
0.00	ab	1	7
-1.50		-1	7
2.50		3	0
10.00	a	4	0
10.00	ab	-1	0
\.
-- check
INSERT INTO s1 VALUES (10.00, 'ab', 5, 7), (10.00, 'ab', 2, -2), (1.00, 'a b', 2, 3), (0.25, 'b', 5, 3), (-1.50, 'a', 4, 1), (0.25, 'B', 0, 3);
UPDATE t1 SET ts = '2024-01-01 00:00:00', s2 = upper(s2) WHERE id % 3 = 0;
-- check
UPDATE t1 SET ts = '2024-01-01 00:02:45', s2 = 'a b' WHERE id % 3 = 0;
-- check
INSERT INTO s1 VALUES (2.50, 'b', 2, 4000000000), (2.50, 'b', 4, 0);
COPY s1 FROM STDIN;
1.00	a b	0	1
2.50	b	0	7
10.00	ab	2	0
1.00	a	4	3
0.25	a	0	1
2.50		5	1
2.50	ab	2	1
0.00	a b	4	7
0.25	a	-1	3
0.00	b	1	0
1.00	b	4	3
2.50	a	1	0
0.00		1	0
0.25	B	5	1
1.00	B	-1	4000000000
0.00	ab	0	0
10.00	a	2	3
1.00	ab	0	3
0.25	a	3	1
1.00	b	-1	0
1.00	ab	3	-2
10.00	a	4	7
0.00	B	3	3
2.50	a	2	1
\.
-- check
BEGIN;
INSERT INTO s1 VALUES (1.00, 'b', 1, 0), (0.25, 'B', 1, 0), (-1.50, 'B', -1, 4000000000), (1.00, 'ab', 3, -2), (0.25, 'ab', 2, 0), (10.00, 'B', 5, 7), (2.50, '', 3, 3);
UPDATE t1 SET ts = '1969-12-31 23:59:30' WHERE id = 2;
INSERT INTO t1 VALUES (9, '2024-01-01 00:00:59.999999', 4, 4, 'B', 'a b'), (10, '2024-01-01 00:00:00', 3, 5, 'B', 'a'), (11, '1969-12-31 23:59:30', 5, 1, 'a b', 'B');
INSERT INTO s1 VALUES (0.00, 'B', 5, 3), (2.50, 'a', 2, 1), (1.00, 'a b', 3, 0), (1.00, 'b', 0, 3), (10.00, 'a b', 1, 0);
INSERT INTO s1 VALUES (0.25, 'a b', 1, 4000000000), (10.00, 'B', 1, 7);
COMMIT;
-- check
