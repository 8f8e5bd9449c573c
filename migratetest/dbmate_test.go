//go:build integration

package migratetest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/amacneil/dbmate/v2/pkg/dbmate"
	_ "github.com/amacneil/dbmate/v2/pkg/driver/postgres"
)

func TestDbmate(t *testing.T) {
	sluiceURL := startSluice(t)
	db := openDB(t, sluiceURL)
	u, err := url.Parse(sluiceURL)
	if err != nil {
		t.Fatal(err)
	}
	dm := dbmate.New(u)
	dm.MigrationsDir = []string{"testdata/dbmate"}
	dm.AutoDumpSchema = false // the dump runs pg_dump
	dm.Log = testLog{t}
	checkPending := func(want int) {
		t.Helper()
		pending, err := dm.Status(true)
		if err != nil || pending != want {
			t.Fatalf("dbmate status: %d pending, %v; want %d", pending, err, want)
		}
	}

	// dbmate migrate (dbmate up would first try CREATE DATABASE: it looks
	// for the database in pg_database from a session of database postgres).
	if err := dm.Migrate(); err != nil {
		t.Fatal(err)
	}
	checkPending(0)
	checkRelations(t, db, allRelations...)
	checkRevenue(t, db, wantRevenue)

	if err := dm.Rollback(); err != nil {
		t.Fatal(err)
	}
	checkPending(1)
	checkRevenue(t, db, "")
	for range 2 {
		if err := dm.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	checkPending(3)
	checkRelations(t, db)

	if err := dm.Migrate(); err != nil {
		t.Fatal(err)
	}
	checkPending(0)
	checkRevenue(t, db, wantRevenue)
}

// testLog sends dbmate's output to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
