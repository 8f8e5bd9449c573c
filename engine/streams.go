package engine

import (
	"context"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/connector/datagen"
	"github.com/sluice-db/sluice/connector/format"
	"github.com/sluice-db/sluice/connector/kafka"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// streamOptionNames returns the WITH options a stream of a connector
// accepts.
func streamOptionNames(connector string) map[string]bool {
	names := map[string]bool{"connector": true, "allowed_lateness": true, "idle_timeout": true}
	switch connector {
	case "datagen":
		for _, n := range datagen.OptionNames() {
			names[n] = true
		}
	case "kafka":
		for _, n := range kafka.OptionNames {
			names[n] = true
		}
		names["format"] = true
		for _, n := range format.OptionNames() {
			names[n] = true
		}
	}
	return names
}

// streamOptions validates a CREATE STREAM's WITH options.
func streamOptions(defs []*pg.Node, st *statement) (map[string]string, error) {
	connector := "none"
	for _, n := range defs {
		if d := n.GetDefElem(); d != nil && lower(d.Defname) == "connector" {
			connector = lower(defString(d))
		}
	}
	switch connector {
	case "none", "kafka", "datagen":
	default:
		return nil, sqlerr.Unsupported("stream connector \"%s\" is not available", connector).
			WithHint("Streams read Kafka with connector = 'kafka' and generate events with connector = 'datagen'; streams fed by INSERT, COPY and HTTP push use connector = 'none'.")
	}
	opts, err := withOptions(defs, st, "stream", streamOptionNames(connector))
	if err != nil {
		return nil, err
	}
	opts["connector"] = connector
	return opts, nil
}

// columnPaths turns the PATH of a stream's columns into field paths.
func columnPaths(cs *parser.CreateStream, desc *catalog.Table) (map[string][]string, error) {
	if len(cs.Paths) == 0 {
		return nil, nil
	}
	if streamConnector(desc) != "kafka" {
		for col := range cs.Paths {
			return nil, sqlerr.New(sqlerr.InvalidTableDefinition, "PATH needs a connector that decodes records").At(cs.PathPos[col])
		}
	}
	out := map[string][]string{}
	for col, p := range cs.Paths {
		if desc.ColumnIndex(col) < 0 {
			return nil, sqlerr.New(sqlerr.UndefinedColumn, "column \"%s\" does not exist", col).At(cs.PathPos[col])
		}
		fields, err := parsePath(p)
		if err != nil {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid PATH '%s' of column \"%s\": %v", p, col, err).
				WithHint("A path names nested fields: '$.outer.inner', or '$.\"odd name\".inner'.").At(cs.PathPos[col])
		}
		out[col] = fields
	}
	return out, nil
}

// parsePath reads '$.a.b' (fields may be double-quoted) as [a b].
func parsePath(p string) ([]string, error) {
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		return nil, fmt.Errorf("a path starts with $")
	}
	var out []string
	for rest != "" {
		if rest[0] != '.' {
			return nil, fmt.Errorf("expected . before %q", rest)
		}
		rest = rest[1:]
		var name string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted field")
			}
			name, rest = rest[1:end+1], rest[end+2:]
		} else {
			end := strings.IndexAny(rest, `."`)
			if end < 0 {
				end = len(rest)
			}
			name, rest = rest[:end], rest[end:]
		}
		if name == "" {
			return nil, fmt.Errorf("empty field name")
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no field named")
	}
	return out, nil
}

// withOptions reads WITH (name = value, …) options of an object of the
// given kind, refusing names not in valid.
func withOptions(defs []*pg.Node, st *statement, kind string, valid map[string]bool) (map[string]string, error) {
	opts := map[string]string{}
	for _, n := range defs {
		d := n.GetDefElem()
		if d == nil {
			continue
		}
		name := lower(d.Defname)
		if !valid[name] {
			return nil, errUnrecognizedOption(kind, d.Defname, valid).At(st.pos(d.Location))
		}
		opts[name] = defString(d)
	}
	return opts, nil
}

func streamConnector(t *catalog.Table) string {
	if c := t.Options["connector"]; c != "" {
		return c
	}
	return "none"
}

// extColumns are the result columns of an extension statement.
func (st *statement) extColumns() []pgwire.Column {
	switch x := st.ext.(type) {
	case *parser.ShowObjects:
		return showObjectsColumns(x)
	case *parser.Subscribe:
		// A relation or query that does not resolve gets no description;
		// executing the statement reports why.
		if target, err := st.resolveSubscribe(x); err == nil {
			return target.resultColumns()
		}
	case *parser.FetchWithTimeout:
		return st.s.fetchColumns(x.Fetch)
	}
	return nil
}

// executeExt runs a statement that has no Postgres AST.
func (p *portal) executeExt(ctx context.Context, maxRows int, w pgwire.ResultWriter) (string, bool, error) {
	s := p.st.s
	switch x := p.st.ext.(type) {
	case *parser.ShowObjects:
		return "SHOW", false, s.execShowObjects(x, w)
	case *parser.AlterStream:
		tag, err := p.st.execAlterStream(ctx, x, w)
		return tag, false, err
	case *parser.CreateSink:
		tag, err := p.st.execCreateSink(ctx, x, w)
		return tag, false, err
	case *parser.DropSink:
		tag, err := p.st.execDropSink(ctx, x, w)
		return tag, false, err
	case *parser.Subscribe:
		return p.execSubscribe(ctx, x, maxRows, w)
	case *parser.CopySubscribe:
		return "", false, p.st.execCopySubscribe(ctx, x, w)
	case *parser.DeclareSubscribe:
		tag, err := p.st.execDeclareSubscribe(ctx, x)
		return tag, false, err
	case *parser.FetchWithTimeout:
		tag, err := p.st.execFetch(ctx, x.Fetch, x.Timeout, w)
		return tag, false, err
	}
	return "", false, sqlerr.Unsupported("statement not supported yet: %s", firstWord(p.st.text))
}
