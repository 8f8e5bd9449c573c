// Package examples holds the demo's SQL scripts: streams of generated
// clicks, orders and rides, a users reference table, and windowed views
// over them. They run with psql -f (in name order), and are embedded in the
// binary so that sluice demo creates the same objects; every statement is
// idempotent (IF NOT EXISTS, ON CONFLICT DO NOTHING), so both may run again
// on the same data directory.
package examples

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed *.sql
var scripts embed.FS

// Script is one example file.
type Script struct {
	Name string
	SQL  string
}

// Scripts returns the example files in the order they run.
func Scripts() ([]Script, error) {
	names, err := fs.Glob(scripts, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Script, len(names))
	for i, n := range names {
		b, err := scripts.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[i] = Script{Name: n, SQL: string(b)}
	}
	return out, nil
}
