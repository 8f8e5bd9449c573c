-- ANY/ALL whose left side and subquery column (or array element) differ in
-- type compared the column's values as the operator's type without a cast:
-- numeric < ANY (SELECT int4) was false for every row (seeds
-- 1796338173877685310, 1796345637775262032).
CREATE TABLE t1 (id int4 PRIMARY KEY, b int8, ts timestamptz);
INSERT INTO t1 VALUES (1, 5, '2024-01-01 00:00:00+00'), (2, 7, '2024-01-02 00:00:00+00'), (3, NULL, '2024-01-02 00:00:00+00'), (4, 1, NULL), (5, 12, '2024-01-03 00:00:00+00');
CREATE TABLE t2 (id int4);
INSERT INTO t2 VALUES (6), (NULL), (10);
-- query rowsort
SELECT x.id FROM t1 x WHERE (SELECT sum(y.b) FROM t1 y WHERE y.ts = x.ts) < ANY (SELECT z.id FROM t2 z);
-- query rowsort
SELECT x.id, (SELECT sum(y.b) FROM t1 y WHERE y.ts = x.ts) < ANY (SELECT z.id FROM t2 z) FROM t1 x;
-- query rowsort
SELECT x.id, (SELECT sum(y.b) FROM t1 y WHERE y.ts = x.ts) >= ALL (SELECT z.id FROM t2 z WHERE z.id IS NOT NULL) FROM t1 x;
-- query rowsort
SELECT x.id, x.b::numeric < ANY (ARRAY[6, 10]), x.b::numeric > ALL (ARRAY[6, 10]), x.b::float8 = ANY (ARRAY[5, 7]) FROM t1 x;
-- query rowsort
SELECT x.id, x.id::int8 IN (SELECT z.id FROM t2 z), x.id::numeric NOT IN (SELECT z.id FROM t2 z WHERE z.id IS NOT NULL) FROM t1 x;
