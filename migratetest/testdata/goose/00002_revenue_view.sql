-- DROP MATERIALIZED VIEW cannot run inside a transaction block, and NO TRANSACTION is for both directions.
-- +goose NO TRANSACTION
-- +goose Up
CREATE MATERIALIZED VIEW mig_revenue AS
  SELECT c.country, count(*) AS rides, sum(r.fare) AS revenue
  FROM mig_rides r JOIN mig_cities c ON r.city = c.city
  GROUP BY c.country;

-- +goose Down
DROP MATERIALIZED VIEW mig_revenue;
