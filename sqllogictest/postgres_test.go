package sqllogictest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var (
	rewriteFlag = flag.Bool("rewrite", false, "rewrite expected results of the .slt files from actual output")
	fileFlag    = flag.String("files", "", "glob of .slt files to run (default testdata/*.slt)")
)

// corpus lists the .slt files the tests run.
func corpus(t *testing.T) []string {
	t.Helper()
	glob := *fileFlag
	if glob == "" {
		glob = filepath.Join("testdata", "*.slt")
	}
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .slt files match %s", glob)
	}
	return files
}

// runCorpus runs every file as a subtest against url.
func runCorpus(t *testing.T, url, engine string) {
	r := &Runner{URL: url, Engine: engine, Rewrite: *rewriteFlag}
	for _, path := range corpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			res, err := r.RunFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if res.SkippedFile {
				t.Skip("sluice-only")
			}
			for _, f := range res.Failures {
				t.Error(f.String())
			}
			t.Log(res.String())
		})
	}
}

// TestPostgres runs every file not marked `# sluice-only` against the
// PostgreSQL at $SLUICE_TEST_PG_URL (see scripts/pg-test-cluster.sh).
func TestPostgres(t *testing.T) {
	url := os.Getenv("SLUICE_TEST_PG_URL")
	if url == "" {
		t.Skip("SLUICE_TEST_PG_URL not set")
	}
	runCorpus(t, url, EnginePostgreSQL)
}
