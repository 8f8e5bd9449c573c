-- A stream is append-only: its rows stay, and without the cities the view
-- has no rows.
DELETE FROM mig_cities WHERE city IN ('paris', 'lyon', 'berlin');
