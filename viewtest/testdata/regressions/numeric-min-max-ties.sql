-- min and max over equal numerics that print differently (0 and 0.00) once
-- gave the view one and its query the other, depending on the order rows
-- were read in; both now break the tie by the identity suffix.
-- settings workers=4 tick=10ms chunk=64
CREATE STREAM s (g int4, n numeric);
INSERT INTO s VALUES (1, 0), (1, 0.00), (2, 0.00), (2, 0), (3, 1.5), (3, 1.50), (3, 1.500);
CREATE MATERIALIZED VIEW v AS SELECT g, min(n) AS lo, max(n) AS hi FROM s GROUP BY g;
-- check
INSERT INTO s VALUES (1, 0.0), (2, 0.000);
-- check
