package types

import "testing"

func mustJSON(t *testing.T, s string) JSONValue {
	t.Helper()
	v, err := ParseJSON(s)
	if err != nil {
		t.Fatalf("ParseJSON(%q): %v", s, err)
	}
	return v
}

func TestJSONHelpers(t *testing.T) {
	doc := mustJSON(t, `{"a": {"b": [10, "x", null, {"c": true}]}, "n": 1.50, "s": "hi\n"}`)
	if got := FormatJSONB(doc); got != `{"a": {"b": [10, "x", null, {"c": true}]}, "n": 1.50, "s": "hi\n"}` {
		t.Errorf("FormatJSONB = %s", got)
	}
	get := func(path ...string) string {
		v, ok := doc.Path(path)
		if !ok {
			return "<none>"
		}
		return v.String()
	}
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"a", "b", "0"}, "10"},
		{[]string{"a", "b", "-1"}, `{"c": true}`},
		{[]string{"a", "b", "3", "c"}, "true"},
		{[]string{"a", "b", "9"}, "<none>"},
		{[]string{"a", "x"}, "<none>"},
		{[]string{"n"}, "1.50"},
		{nil, FormatJSONB(doc)},
	} {
		if got := get(c.path...); got != c.want {
			t.Errorf("Path(%v) = %s, want %s", c.path, got, c.want)
		}
	}
	if s, ok := mustJSON(t, `"a\"b"`).Text(); !ok || s != `a"b` {
		t.Errorf("->> of string = %q %v", s, ok)
	}
	if _, ok := mustJSON(t, `null`).Text(); ok {
		t.Errorf("->> of null should be SQL NULL")
	}
	if s, _ := mustJSON(t, `[1, 2]`).Text(); s != "[1, 2]" {
		t.Errorf("->> of array = %q", s)
	}
	if v, ok := mustJSON(t, `{"a":1}`).Index(0); ok {
		t.Errorf("Index on object = %v", v)
	}
	if v, ok := mustJSON(t, `[1,2]`).Field("a"); ok {
		t.Errorf("Field on array = %v", v)
	}
}

func TestJSONContains(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":2}`, `{"a":1}`, true},
		{`{"a":1}`, `{"a":1,"b":2}`, false},
		{`{"a":{"b":1,"c":2}}`, `{"a":{"b":1}}`, true},
		{`{"a":[1,2,3]}`, `{"a":[3,1]}`, true},
		{`{"a":[1,2,3]}`, `{"a":[4]}`, false},
		{`[1,2,[1,3]]`, `[[1]]`, true},
		{`[1,2,[1,3]]`, `[1,1]`, true},
		{`[1,2]`, `1`, true},
		{`[1,2]`, `3`, false},
		{`1`, `[1]`, false},
		{`"foo"`, `"foo"`, true},
		{`{"a":1.0}`, `{"a":1}`, true},
		{`[{"a":1,"b":2}]`, `[{"a":1}]`, true},
		{`{"a":[1]}`, `{"a":1}`, false},
		{`[]`, `[]`, true},
		{`{}`, `{}`, true},
		{`{"a":1}`, `[]`, false},
	}
	for _, c := range cases {
		if got := mustJSON(t, c.a).Contains(mustJSON(t, c.b)); got != c.want {
			t.Errorf("%s @> %s = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
