-- +goose Up
CREATE MATERIALIZED VIEW mig_revenue AS
  SELECT c.country, count(*) AS rides, sum(r.fare) AS revenue
  FROM mig_rides r JOIN mig_cities c ON r.city = c.city
  GROUP BY c.country;
-- A view over the view created in the same transaction.
CREATE MATERIALIZED VIEW mig_revenue_total AS
  SELECT count(*) AS countries, coalesce(sum(rides), 0) AS rides FROM mig_revenue;
COMMENT ON MATERIALIZED VIEW mig_revenue IS 'rides and revenue per country';
COMMENT ON COLUMN mig_cities.country IS 'ISO 3166 code';

-- +goose Down
DROP MATERIALIZED VIEW mig_revenue_total;
DROP MATERIALIZED VIEW mig_revenue;
