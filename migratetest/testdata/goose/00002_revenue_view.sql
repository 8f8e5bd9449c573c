-- +goose Up
CREATE MATERIALIZED VIEW mig_revenue AS
  SELECT c.country, count(*) AS rides, sum(r.fare) AS revenue
  FROM mig_rides r JOIN mig_cities c ON r.city = c.city
  GROUP BY c.country;

-- +goose Down
DROP MATERIALIZED VIEW mig_revenue;
