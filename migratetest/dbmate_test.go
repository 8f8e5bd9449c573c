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

	// dbmate up: it looks for the database in pg_database from a session
	// of database postgres, does not find it, sends CREATE DATABASE, which
	// lists the name, and migrates.
	if err := dm.CreateAndMigrate(); err != nil {
		t.Fatal(err)
	}
	var listed bool
	if err := db.QueryRow("SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'sluice')").Scan(&listed); err != nil || !listed {
		t.Fatalf("sluice in pg_database after dbmate up: %v, %v", listed, err)
	}
	// dbmate create of a database that exists fails, as on PostgreSQL.
	if err := dm.Create(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("dbmate create of an existing database: %v", err)
	}
	checkPending(0)
	checkRelations(t, db, allRelations...)
	checkRevenue(t, db, wantRevenue)
	checkComments(t, db)

	if err := dm.Rollback(); err != nil {
		t.Fatal(err)
	}
	checkPending(1)
	checkRevenue(t, db, noRevenue)
	for range 2 {
		if err := dm.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	checkPending(3)
	checkRelations(t, db)

	// dbmate up again: the database is listed now, so it only migrates.
	if err := dm.CreateAndMigrate(); err != nil {
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
