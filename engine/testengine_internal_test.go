package engine

import (
	"log/slog"
	"testing"

	"github.com/sluice-db/sluice/storage"
)

// testEngine returns an engine over a fresh store, both closed when the
// test ends.
func testEngine(tb testing.TB) (*Engine, *storage.DB) {
	tb.Helper()
	db, err := storage.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	e, err := New(db, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e, db
}
