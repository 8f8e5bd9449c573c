-- CREATE MATERIALIZED VIEW runs in the migration's transaction (the view
-- starts at its COMMIT); DROP MATERIALIZED VIEW cannot run inside one.
-- migrate:up
CREATE MATERIALIZED VIEW mig_revenue AS
  SELECT c.country, count(*) AS rides, sum(r.fare) AS revenue
  FROM mig_rides r JOIN mig_cities c ON r.city = c.city
  GROUP BY c.country;

-- migrate:down transaction:false
DROP MATERIALIZED VIEW mig_revenue;
