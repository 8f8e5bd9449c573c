package main

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sluice-db/sluice/"

// deps lists the module's own packages that pkg imports, directly or not.
func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	m := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		if strings.HasPrefix(l, module) {
			m[strings.TrimPrefix(l, module)] = true
		}
	}
	return m
}

// TestImportDirection keeps the layering of DESIGN.md: pgwire talks to the
// engine through an interface and never sees SQL planning; the lower rooms
// never reach up.
func TestImportDirection(t *testing.T) {
	forbidden := map[string][]string{
		"pgwire":            {"engine", "planner", "exec", "storage", "catalog", "parser"},
		"parser":            {"engine", "planner", "exec", "expr", "storage", "catalog", "pgwire", "types"},
		"planner":           {"engine", "pgwire", "storage"},
		"exec":              {"engine", "pgwire", "planner", "storage", "parser"},
		"expr":              {"engine", "pgwire", "planner", "exec", "storage", "catalog"},
		"storage":           {"engine", "pgwire", "planner", "exec", "expr", "catalog", "parser"},
		"types":             {"coldata", "expr", "exec", "storage", "catalog"},
		"coldata":           {"expr", "exec", "storage", "catalog"},
		"sqlerr":            {"types", "coldata", "expr"},
		"timewindow":        {"expr", "exec", "planner", "dataflow", "storage", "catalog", "engine", "pgwire"},
		"connector/datagen": {"engine", "pgwire", "planner", "exec", "storage", "catalog", "parser", "dataflow"},
		"connector/webhook": {"engine", "pgwire", "planner", "exec", "storage", "catalog", "parser", "dataflow"},
		"examples":          {"engine", "pgwire", "planner", "storage", "catalog", "parser"},
	}
	for pkg, bad := range forbidden {
		d := deps(t, pkg)
		for _, b := range bad {
			if d[b] {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
}

// TestBinaryLinksNoTestPackages checks that the binary does not link test
// helpers.
func TestBinaryLinksNoTestPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"cmd/sluice").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" || strings.Contains(p, "goleak") || strings.Contains(p, "datadriven") {
			t.Errorf("sluice links %s", p)
		}
	}
}
