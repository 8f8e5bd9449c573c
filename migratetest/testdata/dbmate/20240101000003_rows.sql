-- migrate:up
INSERT INTO mig_cities VALUES ('paris', 'fr'), ('lyon', 'fr'), ('berlin', 'de');
INSERT INTO mig_rides VALUES
  (1, 'paris', 10.50, '2024-01-01 10:00:00+00'),
  (2, 'lyon', 7.25, '2024-01-01 10:01:00+00'),
  (3, 'berlin', 12.00, '2024-01-01 10:02:00+00');

-- migrate:down
-- A stream is append-only: its rows stay, and without the cities the view
-- has no rows.
DELETE FROM mig_cities WHERE city IN ('paris', 'lyon', 'berlin');
