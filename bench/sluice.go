package bench

import (
	"cmp"
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
// faults of a drain that keeps its rows. Its heap is advised for huge
// pages as `sluice serve` does unless SLUICE_HEAP_HUGE_PAGES is off.
func startSluice(ctx context.Context, dataDir string, kafkaBrokers []string, configure ...func(*server.Config)) (url string, stop func() error, err error) {
	if pct, ok := server.GCPercent(false, server.DefaultGCPercent, os.Getenv("GOGC")); ok {
		debug.SetGCPercent(pct)
	}
	hugeHeap, err := server.HeapHugePages(cmp.Or(os.Getenv("SLUICE_HEAP_HUGE_PAGES"), "on"))
	if err != nil {
		return "", nil, fmt.Errorf("SLUICE_HEAP_HUGE_PAGES: %w", err)
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
	stopAdvice := server.StartHeapHugePages(hugeHeap, cfg.Logger)
	s, err := server.Start(ctx, cfg)
	if err != nil {
		stopAdvice()
		return "", nil, err
	}
	url = fmt.Sprintf("postgres://sluice@%s/sluice?sslmode=disable", s.PGAddr())
	return url, func() error {
		defer stopAdvice()
		return s.Close()
	}, nil
}
