package dataflow

import (
	"fmt"
	"strings"
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
// after their inputs, so ids are a topological order.
func (g *Graph) Add(spec OpSpec, inputs ...int) int {
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

// String prints the graph as a tree from the output, one operator a line;
// the partitioning of each exchanged input is shown as "exchange on".
func (g *Graph) String() string {
	var sb strings.Builder
	var walk func(id int, prefix string, last, root bool, note string)
	walk = func(id int, prefix string, last, root bool, note string) {
		n := g.Nodes[id]
		line := n.Spec.String() + note
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
