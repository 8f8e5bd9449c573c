package sqllogictest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"time"
)

// DefaultURL is where `sluice serve` listens by default.
const DefaultURL = "postgres://sluice@127.0.0.1:5488/sluice?sslmode=disable"

// Main is `sluice slt [flags] FILES|DIRS...`. It returns the process exit
// code: 0 when every file passed, 1 when a record failed, 2 on bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", DefaultURL, "postgres:// URL of the server to test")
	rewrite := fs.Bool("rewrite", false, "rewrite expected query results in place from actual output")
	engine := fs.String("engine", "", "engine name for skipif/onlyif: sluice or postgresql (default: detect)")
	verbose := fs.Bool("v", false, "print each record as it runs")
	eventually := fs.Duration("eventually-timeout", 10*time.Second, "how long `query ... eventually` retries")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sluice slt [--url URL] [--rewrite] [--engine sluice|postgresql] FILE|DIR...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *engine != "" && *engine != EngineSluice && *engine != EnginePostgreSQL {
		fmt.Fprintf(stderr, "slt: unknown engine %q\n", *engine)
		return 2
	}
	files, err := ExpandPaths(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "slt: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r := &Runner{URL: *url, Engine: *engine, Rewrite: *rewrite, EventuallyTimeout: *eventually}
	if *verbose {
		r.Verbose = stdout
	}
	code, total, failed := 0, 0, 0
	for _, f := range files {
		res, err := r.RunFile(ctx, f)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR %s: %v\n", f, err)
			code = 1
			continue
		}
		for _, fl := range res.Failures {
			fmt.Fprint(stdout, fl.String())
		}
		fmt.Fprintln(stdout, res)
		total += res.Records
		failed += len(res.Failures)
		if !res.OK() {
			code = 1
		}
	}
	fmt.Fprintf(stdout, "%d files, %d records, %d failures\n", len(files), total, failed)
	return code
}

// ExpandPaths turns arguments into .slt file paths: a directory stands for
// the *.slt files directly in it, sorted.
func ExpandPaths(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.slt"))
		if err != nil {
			return nil, err
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}
