package sqllogictest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sample = `# sluice-only
# a comment

statement ok
CREATE TABLE t (a int)

statement error SQLSTATE 42P01 relation "nope" does not exist
SELECT * FROM nope

statement error division by zero
SELECT 1/0

skipif postgresql
onlyif sluice
query IT rowsort label-1
SELECT a, b
FROM t
----
1 x
2 (empty)

query I nosort eventually colnames
SELECT 1 AS one
----
one
1

query error SQLSTATE 22012
SELECT 1/0

query T
SELECT 1 WHERE false

halt

statement ok
SELECT 'after halt'
`

func TestParse(t *testing.T) {
	f, err := Parse("x.slt", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if !f.SluiceOnly {
		t.Error("want SluiceOnly")
	}
	if len(f.Records) != 9 {
		t.Fatalf("got %d records, want 9", len(f.Records))
	}
	r := f.Records
	if r[0].Kind != KindStatement || r[0].SQL != "CREATE TABLE t (a int)" || r[0].ExpectError != nil || r[0].Line != 4 {
		t.Errorf("record 0: %+v", r[0])
	}
	if e := r[1].ExpectError; e == nil || e.Code != "42P01" || e.Pattern.String() != `relation "nope" does not exist` {
		t.Errorf("record 1: %+v", e)
	}
	if e := r[2].ExpectError; e == nil || e.Code != "" || !e.Pattern.MatchString("division by zero") {
		t.Errorf("record 2: %+v", e)
	}
	q := r[3]
	if q.Kind != KindQuery || q.Types != "IT" || q.Sort != RowSort || q.Label != "label-1" ||
		q.SQL != "SELECT a, b\nFROM t" || !slices.Equal(q.Expected, []string{"1 x", "2 (empty)"}) {
		t.Errorf("record 3: %+v", q)
	}
	if !q.RunsOn(EngineSluice) || q.RunsOn(EnginePostgreSQL) {
		t.Errorf("record 3 skipif/onlyif: %v %v", q.SkipIf, q.OnlyIf)
	}
	if !r[4].Eventually || !r[4].ColNames || r[4].Sort != NoSort {
		t.Errorf("record 4: %+v", r[4])
	}
	if r[5].ExpectError == nil || r[5].ExpectError.Code != "22012" || r[5].ExpectError.Pattern != nil {
		t.Errorf("record 5: %+v", r[5].ExpectError)
	}
	if r[6].HasSeparator || len(r[6].Expected) != 0 {
		t.Errorf("record 6: %+v", r[6])
	}
	if r[7].Kind != KindHalt {
		t.Errorf("record 7: %+v", r[7])
	}
}

func TestParseConnection(t *testing.T) {
	f, err := Parse("c.slt", []byte("connection other\n\nstatement ok\nSELECT 1\n\nconnection default\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Records
	if len(r) != 3 || r[0].Kind != KindConnection || r[0].Connection != "other" || r[2].Connection != DefaultConnection {
		t.Errorf("records: %+v", r)
	}
	if _, err := Parse("c.slt", []byte("connection\n")); err == nil {
		t.Error("connection without a name parsed")
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"bogus\n",
		"statement maybe\nSELECT 1\n",
		"statement error SQLSTATE 4201\nSELECT 1\n",
		"statement error (\nSELECT 1\n",
		"statement ok\n\n",
		"query error x\nSELECT 1\n----\n1\n",
		"query I a b\nSELECT 1\n",
		"skipif\nstatement ok\nSELECT 1\n",
		"skipif sluice\n",
	} {
		if _, err := Parse("bad.slt", []byte(in)); err == nil {
			t.Errorf("Parse(%q): want error", in)
		}
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("inc.slt", "statement ok\nSELECT 2\n")
	main := write("main.slt", "statement ok\nSELECT 1\n\ninclude inc.slt\n\nstatement ok\nSELECT 3\n")
	f, err := ParseFile(main)
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, r := range f.Records {
		sqls = append(sqls, r.SQL)
	}
	if !slices.Equal(sqls, []string{"SELECT 1", "SELECT 2", "SELECT 3"}) {
		t.Errorf("got %q", sqls)
	}
	if f.Records[1].Pos() != filepath.Join(dir, "inc.slt")+":1" {
		t.Errorf("included pos %s", f.Records[1].Pos())
	}
	write("loop.slt", "include loop.slt\n")
	if _, err := ParseFile(filepath.Join(dir, "loop.slt")); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("want include cycle error, got %v", err)
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		null bool
		want string
	}{
		{nil, true, "NULL"},
		{[]byte{}, false, "(empty)"},
		{[]byte("abc"), false, "abc"},
		{[]byte("a b  c"), false, "a b  c"},
		{[]byte("ab   "), false, `"ab   "`},
		{[]byte(" x"), false, `" x"`},
		{[]byte("l1\nl2"), false, `"l1\nl2"`},
		{[]byte("a\tb"), false, `"a\tb"`},
		{[]byte(`{"a": 1}`), false, `{"a": 1}`},
		{[]byte("héllo"), false, "héllo"},
		{[]byte{0xff}, false, `"\xff"`},
	} {
		if got := FormatValue(c.in, c.null); got != c.want {
			t.Errorf("FormatValue(%q, %v) = %s, want %s", c.in, c.null, got, c.want)
		}
	}
}

func TestFormatRows(t *testing.T) {
	rows := [][][]byte{
		{[]byte("2"), nil},
		{[]byte("1"), []byte("b c")},
	}
	if got := FormatRows(rows, NoSort); !slices.Equal(got, []string{"2 NULL", "1 b c"}) {
		t.Errorf("nosort: %q", got)
	}
	if got := FormatRows(rows, RowSort); !slices.Equal(got, []string{"1 b c", "2 NULL"}) {
		t.Errorf("rowsort: %q", got)
	}
	if got := FormatRows(rows, ValueSort); !slices.Equal(got, []string{"1", "2", "NULL", "b c"}) {
		t.Errorf("valuesort: %q", got)
	}
	if got := normalizeExpected([]string{"b  ", "a"}, RowSort); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("normalizeExpected: %q", got)
	}
}

func TestDropIgnored(t *testing.T) {
	rows := [][][]byte{
		{[]byte("41"), []byte("1"), nil},
		{[]byte("40"), []byte("-1"), []byte("a")},
	}
	if got := FormatRows(dropIgnored(rows, "_IT"), RowSort); !slices.Equal(got, []string{"-1 a", "1 NULL"}) {
		t.Errorf("_IT: %q", got)
	}
	if got := FormatRows(dropIgnored(rows, "I_T"), NoSort); !slices.Equal(got, []string{"41 NULL", "40 a"}) {
		t.Errorf("I_T: %q", got)
	}
	if got := dropIgnored(rows, "IIT"); &got[0] != &rows[0] {
		t.Errorf("IIT: rows copied")
	}
}

func TestRewriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.slt")
	in := "query I\nSELECT 1\n----\n9\n9\n\nquery T\nSELECT 'x'\n\nstatement ok\nSELECT 2\n"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	err = rewriteFile(f, map[*Record][]string{f.Records[0]: {"1"}, f.Records[1]: {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := "query I\nSELECT 1\n----\n1\n\nquery T\nSELECT 'x'\n----\nx\n\nstatement ok\nSELECT 2\n"
	if string(got) != want {
		t.Errorf("rewrite:\n%s\nwant:\n%s", got, want)
	}
}

func TestMatchError(t *testing.T) {
	spec, err := parseErrorSpec(`SQLSTATE 22012 division`)
	if err != nil {
		t.Fatal(err)
	}
	if msg := matchError(spec, os.ErrNotExist); msg == "" {
		t.Error("non-Postgres error matched a SQLSTATE")
	}
}
