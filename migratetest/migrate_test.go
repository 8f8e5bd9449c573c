//go:build integration

package migratetest

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	_ "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// TestGolangMigrate runs golang-migrate with both its Postgres drivers:
// pgx5 (pgx v5) and postgres (lib/pq).
func TestGolangMigrate(t *testing.T) {
	for _, scheme := range []string{"pgx5", "postgres"} {
		t.Run(scheme, func(t *testing.T) { testGolangMigrate(t, scheme) })
	}
}

func testGolangMigrate(t *testing.T, scheme string) {
	url := startSluice(t)
	db := openDB(t, url)
	src, err := iofs.New(os.DirFS("testdata/migrate"), ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, strings.Replace(url, "postgres://", scheme+"://", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkVersion := func(want uint) {
		t.Helper()
		v, dirty, err := m.Version()
		if want == 0 {
			if !errors.Is(err, migrate.ErrNilVersion) {
				t.Fatalf("migrate version %d, %v; want none", v, err)
			}
			return
		}
		if err != nil || v != want || dirty {
			t.Fatalf("migrate version %d (dirty %v), %v; want %d", v, dirty, err, want)
		}
	}

	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRelations(t, db, allRelations...)
	checkRevenue(t, db, wantRevenue)
	checkComments(t, db)

	if err := m.Steps(-1); err != nil {
		t.Fatal(err)
	}
	checkVersion(2)
	checkRevenue(t, db, noRevenue)

	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	checkVersion(0)
	checkRelations(t, db)

	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRevenue(t, db, wantRevenue)
}
