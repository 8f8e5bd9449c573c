package planner

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/datadriven"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// TestNodeChildren checks that nodeChildren visits the same children as
// the reflective walkChildren (whose order protobuf leaves undefined), over
// every node of every query of the golden files.
func TestNodeChildren(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	nodes := 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		datadriven.RunTestFromString(t, string(b), func(t *testing.T, d *datadriven.TestData) string {
			res, err := pg.Parse(d.Input)
			if err != nil || d.Cmd == "table" {
				return d.Expected
			}
			var check func(n *pg.Node)
			check = func(n *pg.Node) {
				nodes++
				fast, slow := map[*pg.Node]int{}, map[*pg.Node]int{}
				var children []*pg.Node
				nodeChildren(n, func(c *pg.Node) { fast[c]++ })
				walkChildren(n.ProtoReflect(), func(c *pg.Node) { slow[c]++; children = append(children, c) })
				if !maps.Equal(fast, slow) {
					t.Fatalf("%s: children of %T: %d by kind, %d by reflection", d.Pos, n.Node, len(fast), len(slow))
				}
				for _, c := range children {
					check(c)
				}
			}
			for _, st := range res.Stmts {
				check(st.Stmt)
			}
			return d.Expected
		})
	}
	if nodes < 1000 {
		t.Fatalf("%d nodes checked: the golden files' queries were not read", nodes)
	}
}
