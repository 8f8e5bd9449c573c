//go:build integration

package migratetest

import (
	"context"
	"os"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

func TestGoose(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, startSluice(t))
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("testdata/goose"), goose.WithSessionLocker(locker))
	if err != nil {
		t.Fatal(err)
	}
	checkVersion := func(want int64) {
		t.Helper()
		v, err := p.GetDBVersion(ctx)
		if err != nil || v != want {
			t.Fatalf("goose version %d, %v; want %d", v, err, want)
		}
		st, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if applied := s.Source.Version <= want; applied != (s.State == goose.StateApplied) {
				t.Fatalf("goose status of %d: %s at version %d", s.Source.Version, s.State, want)
			}
		}
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRelations(t, db, allRelations...)
	checkRevenue(t, db, wantRevenue)

	if _, err := p.Down(ctx); err != nil {
		t.Fatal(err)
	}
	checkVersion(2)
	checkRevenue(t, db, "")

	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	checkVersion(0)
	checkRelations(t, db)

	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	checkVersion(3)
	checkRevenue(t, db, wantRevenue)
}
