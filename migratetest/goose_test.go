//go:build integration

package migratetest

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// gooseRun is one way of driving goose: up, down, down to, version.
type gooseRun struct {
	up      func() error
	down    func() error
	downTo  func(version int64) error
	version func() (int64, error)
}

func TestGoose(t *testing.T) {
	ctx := context.Background()
	provider := func(t *testing.T, db *sql.DB, opt goose.ProviderOption) (*goose.Provider, gooseRun) {
		p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("testdata/goose"), opt)
		if err != nil {
			t.Fatal(err)
		}
		return p, gooseRun{
			up:      func() error { _, err := p.Up(ctx); return err },
			down:    func() error { _, err := p.Down(ctx); return err },
			downTo:  func(v int64) error { _, err := p.DownTo(ctx, v); return err },
			version: func() (int64, error) { return p.GetDBVersion(ctx) },
		}
	}
	t.Run("session locker", func(t *testing.T) {
		db := openDB(t, startSluice(t))
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			t.Fatal(err)
		}
		p, run := provider(t, db, goose.WithSessionLocker(locker))
		testGoose(t, db, run, func(want int64) {
			t.Helper()
			st, err := p.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range st {
				if applied := s.Source.Version <= want; applied != (s.State == goose.StateApplied) {
					t.Fatalf("goose status of %d: %s at version %d", s.Source.Version, s.State, want)
				}
			}
		})
	})
	t.Run("table locker", func(t *testing.T) {
		db := openDB(t, startSluice(t))
		locker, err := lock.NewPostgresTableLocker()
		if err != nil {
			t.Fatal(err)
		}
		_, run := provider(t, db, goose.WithLocker(locker))
		testGoose(t, db, run, nil)
	})
	// The functions the goose command line runs.
	t.Run("command functions", func(t *testing.T) {
		db := openDB(t, startSluice(t))
		if err := goose.SetDialect("postgres"); err != nil {
			t.Fatal(err)
		}
		goose.SetBaseFS(os.DirFS("testdata"))
		defer goose.SetBaseFS(nil)
		testGoose(t, db, gooseRun{
			up:      func() error { return goose.UpContext(ctx, db, "goose") },
			down:    func() error { return goose.DownContext(ctx, db, "goose") },
			downTo:  func(v int64) error { return goose.DownToContext(ctx, db, "goose", v) },
			version: func() (int64, error) { return goose.GetDBVersionContext(ctx, db) },
		}, func(int64) {
			if err := goose.StatusContext(ctx, db, "goose"); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// testGoose migrates up, down one, down to 0 and up again, checking the
// version (and status, when checkStatus is not nil) and the objects.
func testGoose(t *testing.T, db *sql.DB, run gooseRun, checkStatus func(version int64)) {
	checkVersion := func(want int64) {
		t.Helper()
		v, err := run.version()
		if err != nil || v != want {
			t.Fatalf("goose version %d, %v; want %d", v, err, want)
		}
		if checkStatus != nil {
			checkStatus(want)
		}
	}
	if err := run.up(); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRelations(t, db, allRelations...)
	checkRevenue(t, db, wantRevenue)
	checkComments(t, db)

	if err := run.down(); err != nil {
		t.Fatal(err)
	}
	checkVersion(2)
	checkRevenue(t, db, noRevenue)

	if err := run.downTo(0); err != nil {
		t.Fatal(err)
	}
	checkVersion(0)
	checkRelations(t, db)

	if err := run.up(); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRevenue(t, db, wantRevenue)
}
