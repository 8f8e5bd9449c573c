-- Numerics that are equal but print differently stay distinct rows: the
-- view once showed 0.00, 0.00, 1.5, 1.5 where its query shows 0.00, 0.0,
-- 1.5, 1.50, and 2.000 twice where the query shows 2.0 and 2.000.
-- settings workers=1 tick=10ms chunk=1024
CREATE STREAM s (n numeric);
INSERT INTO s VALUES (0.00), (0.0), (1.5), (1.50);
CREATE MATERIALIZED VIEW v AS SELECT n FROM s;
-- check
INSERT INTO s VALUES (2.0);
INSERT INTO s VALUES (2.000);
-- check
