package parser

import (
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"-- just a comment", nil},
		{"/* c */ ; ;", nil},
		{"select 1", []string{"select 1"}},
		{"select 1; select 2;", []string{"select 1", "select 2"}},
		{"select ';'; select $$a;b$$", []string{"select ';'", "select $$a;b$$"}},
		{"select 1 -- x;y\n; select /* ; */ 2", []string{"select 1", "select /* ; */ 2"}},
		{"/* lead */ select 1 /* trail */;", []string{"select 1"}},
		{`select "a;b" from t`, []string{`select "a;b" from t`}},
	} {
		stmts, err := Parse(tc.sql)
		if err != nil {
			t.Fatalf("%q: %v", tc.sql, err)
		}
		var got []string
		for _, s := range stmts {
			got = append(got, s.Text)
			if tc.sql[s.Offset:s.Offset+len(s.Text)] != s.Text {
				t.Errorf("%q: offset %d does not locate %q", tc.sql, s.Offset, s.Text)
			}
			if s.AST == nil {
				t.Errorf("%q: no AST for %q", tc.sql, s.Text)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: got %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		sql string
		msg string
		pos int
	}{
		{"selec 1", `syntax error at or near "selec"`, 1},
		{"select 1 from", `syntax error at end of input`, 14},
		{"select 1; select * frm t", `syntax error at or near "frm"`, 20},
		{"select 'é'; selec 2", `syntax error at or near "selec"`, 13},
		{"select (; select 1", `syntax error at or near ";"`, 9},
		{"select 'abc", `unterminated quoted string at or near "'abc"`, 8},
	} {
		_, err := Parse(tc.sql)
		e, ok := sqlerr.As(err)
		if !ok {
			t.Fatalf("%q: got %v, want a sqlerr", tc.sql, err)
		}
		if e.Code != sqlerr.SyntaxError || e.Message != tc.msg || e.Position != tc.pos {
			t.Errorf("%q: got %s %q at %d, want %q at %d", tc.sql, e.Code, e.Message, e.Position, tc.msg, tc.pos)
		}
	}
}

// streamExt claims statements starting with CREATE STREAM.
type streamExt struct{}

type createStream struct{ name string }

func (streamExt) Match(toks []Token, text string) (Stmt, bool, error) {
	if len(toks) < 3 || !strings.EqualFold(toks[0].Text, "create") || !strings.EqualFold(toks[1].Text, "stream") {
		return nil, false, nil
	}
	if toks[2].Text == "bad" {
		return nil, false, sqlerr.New(sqlerr.SyntaxError, `syntax error at or near "bad"`).At(toks[2].Start + 1)
	}
	return createStream{name: toks[2].Text}, true, nil
}

func TestExtension(t *testing.T) {
	p := &Parser{Extensions: []Extension{streamExt{}}}
	stmts, err := p.Parse("select 1; create stream s (a int); create table t (a int)")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 3 {
		t.Fatalf("got %d statements", len(stmts))
	}
	if cs, ok := stmts[1].Ext.(createStream); !ok || cs.name != "s" || stmts[1].AST != nil {
		t.Errorf("extension statement: %+v", stmts[1])
	}
	if stmts[0].AST == nil || stmts[2].AST == nil || stmts[2].Ext != nil {
		t.Errorf("plain statements: %+v", stmts)
	}
	// Without an extension, CREATE STREAM is a syntax error.
	if _, err := (&Parser{}).Parse("create stream s (a int)"); sqlerr.Code(err) != sqlerr.SyntaxError {
		t.Errorf("default parser: %v", err)
	}
	// Extension errors are positioned in the whole string.
	_, err = p.Parse("select 1; create stream bad")
	if e, ok := sqlerr.As(err); !ok || e.Position != 25 {
		t.Errorf("extension error: %v %+v", err, e)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"select 1; select 2", "select ';' -- ;\n; /* ; */", "select $a$;$a$;;", "select 'unterminated"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, toks, err := Split(sql)
		if err != nil {
			return
		}
		prev := 0
		for i, s := range stmts {
			if s.Offset < prev || s.Offset+len(s.Text) > len(sql) || sql[s.Offset:s.Offset+len(s.Text)] != s.Text {
				t.Fatalf("statement %q at %d does not reassemble within %q", s.Text, s.Offset, sql)
			}
			// NB: not strings.TrimSpace: Postgres' scanner reads Unicode
			// spaces such as U+2000 as identifier characters, as we must.
			if len(toks[i]) == 0 {
				t.Fatalf("statement without tokens from %q", sql)
			}
			prev = s.Offset + len(s.Text)
		}
		_, _ = Parse(sql) // must not panic
	})
}
