package dataflow

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluice-db/sluice/coldata"
	"github.com/sluice-db/sluice/expr"
	"github.com/sluice-db/sluice/types"
)

// testOp builds an OpSpec for the datadriven "graph" command from the types
// of its inputs and its key=value arguments.
type testOp func(inputs [][]*types.T, args map[string]string) (OpSpec, error)

// testOps holds the operators the datadriven files can name; each
// operator's test file registers its own.
var testOps = map[string]testOp{
	"union": func(in [][]*types.T, _ map[string]string) (OpSpec, error) {
		return &Union{Typs: in[0], Inputs: len(in)}, nil
	},
	"filter-gt": func(in [][]*types.T, args map[string]string) (OpSpec, error) {
		// filter-gt col=N val=V keeps rows whose int column N exceeds V.
		col, _ := strconv.Atoi(args["col"])
		val, _ := strconv.ParseInt(args["val"], 10, 64)
		return &Filter{Typs: in[0], Cond: &intGreater{col: col, val: val}}, nil
	},
}

// intGreater is a test predicate: column col > val.
type intGreater struct {
	col int
	val int64
}

func (g *intGreater) Type() *types.T { return types.Bool }
func (g *intGreater) String() string { return fmt.Sprintf("#%d > %d", g.col, g.val) }
func (g *intGreater) Eval(_ *expr.EvalCtx, c *coldata.Chunk) (*coldata.Vec, error) {
	out := coldata.NewVec(types.Bool, c.Len)
	in := c.Cols[g.col]
	for i := 0; i < c.Len; i++ {
		out.Bools = append(out.Bools, !in.IsNull(i) && in.Ints[i] > g.val)
	}
	return out, nil
}

// parseArgs splits "a b k=v" into positional tokens and key=value pairs.
func parseArgs(fields []string) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	return pos, kv
}

// ints parses "0,2" into column ordinals ("" is an empty, non-nil list).
func ints(s string) []int {
	out := []int{}
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

type harness struct {
	df      *Dataflow
	g       *Graph
	names   map[string]int
	pending map[int][]*coldata.Chunk
	// watermarks are the sources' watermarks for the next barrier; once a
	// graph's test sets one, barriers print the output watermark.
	watermarks     map[int]int64
	showWatermarks bool
	epoch          int
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		defer func() {
			if h.df != nil {
				h.df.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := h.run(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

func (h *harness) run(d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "graph":
		// graph [workers=N] [chunk=K], then lines "name = op inputs... k=v"
		// ("name = source type... [reference]" for inputs, reference for
		// reference data); the last line is the output.
		if h.df != nil {
			h.df.Close()
		}
		workers, chunk := 1, coldata.DefaultChunkSize
		for _, a := range d.CmdArgs {
			switch a.Key {
			case "workers":
				workers, _ = strconv.Atoi(a.Vals[0])
			case "chunk":
				chunk, _ = strconv.Atoi(a.Vals[0])
			}
		}
		h.g, h.names, h.pending, h.epoch = &Graph{}, map[string]int{}, map[int][]*coldata.Chunk{}, 0
		h.watermarks, h.showWatermarks = map[int]int64{}, false
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			name, def, ok := strings.Cut(line, "=")
			if !ok {
				return "", fmt.Errorf("bad graph line %q", line)
			}
			fields := strings.Fields(def)
			pos, kv := parseArgs(fields[1:])
			var spec OpSpec
			var inputs []int
			if fields[0] == "source" {
				var ts []*types.T
				reference := false
				for _, p := range pos {
					if p == "reference" {
						reference = true
						continue
					}
					typ := types.ByName(p)
					if typ == nil {
						return "", fmt.Errorf("unknown type %q", p)
					}
					ts = append(ts, typ)
				}
				spec = &Source{Name: strings.TrimSpace(name), Typs: ts, Reference: reference}
			} else {
				mk, ok := testOps[fields[0]]
				if !ok {
					return "", fmt.Errorf("unknown operator %q", fields[0])
				}
				var inTypes [][]*types.T
				for _, p := range pos {
					id, ok := h.names[p]
					if !ok {
						return "", fmt.Errorf("unknown input %q", p)
					}
					inputs = append(inputs, id)
					inTypes = append(inTypes, h.g.Nodes[id].Spec.Types())
				}
				var err error
				if spec, err = mk(inTypes, kv); err != nil {
					return "", err
				}
			}
			h.names[strings.TrimSpace(name)] = h.g.Add(spec, inputs...)
		}
		var err error
		h.df, err = newDataflow(h.g, &expr.EvalCtx{Cfg: types.DefaultConfig()}, Workers(workers), ChunkSize(chunk))
		if err != nil {
			return "", err
		}
		return h.g.String(), nil
	case "push":
		// push <source>, then lines "<diff> <value>...", NULL for NULL.
		src, ok := h.names[d.CmdArgs[0].Key]
		if !ok {
			return "", fmt.Errorf("unknown source %q", d.CmdArgs[0].Key)
		}
		ts := h.g.Nodes[src].Spec.Types()
		c := NewChanges(ts, 0)
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			fields := strings.Fields(line)
			if len(fields) != len(ts)+1 {
				return "", fmt.Errorf("row %q: want a diff and %d values", line, len(ts))
			}
			diff, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return "", err
			}
			row := make([]types.Datum, len(ts))
			for i, f := range fields[1:] {
				if f == "NULL" {
					continue
				}
				if row[i], err = types.ParseText(ts[i], f, types.DefaultConfig()); err != nil {
					return "", err
				}
			}
			c.AppendRow(row)
			c.Diffs = append(c.Diffs, diff)
		}
		h.pending[src] = append(h.pending[src], c)
		return "", nil
	case "watermark":
		// watermark <source>=<timestamp>|none...: the sources' watermarks
		// at the next barrier (a source not named keeps its last one).
		for _, a := range d.CmdArgs {
			src, ok := h.names[a.Key]
			if !ok {
				return "", fmt.Errorf("unknown source %q", a.Key)
			}
			if a.Vals[0] == "none" {
				h.watermarks[src] = NoWatermark
				continue
			}
			ts, err := types.ParseText(types.Timestamp, a.Vals[0], types.DefaultConfig())
			if err != nil {
				return "", err
			}
			h.watermarks[src] = ts.(int64)
		}
		h.showWatermarks = true
		return "", nil
	case "state":
		// state <node>: the state a join or session window holds, over all
		// workers.
		node, ok := h.names[d.CmdArgs[0].Key]
		if !ok {
			return "", fmt.Errorf("unknown node %q", d.CmdArgs[0].Key)
		}
		if _, ok := h.g.Nodes[node].Spec.(*SessionWindow); ok {
			var rows, sessions, partitions int
			for _, wk := range h.df.workers {
				r, s, p := wk.ops[node].(*sessionOp).held()
				rows, sessions, partitions = rows+r, sessions+s, partitions+p
			}
			return fmt.Sprintf("rows: %d, sessions: %d, partitions: %d\n", rows, sessions, partitions), nil
		}
		var rows [2]int
		for _, wk := range h.df.workers {
			j, ok := wk.ops[node].(*joinOp)
			if !ok {
				return "", fmt.Errorf("node %q is neither a join nor a session window", d.CmdArgs[0].Key)
			}
			n := j.heldRows()
			rows[0], rows[1] = rows[0]+n[0], rows[1]+n[1]
		}
		return fmt.Sprintf("left rows: %d, right rows: %d\n", rows[0], rows[1]), nil
	case "barrier":
		// barrier: end the epoch and print its consolidated output, sorted,
		// then its watermark once the test has set any.
		outs, wm, err := h.df.Step(h.pending, h.watermarks)
		out := stepOutput(h.df, outs)
		h.pending, h.watermarks = map[int][]*coldata.Chunk{}, map[int]int64{}
		if err != nil {
			return "", err
		}
		h.epoch++
		if !h.showWatermarks {
			return formatChanges(out), nil
		}
		return formatChanges(out) + "watermark: " + formatWatermark(wm) + "\n", nil
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func formatWatermark(wm int64) string {
	switch wm {
	case NoWatermark:
		return "none"
	case Unconstrained:
		return "unconstrained"
	}
	return string(types.AppendText(nil, types.Timestamp, wm, types.DefaultConfig()))
}

// formatChanges prints a change chunk a row a line ("<diff> <values>"),
// sorted so that output does not depend on worker scheduling.
func formatChanges(c *coldata.Chunk) string {
	lines := make([]string, c.Len)
	cfg := types.DefaultConfig()
	for i := 0; i < c.Len; i++ {
		parts := []string{fmt.Sprintf("%+d", c.Diffs[i])}
		for _, v := range c.Cols {
			if v.IsNull(i) {
				parts = append(parts, "NULL")
				continue
			}
			parts = append(parts, string(types.AppendText(nil, v.Typ, v.Get(i), cfg)))
		}
		lines[i] = strings.Join(parts, " ")
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "(no changes)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}
