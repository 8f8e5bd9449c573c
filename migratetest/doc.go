// Package migratetest runs SQL migration tools against Sluice: goose,
// golang-migrate and dbmate, each used as a Go library, apply a folder of
// migrations (testdata/TOOL) that create a table, a stream and a
// materialized view and insert rows; the tests check the tool's version
// bookkeeping and the objects, roll back, and migrate up again. The tests
// need the integration build tag (go test -tags integration ./migratetest)
// and start an in-process Sluice server each.
package migratetest
