package parser

import (
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
)

func TestStreamingStatements(t *testing.T) {
	p := Default
	stmts, err := p.Parse(`CREATE STREAM rides (id int, city text) WITH (connector = 'none');
		DROP STREAM IF EXISTS a, b CASCADE; SHOW STREAMS; show materialized views;
		SUBSCRIBE TO v WITH (snapshot = false); SUBSCRIBE (SELECT a FROM t WHERE a > 1);
		COPY (SUBSCRIBE public.v) TO STDOUT WITH (FORMAT csv);
		DECLARE c CURSOR FOR SUBSCRIBE v; FETCH 10 c WITH (timeout = '1s'); FETCH 10 c`)
	if err != nil {
		t.Fatal(err)
	}
	cs := stmts[0].Ext.(*CreateStream)
	if cs.Create.Relation.Relname != "rides" || len(cs.Create.TableElts) != 2 || len(cs.Create.Options) != 1 {
		t.Errorf("create stream: %+v", cs.Create)
	}
	ds := stmts[1].Ext.(*DropStream)
	if len(ds.Drop.Objects) != 2 || !ds.Drop.MissingOk {
		t.Errorf("drop stream: %+v", ds.Drop)
	}
	if s := stmts[2].Ext.(*ShowObjects); s.Kind != "streams" {
		t.Errorf("show: %+v", s)
	}
	if s := stmts[3].Ext.(*ShowObjects); s.Kind != "materialized views" {
		t.Errorf("show: %+v", s)
	}
	if s := stmts[4].Ext.(*Subscribe); s.Name.Relname != "v" || s.Options["snapshot"] != "false" {
		t.Errorf("subscribe: %+v", s)
	}
	if s := stmts[5].Ext.(*Subscribe); s.Query == nil || s.Name != nil {
		t.Errorf("subscribe query: %+v", s)
	}
	if s := stmts[6].Ext.(*CopySubscribe); s.Subscribe.Name.Schemaname != "public" || s.Options["format"] != "csv" {
		t.Errorf("copy subscribe: %+v %+v", s, s.Subscribe.Name)
	}
	if s := stmts[7].Ext.(*DeclareSubscribe); s.Cursor != "c" || s.Subscribe.Name.Relname != "v" || s.Hold {
		t.Errorf("declare: %+v", s)
	}
	if s := stmts[8].Ext.(*FetchWithTimeout); s.Timeout != "1s" || s.Fetch.HowMany != 10 {
		t.Errorf("fetch: %+v", s)
	}
	if stmts[9].AST == nil {
		t.Errorf("plain FETCH should be Postgres': %+v", stmts[9])
	}
}

func TestStreamingErrors(t *testing.T) {
	for _, tc := range []struct {
		sql string
		pos int
	}{
		{"CREATE STREAM s (a int", 23},
		{"CREATE STREAM s (a int, b)", 26},
		{"SUBSCRIBE", 10},
		{"SUBSCRIBE v WITH (x = )", 23},
		{"SUBSCRIBE (SELECT FROM WHERE)", 24},
		{"select 1; SUBSCRIBE v extra", 23},
	} {
		_, err := Default.Parse(tc.sql)
		e, ok := sqlerr.As(err)
		if !ok || e.Code != sqlerr.SyntaxError || e.Position != tc.pos {
			t.Errorf("%q: got %v (pos %d), want 42601 at %d", tc.sql, err, func() int {
				if ok {
					return e.Position
				}
				return -1
			}(), tc.pos)
		}
	}
}

// TestStreamingIdentifiers checks that the names the streaming statements
// read agree with PostgreSQL's for the same identifier: quoted ones are kept
// as written, unquoted ones have their ASCII letters lowercased. A cursor
// DECLAREd here is FETCHed and CLOSEd through PostgreSQL's grammar.
func TestStreamingIdentifiers(t *testing.T) {
	for _, ident := range []string{`c`, `MyCur`, `"MyCur"`, `"my cur"`, `"a""b"`, `ÉtÉ`, `"ÉtÉ"`} {
		stmts, err := Default.Parse("DECLARE " + ident + " CURSOR FOR SUBSCRIBE " + ident + "." + ident + "; FETCH 1 " + ident)
		if err != nil {
			t.Fatalf("%s: %v", ident, err)
		}
		want := stmts[1].AST.GetFetchStmt().Portalname
		d := stmts[0].Ext.(*DeclareSubscribe)
		if d.Cursor != want || d.Subscribe.Name.Schemaname != want || d.Subscribe.Name.Relname != want {
			t.Errorf("%s: DECLARE %q, SUBSCRIBE %q.%q; PostgreSQL reads %q", ident, d.Cursor, d.Subscribe.Name.Schemaname, d.Subscribe.Name.Relname, want)
		}
	}
}

func TestDeclareWithHold(t *testing.T) {
	stmts, err := Default.Parse("DECLARE c NO SCROLL CURSOR WITH HOLD FOR SUBSCRIBE v; DECLARE hold CURSOR WITHOUT HOLD FOR SUBSCRIBE v")
	if err != nil {
		t.Fatal(err)
	}
	if d := stmts[0].Ext.(*DeclareSubscribe); !d.Hold {
		t.Errorf("WITH HOLD: %+v", d)
	}
	if d := stmts[1].Ext.(*DeclareSubscribe); d.Hold || d.Cursor != "hold" {
		t.Errorf("WITHOUT HOLD: %+v", d)
	}
}

// FuzzStreaming feeds the streaming extensions arbitrary text: parsing may
// fail, with a positioned SQL error, but never panics, and an error's
// position lies within the input.
func FuzzStreaming(f *testing.F) {
	for _, s := range []string{
		"CREATE STREAM s (a int, b text) WITH (connector = 'none')",
		"DROP STREAM IF EXISTS s, t CASCADE",
		"SHOW STREAMS", "SHOW MATERIALIZED VIEWS",
		"SUBSCRIBE TO v WITH (snapshot = false)",
		"SUBSCRIBE (SELECT a FROM s WHERE a > 1)",
		"COPY (SUBSCRIBE v) TO STDOUT",
		"DECLARE c CURSOR FOR SUBSCRIBE \"V\"",
		"FETCH 10 c WITH (timeout = '1s')",
		"FETCH ALL FROM c WITH (timeout = ",
		"create stream (",
		"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '5 seconds') WITH (allowed_lateness = '1 s')",
		"CREATE STREAM s (WATERMARK FOR ts AS ts, ts timestamp, c text PATH '$.a')",
		"SHOW WATERMARKS",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		_, err := Default.Parse(sql)
		if err == nil {
			return
		}
		e, ok := sqlerr.As(err)
		if !ok {
			t.Fatalf("%q: error without SQLSTATE: %v", sql, err)
		}
		if e.Position < 0 || e.Position > len([]rune(sql))+1 {
			t.Fatalf("%q: error position %d outside the input: %v", sql, e.Position, err)
		}
	})
}

func TestWatermarkFor(t *testing.T) {
	for _, tc := range []struct {
		sql       string
		col, wait string
		colPos    int // 1-based
		cols      int
	}{
		{"CREATE STREAM s (id int, ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')", "ts", "5 seconds", 56, 2},
		{"CREATE STREAM s (WATERMARK FOR ts AS ts, ts timestamptz)", "ts", "", 32, 1},
		{"CREATE STREAM s (ts timestamptz, watermark for \"TS\" as \"TS\" - '1 min'::interval, x text) WITH (allowed_lateness = '1s')", "TS", "1 min", 48, 2},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '2 s', PATH text PATH '$.a')", "ts", "2 s", 48, 2},
		{"CREATE STREAM s (watermark timestamptz, WATERMARK FOR watermark AS watermark)", "watermark", "", 55, 1},
	} {
		stmts, err := Default.Parse(tc.sql)
		if err != nil {
			t.Errorf("%q: %v", tc.sql, err)
			continue
		}
		cs := stmts[0].Ext.(*CreateStream)
		wm := cs.Watermark
		if wm == nil || wm.Column != tc.col || wm.Delay != tc.wait || int(wm.ColumnLoc)+1 != tc.colPos || len(cs.Create.TableElts) != tc.cols {
			t.Errorf("%q: %+v, %d columns", tc.sql, wm, len(cs.Create.TableElts))
		}
		if wm != nil && wm.Delay != "" && tc.sql[wm.DelayLoc] != '\'' {
			t.Errorf("%q: delay location %d", tc.sql, wm.DelayLoc)
		}
	}
	stmts, err := Default.Parse("CREATE STREAM s (ts timestamptz, city text PATH '$.a.city') WITH (connector = 'kafka')")
	if err != nil || stmts[0].Ext.(*CreateStream).Watermark != nil || stmts[0].Ext.(*CreateStream).Paths["city"] != "$.a.city" {
		t.Errorf("no watermark: %v", err)
	}
}

func TestWatermarkForErrors(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		code string
		pos  int
	}{
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts)", sqlerr.SyntaxError, 50},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS)", sqlerr.SyntaxError, 53},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts -)", sqlerr.SyntaxError, 58},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts + INTERVAL '1s')", sqlerr.FeatureNotSupported, 57},
		{"CREATE STREAM s (ts timestamptz, t2 timestamptz, WATERMARK FOR ts AS t2 - INTERVAL '1s')", sqlerr.FeatureNotSupported, 70},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - now())", sqlerr.FeatureNotSupported, 57},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE)", sqlerr.FeatureNotSupported, 57},
		{"CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)", sqlerr.InvalidTableDefinition, 58},
		{"select 1; CREATE STREAM s (ts timestamptz, WATERMARK FOR ts AS ts * 2)", sqlerr.FeatureNotSupported, 67},
	} {
		_, err := Default.Parse(tc.sql)
		e, ok := sqlerr.As(err)
		if !ok || e.Code != tc.code || e.Position != tc.pos {
			t.Errorf("%q: got %v (%+v), want %s at %d", tc.sql, err, e, tc.code, tc.pos)
		}
		if ok && e.Code == sqlerr.FeatureNotSupported && e.Hint == "" {
			t.Errorf("%q: no hint", tc.sql)
		}
	}
}

func TestViewEmit(t *testing.T) {
	stmts, err := Default.Parse(`CREATE MATERIALIZED VIEW v AS SELECT window_end, count(*) FROM TUMBLE(s, ts, INTERVAL '1 minute') GROUP BY window_end EMIT ON WINDOW CLOSE;
		create materialized view w with (key = 'a') as select a from t emit changes;
		EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT ON WINDOW CLOSE;
		CREATE MATERIALIZED VIEW x AS SELECT a AS emit FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	if e := stmts[0].Ext.(*ViewEmit); !e.OnWindowClose || e.AST.GetCreateTableAsStmt().Into.Rel.Relname != "v" {
		t.Errorf("EMIT ON WINDOW CLOSE: %+v", e)
	}
	if e := stmts[1].Ext.(*ViewEmit); e.OnWindowClose || len(e.AST.GetCreateTableAsStmt().Into.Options) != 1 {
		t.Errorf("EMIT CHANGES: %+v", e)
	}
	if e := stmts[2].Ext.(*ViewEmit); !e.OnWindowClose || e.AST.GetExplainStmt().Query.GetCreateTableAsStmt() == nil {
		t.Errorf("EXPLAIN … EMIT ON WINDOW CLOSE: %+v", e)
	}
	if stmts[3].AST == nil {
		t.Errorf("a view without EMIT is Postgres': %+v", stmts[3])
	}
	_, err = Default.Parse("CREATE MATERIALIZED VIEW v AS SELECT FROM WHERE EMIT ON WINDOW CLOSE")
	if se, ok := sqlerr.As(err); !ok || se.Code != sqlerr.SyntaxError || se.Position != 43 {
		t.Errorf("syntax error: %v at %d", err, se.Position)
	}
}

func TestSinkStatements(t *testing.T) {
	stmts, err := Default.Parse(`CREATE SINK s FROM public.v WITH (connector = 'kafka', topic = 'out', key = (city, "Day"));
		CREATE SINK IF NOT EXISTS q FROM (SELECT a FROM t WHERE a > 1) WITH (topic = 'q');
		DROP SINK IF EXISTS s, x.q; SHOW SINKS`)
	if err != nil {
		t.Fatal(err)
	}
	cs := stmts[0].Ext.(*CreateSink)
	if cs.Name.Relname != "s" || cs.From.Schemaname != "public" || cs.From.Relname != "v" || cs.Query != nil ||
		cs.Options["topic"] != "out" || cs.Options["key"] != `city, "Day"` {
		t.Errorf("create sink: %+v %+v", cs, cs.Options)
	}
	q := stmts[1].Ext.(*CreateSink)
	if !q.IfNotExists || q.From != nil || q.Query == nil || q.QueryText != "SELECT a FROM t WHERE a > 1" {
		t.Errorf("create sink from query: %+v", q)
	}
	ds := stmts[2].Ext.(*DropSink)
	if !ds.IfExists || len(ds.Names) != 2 || ds.Names[1].Schemaname != "x" {
		t.Errorf("drop sink: %+v", ds)
	}
	if s := stmts[3].Ext.(*ShowObjects); s.Kind != "sinks" {
		t.Errorf("show sinks: %+v", s)
	}
	for _, sql := range []string{"CREATE SINK s", "CREATE SINK s FROM", "CREATE SINK s FROM (SELECT 1", "DROP SINK", "CREATE SINK s FROM v WITH (key = (a, b)"} {
		if _, err := Default.Parse(sql); err == nil {
			t.Errorf("%s: no error", sql)
		}
	}
}
