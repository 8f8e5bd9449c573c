-- min and max over a stream keep only the running extreme; equal values
-- that print differently (float -0 and 0, intervals '1 day' and '24
-- hours') must tie-break as the batch query does, whatever order rows
-- arrive in.
-- settings workers=4 tick=10ms chunk=64
CREATE STREAM s (g int4, f float8, i interval);
INSERT INTO s VALUES (1, 0, '1 day'), (1, '-0', '24 hours'), (2, '-0', '24 hours'), (2, 0, '1 day'), (3, 'NaN', '1 mon'), (3, 2.5, '30 days');
CREATE MATERIALIZED VIEW v AS SELECT g, min(f) AS flo, max(f) AS fhi, min(i) AS ilo, max(i) AS ihi FROM s GROUP BY g;
-- check
INSERT INTO s VALUES (1, 0, '24 hours'), (2, '-0', '1 day'), (3, 'NaN', '1 mon');
-- check
