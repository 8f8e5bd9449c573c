package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/sluice-db/sluice/server"
)

// startSluice starts a Sluice server in this process on loopback ports with
// its data in dataDir and kafka streams reading kafkaBrokers, and returns a
// pgx URL for it and a function that shuts it down (gracefully: engine and
// storage are closed). configure changes the server's configuration first.
// The process's collector runs at `sluice serve`'s GOGC
// (server.DefaultGCPercent) unless GOGC is set, so that the figures are a
// server's: its pace decides how far the heap grows, and with it the page
// faults of a drain that keeps its rows.
func startSluice(ctx context.Context, dataDir string, kafkaBrokers []string, configure ...func(*server.Config)) (url string, stop func() error, err error) {
	if pct, ok := server.GCPercent(false, server.DefaultGCPercent, os.Getenv("GOGC")); ok {
		debug.SetGCPercent(pct)
	}
	cfg := server.Config{
		PGAddr:       "127.0.0.1:0",
		HTTPAddr:     "127.0.0.1:0",
		DataDir:      dataDir,
		Logger:       slog.New(slog.DiscardHandler),
		KafkaBrokers: kafkaBrokers,
	}
	for _, c := range configure {
		c(&cfg)
	}
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return "", nil, err
	}
	url = fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", s.PGAddr())
	return url, s.Close, nil
}
