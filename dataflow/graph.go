package dataflow

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/coldata"
)

// Node is one operator of a Graph. Inputs are node ids; input port i of the
// operator receives the output of Inputs[i].
type Node struct {
	ID     int
	Spec   OpSpec
	Inputs []int
}

// Graph is a DAG of operators with one output node.
type Graph struct {
	Nodes  []*Node
	Output int
}

// Add appends a node reading from inputs and returns its id. Nodes are added
// after their inputs, so ids are a topological order. A node equal to one
// already there (the same operator, deeply equal, on the same inputs) is
// that node: a subquery read twice (a WITH query named in two places) is
// maintained once, its output going to both readers.
func (g *Graph) Add(spec OpSpec, inputs ...int) int {
	for _, n := range g.Nodes {
		if slices.Equal(n.Inputs, inputs) && reflect.DeepEqual(n.Spec, spec) {
			g.Output = n.ID
			return n.ID
		}
	}
	id := len(g.Nodes)
	g.Nodes = append(g.Nodes, &Node{ID: id, Spec: spec, Inputs: inputs})
	g.Output = id
	return id
}

// Sources returns the ids of the Source nodes.
func (g *Graph) Sources() []int {
	var ids []int
	for _, n := range g.Nodes {
		if _, ok := n.Spec.(*Source); ok {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

// PutInputs calls put with each chunk inputs gives a Source node, a source
// after another in the order of Sources: Step's epoch, or an epoch's
// changes that a StepFeed's feed puts after what it reads from storage.
// Ids of other nodes are ignored.
func (g *Graph) PutInputs(inputs map[int][]*coldata.Chunk, put func(src int, c *coldata.Chunk)) {
	for _, src := range g.Sources() {
		for _, c := range inputs[src] {
			put(src, c)
		}
	}
}

// String prints the graph as a tree from the output, one operator a line;
// the partitioning of each exchanged input is shown as "exchange on". A node
// read by several others is printed in full once, then as "(shared)".
func (g *Graph) String() string {
	var sb strings.Builder
	printed := map[int]bool{}
	var walk func(id int, prefix string, last, root bool, note string)
	walk = func(id int, prefix string, last, root bool, note string) {
		n := g.Nodes[id]
		line := n.Spec.String() + note
		shared := printed[id]
		printed[id] = true
		if shared {
			line = "(shared) " + line
		}
		childPrefix := prefix
		switch {
		case root:
			sb.WriteString(line + "\n")
		case last:
			sb.WriteString(prefix + "└── " + line + "\n")
			childPrefix = prefix + "    "
		default:
			sb.WriteString(prefix + "├── " + line + "\n")
			childPrefix = prefix + "│   "
		}
		if shared {
			return
		}
		for i, in := range n.Inputs {
			note := ""
			if p := n.Spec.Partition(i); p != nil {
				if len(p) == 0 {
					note = " [exchange: single]"
				} else {
					note = fmt.Sprintf(" [exchange: hash%v]", p)
				}
			}
			walk(in, childPrefix, i == len(n.Inputs)-1, false, note)
		}
	}
	walk(g.Output, "", true, true, "")
	return sb.String()
}
