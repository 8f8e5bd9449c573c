package types

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sqlerr"
)

// Names resolves the names behind the OID alias types regclass, regproc,
// regprocedure, regnamespace and regrole: their text input looks a name up
// and their text output prints one. The catalog implements it; a Config
// without Names reads those types only as numbers and prints them as
// numbers. regtype needs no Names: the types are this package's.
type Names interface {
	// OidOf returns the OID of the object of kind t named s, written as in SQL
	// (possibly schema-qualified and double-quoted), or Postgres' error for a
	// name that does not exist.
	OidOf(t *T, s string) (uint32, error)
	// NameOf returns the text form of oid as a t, qualified by its schema
	// when the search path would not find it; false prints the number.
	NameOf(t *T, oid uint32) (string, bool)
}

// appendReg appends the text output of an OID alias type.
func appendReg(buf []byte, t *T, oid uint32, cfg *Config) []byte {
	if oid == 0 && t.Oid != OidOid && t.IsReg() {
		return append(buf, '-') // Postgres prints InvalidOid as "-"
	}
	switch {
	case t.Oid == OidRegtype:
		if name := FormatType(oid, -1, false); name != "???" {
			return append(buf, name...)
		}
	case t.IsReg() && cfg.Names != nil:
		if s, ok := cfg.Names.NameOf(t, oid); ok {
			return append(buf, s...)
		}
	}
	return strconv.AppendUint(buf, uint64(oid), 10)
}

// parseReg parses the text input of an OID alias type: a number, or a name.
func parseReg(t *T, s string, cfg *Config) (Datum, error) {
	trimmed := strings.TrimSpace(s)
	if trimmed == "-" {
		return int64(0), nil
	}
	if trimmed != "" && (trimmed[0] >= '0' && trimmed[0] <= '9') {
		return parseOid(t, s)
	}
	if t.Oid == OidRegtype {
		typ, err := ParseTypeName(trimmed)
		if err != nil {
			return nil, err
		}
		return int64(typ.Oid), nil
	}
	if cfg.Names == nil {
		return nil, errInvalidSyntax(t.String(), s)
	}
	oid, err := cfg.Names.OidOf(t, trimmed)
	if err != nil {
		return nil, err
	}
	return int64(oid), nil
}

// ParseTypeName resolves a type name as regtype's input and format_type's
// output spell it: "integer", "int4", "pg_catalog.int4", "character
// varying(10)" (the typmod is ignored), "text[]", "\"char\"".
func ParseTypeName(s string) (*T, error) {
	name := strings.TrimSpace(s)
	array := false
	if strings.HasSuffix(name, "[]") {
		array, name = true, strings.TrimSpace(strings.TrimSuffix(name, "[]"))
	}
	if i := strings.IndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
		name = strings.TrimSpace(name[:i])
	}
	name = strings.TrimPrefix(name, "pg_catalog.")
	var t *T
	if name == `"char"` {
		t = QChar
	} else if strings.HasPrefix(name, `"`) && strings.HasSuffix(name, `"`) && len(name) > 1 {
		t = ByName(name[1 : len(name)-1])
	} else {
		t = ByName(strings.Join(strings.Fields(strings.ToLower(name)), " "))
	}
	if t == nil {
		for oid, n := range pseudoTypes {
			if n == name || n == `"`+name+`"` {
				t = &T{Family: UnknownFamily, Oid: oid}
			}
		}
	}
	if t == nil || t.Family == UnknownFamily && name != "unknown" && pseudoTypes[t.Oid] == "" {
		return nil, sqlerr.New(sqlerr.UndefinedObject, "type \"%s\" does not exist", strings.TrimSpace(s))
	}
	if array {
		t = ArrayOf(t)
	}
	return t, nil
}

// FormatType prints a type as Postgres' format_type(oid, typmod) does;
// typmodGiven is false for format_type(oid, NULL) and regtype output. An
// unknown OID prints "???".
func FormatType(oid uint32, typmod int32, typmodGiven bool) string {
	t := ByOid(oid)
	if t == nil {
		if n, ok := pseudoTypes[oid]; ok {
			return n
		}
		return "???"
	}
	if t.Family == ArrayFamily && !t.IsVector() {
		return FormatType(t.Elem.Oid, typmod, typmodGiven) + "[]"
	}
	withTypmod := typmodGiven && typmod >= 0
	switch oid {
	case OidBPChar:
		switch {
		case withTypmod:
			return fmt.Sprintf("character(%d)", typmod-4)
		case typmodGiven:
			return "bpchar" // bpchar without a length is not character(1)
		}
		return "character"
	case OidVarchar:
		if withTypmod {
			return fmt.Sprintf("character varying(%d)", typmod-4)
		}
		return "character varying"
	case OidNumeric:
		if withTypmod {
			m := typmod - 4
			return fmt.Sprintf("numeric(%d,%d)", (m>>16)&0xffff, m&0xffff)
		}
		return "numeric"
	}
	return t.String()
}

// appendVector appends the text form of an int2vector or oidvector.
func appendVector(buf []byte, a *Array) []byte {
	for i, e := range a.Elems {
		if i > 0 {
			buf = append(buf, ' ')
		}
		if v, ok := e.(int64); ok {
			buf = strconv.AppendInt(buf, v, 10)
		}
	}
	return buf
}

// parseVector parses an int2vector or oidvector: numbers separated by spaces.
func parseVector(t *T, s string) (Datum, error) {
	a := &Array{Elem: t.Elem, Elems: []Datum{}}
	for _, f := range strings.Fields(s) {
		var (
			d   Datum
			err error
		)
		if t.Elem.Family == OidFamily {
			d, err = parseOid(t.Elem, f)
		} else {
			d, err = parseInt(t.Elem, f)
		}
		if err != nil {
			return nil, err
		}
		a.Elems = append(a.Elems, d)
	}
	return a, nil
}

// pseudoTypes are the pseudo-types of function signatures (no value has
// one), by OID, as format_type prints them.
var pseudoTypes = map[uint32]string{
	2249: "record", 2275: "cstring", 2276: "\"any\"", 2277: "anyarray", 2278: "void",
	2279: "trigger", 2281: "internal", 2283: "anyelement", 2776: "anynonarray",
}

// PseudoTypes returns the OIDs of the pseudo-types FormatType knows, in
// order.
func PseudoTypes() []uint32 {
	out := make([]uint32, 0, len(pseudoTypes))
	for oid := range pseudoTypes {
		out = append(out, oid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
