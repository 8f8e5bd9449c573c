// Package psqltest runs the real psql binary against Sluice: its describe
// commands (\d, \dt, \d+ name, \dn, \l, …) send psql's own catalog queries,
// so they test pg_catalog, the catalog functions and the planner end to end.
// The expected output is a golden file (testdata/describe, -rewrite to
// regenerate), and with SLUICE_TEST_PG_URL set every command also runs
// against real PostgreSQL over equivalent objects and must print the same,
// up to the normalisations the test names. It holds only tests (build tag
// integration).
package psqltest
