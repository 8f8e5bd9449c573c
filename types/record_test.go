package types

import (
	"encoding/hex"
	"testing"
)

// A record prints as record_out does, sends as record_send does, and
// orders field by field.
func TestRecord(t *testing.T) {
	rt := RecordOf(Field{Name: "x", Typ: Text}, Field{Name: "n", Typ: Int4})
	cases := []struct {
		fields    []Datum
		text, bin string
	}{
		{[]Datum{"a", int64(1)}, "(a,1)", "00000002" + "00000019" + "00000001" + "61" + "00000017" + "00000004" + "00000001"},
		{[]Datum{"b c", int64(2)}, `("b c",2)`, "00000002" + "00000019" + "00000003" + "622063" + "00000017" + "00000004" + "00000002"},
		{[]Datum{`q"\`, nil}, `("q""\\",)`, "00000002" + "00000019" + "00000003" + "71225c" + "00000017" + "ffffffff"},
		{[]Datum{"", int64(3)}, `("",3)`, "00000002" + "00000019" + "00000000" + "00000017" + "00000004" + "00000003"},
	}
	for _, c := range cases {
		r := &Array{Elems: c.fields}
		if got := FormatText(rt, r, nil); got != c.text {
			t.Errorf("%v: text %s, want %s", c.fields, got, c.text)
		}
		b, err := AppendBinary(nil, rt, r)
		if err != nil || hex.EncodeToString(b) != c.bin {
			t.Errorf("%v: binary %x %v, want %s", c.fields, b, err, c.bin)
		}
	}
	a, b := &Array{Elems: []Datum{"a", int64(2)}}, &Array{Elems: []Datum{"a", int64(10)}}
	if Compare(rt, a, b) >= 0 || Compare(rt, b, a) <= 0 || Compare(rt, a, a) != 0 {
		t.Error("records do not order by their fields")
	}
	if !rt.Equal(RecordOf(Field{Name: "x", Typ: Text}, Field{Name: "n", Typ: Int4})) || rt.Equal(RecordOf(Field{Name: "x", Typ: Text})) {
		t.Error("record types compare by their fields")
	}
	if _, err := ParseText(rt, "(a,1)", nil); err == nil {
		t.Error("record text input accepted")
	}
}
