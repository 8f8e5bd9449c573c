package types

import (
	"testing"

	"github.com/sluice-db/sluice/sqlerr"
)

// TestFormatType checks format_type against what PostgreSQL 15 prints.
func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		given  bool
		want   string
	}{
		{OidVarchar, -1, false, "character varying"},
		{OidVarchar, -1, true, "character varying"},
		{OidVarchar, 14, true, "character varying(10)"},
		{OidBPChar, -1, false, "character"},
		{OidBPChar, -1, true, "bpchar"},
		{OidBPChar, 9, true, "character(5)"},
		{OidNumeric, -1, false, "numeric"},
		{OidNumeric, 655366, true, "numeric(10,2)"},
		{OidTextArray, -1, false, "text[]"},
		{OidVarcharArray, 14, true, "character varying(10)[]"},
		{OidBPCharArray, -1, true, "bpchar[]"},
		{OidChar, -1, false, `"char"`},
		{2276, -1, false, `"any"`},
		{99999, -1, false, "???"},
		{OidInt2Vector, -1, false, "int2vector"},
		{OidTimestampTZ, -1, true, "timestamp with time zone"},
	} {
		if got := FormatType(c.oid, c.typmod, c.given); got != c.want {
			t.Errorf("FormatType(%d, %d, %v) = %q, want %q", c.oid, c.typmod, c.given, got, c.want)
		}
	}
}

// TestRegtypeText checks regtype input and output against PostgreSQL 15.
func TestRegtypeText(t *testing.T) {
	for in, want := range map[string]string{
		"int4": "integer", "pg_catalog.int4": "integer", "character varying(10)": "character varying",
		`"char"`: `"char"`, "int4[]": "integer[]", "trigger": "trigger", "double precision": "double precision",
		"INTEGER": "integer", "0": "-", "-": "-", "25": "text",
	} {
		d, err := ParseText(Regtype, in, nil)
		if err != nil {
			t.Errorf("regtype %q: %v", in, err)
			continue
		}
		if got := FormatText(Regtype, d, nil); got != want {
			t.Errorf("regtype %q prints %q, want %q", in, got, want)
		}
	}
	if _, err := ParseText(Regtype, "nosuchtype", nil); sqlerr.Code(err) != sqlerr.UndefinedObject {
		t.Errorf("regtype nosuchtype: %v, want 42704", err)
	}
}

type fakeNames map[string]uint32

func (f fakeNames) OidOf(_ *T, s string) (uint32, error) {
	if oid, ok := f[s]; ok {
		return oid, nil
	}
	return 0, sqlerr.New(sqlerr.UndefinedTable, "relation \"%s\" does not exist", s)
}

func (f fakeNames) NameOf(_ *T, oid uint32) (string, bool) {
	for k, v := range f {
		if v == oid {
			return k, true
		}
	}
	return "", false
}

// TestRegclassNames checks that regclass reads and prints through Names,
// and as numbers without it.
func TestRegclassNames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Names = fakeNames{"rides": 16384}
	d, err := ParseText(Regclass, "rides", cfg)
	if err != nil || d.(int64) != 16384 {
		t.Fatalf("regclass 'rides' = %v, %v", d, err)
	}
	if got := FormatText(Regclass, int64(16384), cfg); got != "rides" {
		t.Errorf("regclass 16384 prints %q", got)
	}
	if got := FormatText(Regclass, int64(99), cfg); got != "99" {
		t.Errorf("unknown regclass 99 prints %q", got)
	}
	if got := FormatText(Regclass, int64(0), cfg); got != "-" {
		t.Errorf("regclass 0 prints %q", got)
	}
	if _, err := ParseText(Regclass, "nope", cfg); sqlerr.Code(err) != sqlerr.UndefinedTable {
		t.Errorf("regclass 'nope': %v", err)
	}
	if _, err := ParseText(Regclass, "rides", nil); sqlerr.Code(err) != sqlerr.InvalidTextRepresentation {
		t.Errorf("regclass without Names: %v", err)
	}
	if got := FormatText(Regclass, int64(16384), nil); got != "16384" {
		t.Errorf("regclass without Names prints %q", got)
	}
}

// TestVectorText checks int2vector and oidvector: space-separated text.
func TestVectorText(t *testing.T) {
	d, err := ParseText(Int2Vector, " 1 3  2 ", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatText(Int2Vector, d, nil); got != "1 3 2" {
		t.Errorf("int2vector prints %q", got)
	}
	if got := FormatText(OidVector, &Array{Elem: Oid, Elems: []Datum{}}, nil); got != "" {
		t.Errorf("empty oidvector prints %q", got)
	}
	if _, err := ParseText(Int2Vector, "1 x", nil); err == nil {
		t.Error("int2vector '1 x' parsed")
	}
	if ByOid(OidInt2Vector) != Int2Vector || ByName("oidvector") != OidVector || ByOid(OidCharArray).Elem != QChar {
		t.Error("vector and \"char\"[] types do not resolve")
	}
}
