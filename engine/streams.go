package engine

import (
	"context"
	"sort"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/parser"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sqlerr"
)

// streamOptionNames are the WITH options CREATE STREAM accepts.
var streamOptionNames = map[string]bool{"connector": true}

// streamOptions validates a CREATE STREAM's WITH options.
func streamOptions(defs []*pg.Node, st *statement) (map[string]string, error) {
	opts, err := withOptions(defs, st, "stream", streamOptionNames)
	if err != nil {
		return nil, err
	}
	if opts["connector"] == "" {
		opts["connector"] = "none"
	}
	switch opts["connector"] {
	case "none":
	default:
		return nil, sqlerr.Unsupported("stream connector \"%s\" is not available", opts["connector"]).
			WithHint("Streams fed by INSERT, COPY and HTTP push use connector = 'none'.")
	}
	return opts, nil
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
			known := make([]string, 0, len(valid))
			for k := range valid {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized %s option \"%s\"", kind, d.Defname).
				WithHint("Valid options are: %s.", strings.Join(known, ", ")).At(st.pos(d.Location))
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
