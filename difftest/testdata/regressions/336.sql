-- Found by difftest seed 336, shrunk by hand; bugs fixed in 8299a38 unless still listed in knownGaps.
CREATE TABLE t1 (id int4 PRIMARY KEY, a int4);
INSERT INTO t1 VALUES (1, 1);
-- typed-null-aggregates-conflated: PostgreSQL NULL | 2024-01-01 05:00:00+00, Sluice ERROR 42804
-- query rowsort
SELECT (min(NULL::int4) * 2), COALESCE(min(NULL::timestamptz), TIMESTAMPTZ '2024-01-01 05:00:00+00') FROM t1;
-- group-by-non-integer-constant: PostgreSQL ERROR 42601, Sluice one row
-- query rowsort
SELECT count(*) FROM t1 GROUP BY '';
-- distinct-agg-order-by-constant: PostgreSQL ERROR 42P10, Sluice 'x'
-- query rowsort
SELECT string_agg(DISTINCT 'x', '|' ORDER BY 'x') FROM t1;
