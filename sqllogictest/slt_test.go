package sqllogictest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluice-db/sluice/server"
)

// TestSluice runs every file under testdata against an in-process Sluice.
func TestSluice(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(ctx, server.Config{
		PGAddr:   "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		DataDir:  t.TempDir(),
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	url := fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", srv.PGAddr())
	runCorpus(t, url, EngineSluice)
}
