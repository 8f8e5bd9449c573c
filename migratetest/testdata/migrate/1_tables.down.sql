DROP STREAM mig_rides;
DROP TABLE mig_cities;
