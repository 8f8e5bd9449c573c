-- A semi join (IN subquery) holding many rows of one key on its left:
-- counting matches row by row, every change on the right walked all of
-- them, so that an epoch cost its changes times the rows held and a view
-- over such a join fell further behind (viewtest seed
-- 1796311146894667070). Here 120 000 changes to the subquery's table meet
-- 60 000 rows of the key, which the view must absorb within the check's
-- timeout.
-- settings workers=1 tick=10ms chunk=1024
CREATE TABLE s (id int4 PRIMARY KEY, k int4);
CREATE TABLE t (id int4 PRIMARY KEY, k int4);
INSERT INTO s SELECT g, 1 FROM generate_series(1, 60000) g;
INSERT INTO t VALUES (0, 1);
CREATE MATERIALIZED VIEW v AS SELECT * FROM s WHERE k IN (SELECT k FROM t);
-- check
INSERT INTO t SELECT g, 1 FROM generate_series(1, 60000) g;
DELETE FROM t WHERE id > 0;
-- check
