//go:build integration

package migratetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// TestGolangMigrateWaitsForLock holds the advisory lock golang-migrate
// takes: it waits until the lock is released.
func TestGolangMigrateWaitsForLock(t *testing.T) {
	ctx := context.Background()
	url := startSluice(t)
	db := openDB(t, url)
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	// The key golang-migrate's Open computes: the URL's path names the database.
	aid, err := database.GenerateAdvisoryLockId("/sluice", "public", "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_lock($1)", aid); err != nil {
		t.Fatal(err)
	}

	src, err := iofs.New(os.DirFS("testdata/migrate"), ".")
	if err != nil {
		t.Fatal(err)
	}
	// Opening takes the lock too (to create the version table).
	done := make(chan error, 1)
	go func() {
		m, err := migrate.NewWithSourceInstance("iofs", src, strings.Replace(url, "postgres://", "pgx5://", 1))
		if err != nil {
			done <- err
			return
		}
		defer m.Close()
		done <- m.Up()
	}()
	select {
	case err := <-done:
		t.Fatalf("migrate up ran while another session held its lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	checkRelations(t, db)

	var released bool
	if err := holder.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", aid).Scan(&released); err != nil || !released {
		t.Fatalf("unlock: %v %v", released, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("migrate up still waiting after the lock was released")
	}
	checkRelations(t, db, allRelations...)
}
