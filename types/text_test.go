package types

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
)

// testType resolves the type names used in testdata files.
func testType(t *testing.T, name string) *T {
	t.Helper()
	if strings.HasSuffix(name, "[]") {
		return ArrayOf(testType(t, strings.TrimSuffix(name, "[]")))
	}
	if i := strings.IndexByte(name, '('); i >= 0 {
		base := ByName(name[:i])
		var p, s int32
		args := strings.Split(strings.TrimSuffix(name[i+1:], ")"), ",")
		for _, c := range args[0] {
			p = p*10 + int32(c-'0')
		}
		if len(args) > 1 {
			for _, c := range args[1] {
				s = s*10 + int32(c-'0')
			}
		}
		cp := *base
		cp.Width, cp.Scale = p, s
		return &cp
	}
	typ := ByName(name)
	if typ == nil {
		t.Fatalf("unknown type %q", name)
	}
	return typ
}

func errString(err error) string {
	e, ok := sqlerr.As(err)
	if !ok {
		return "ERROR XX000 " + err.Error()
	}
	s := "ERROR " + e.Code + " " + e.Message
	if e.Detail != "" {
		s += " DETAIL " + e.Detail
	}
	return s
}

// TestTextInputGolden checks ParseText + AppendText against outputs recorded
// from PostgreSQL (testdata/text_input.tsv: type, input, output or error;
// TimeZone UTC, DateStyle ISO, MDY).
func TestTextInputGolden(t *testing.T) {
	f, err := os.Open("testdata/text_input.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := DefaultConfig()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		typ := testType(t, parts[0])
		d, err := ParseText(typ, parts[1], cfg)
		var got string
		if err != nil {
			got = errString(err)
		} else {
			got = string(AppendText(nil, typ, d, cfg))
		}
		if got != parts[2] {
			t.Errorf("%s %q: got %q, want %q", parts[0], parts[1], got, parts[2])
		}
	}
}
